#include "msg_id.hpp"

#include <charconv>

namespace shmq::cli::bridge {

std::string make_msg_id(std::string_view queue, uint64_t epoch, uint32_t partition, uint64_t offset) {
    std::string id(queue);
    id += ':';
    id += std::to_string(epoch);
    id += ':';
    id += std::to_string(partition);
    id += ':';
    id += std::to_string(offset);
    return id;
}

namespace {
template <class T>
bool take_number(std::string_view& s, char end, T& out) {
    const auto stop = end == '\0' ? s.size() : s.find(end);
    if (stop == std::string_view::npos || stop == 0) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + stop, out);
    if (ec != std::errc() || p != s.data() + stop) return false;
    s.remove_prefix(end == '\0' ? stop : stop + 1);
    return true;
}
}  // namespace

std::optional<MsgRef> parse_msg_id(std::string_view id, std::string_view queue, uint64_t epoch) {
    if (id.size() <= queue.size() || id.substr(0, queue.size()) != queue || id[queue.size()] != ':')
        return std::nullopt;
    id.remove_prefix(queue.size() + 1);
    uint64_t e = 0;
    MsgRef ref;
    if (!take_number(id, ':', e) || e != epoch || !take_number(id, ':', ref.partition) ||
        !take_number(id, '\0', ref.offset) || !id.empty())
        return std::nullopt;
    return ref;
}

std::string make_subject(std::string_view prefix, std::string_view queue, uint32_t partition) {
    std::string s(prefix);
    s += '.';
    s += queue;
    s += ".p";
    s += std::to_string(partition);
    return s;
}

}  // namespace shmq::cli::bridge
