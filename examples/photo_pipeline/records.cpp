#include "records.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string_view>

namespace photo_pipeline {

namespace {

template <class T>
void put(std::string& out, T v, char after) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);  // 24 chars hold any 64-bit value
    out.push_back(after);
}

template <class T>
bool get(std::string_view& line, T& v, char after) {
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || p == line.data() || p == line.data() + line.size() || *p != after) return false;
    line.remove_prefix(static_cast<std::size_t>(p - line.data()) + 1);
    return true;
}

}  // namespace

void append_record(std::string& out, const Record& r) {
    put(out, r.id, ' ');
    put(out, r.deliveries, ' ');
    put(out, r.publish_ns, ' ');
    put(out, r.sent_ns, ' ');
    put(out, r.processed_ns, '\n');
}

RecordFile read_records(const std::string& path) {
    RecordFile f;
    std::ifstream in(path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        if (nl == std::string_view::npos) {
            ++f.torn;
            break;
        }
        std::string_view line = rest.substr(0, nl + 1);  // keeps '\n' as the last field's terminator
        rest.remove_prefix(nl + 1);
        Record r;
        if (get(line, r.id, ' ') && get(line, r.deliveries, ' ') && get(line, r.publish_ns, ' ') &&
            get(line, r.sent_ns, ' ') && get(line, r.processed_ns, '\n') && line.empty())
            f.records.push_back(r);
        else
            ++f.malformed;
    }
    return f;
}

}  // namespace photo_pipeline
