#include "msg_id.hpp"

#include <algorithm>
#include <charconv>
#include <span>

#include "message_key.hpp"
#include "shmq/internal/dedup.hpp"

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

namespace {

constexpr std::string_view kHexPrefix = "hex:";
constexpr std::string_view kRedriveMark = "#redrive-";
constexpr std::string_view kHashPrefix = "fnv128:";

// Ends with `#redrive-<one or more digits>`?
bool has_redrive_suffix(std::string_view id) {
    const auto mark = id.rfind(kRedriveMark);
    if (mark == std::string_view::npos) return false;
    const auto digits = id.substr(mark + kRedriveMark.size());
    return !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool written_verbatim(std::string_view id) {
    return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; }) &&
           !id.starts_with(kHexPrefix) && !has_redrive_suffix(id);
}

}  // namespace

std::string make_dedup_msg_id(std::string_view dedup_id, uint32_t redrives) {
    std::string id;
    if (written_verbatim(dedup_id)) {
        id.assign(dedup_id);
    } else {
        id.assign(kHexPrefix);
        id += to_hex(dedup_id);
    }
    if (redrives != 0) {
        id += kRedriveMark;
        id += std::to_string(redrives);
    }
    return id;
}

std::string dedup_id_from_msg_id(std::string_view msg_id) {
    if (msg_id.starts_with(kHexPrefix)) {
        const auto hex = msg_id.substr(kHexPrefix.size());
        if (auto bytes = from_hex(hex);
            bytes && !bytes->empty() && bytes->size() <= kMaxDedupIdBytes && !written_verbatim(*bytes) && to_hex(*bytes) == hex)
            return *bytes;
    }
    if (msg_id.size() <= kMaxDedupIdBytes && !msg_id.starts_with(kHashPrefix)) return std::string(msg_id);
    const auto h = dedup::content_id({}, std::as_bytes(std::span(msg_id.data(), msg_id.size())));
    std::string id(kHashPrefix);
    id += to_hex(std::string_view(h.data(), h.size()));
    return id;
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
