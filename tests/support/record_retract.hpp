// "retract PARTITION OFFSET" lines in consumer record files (worker.cpp: an
// ACK answered lease_lost because the partition was handed over). Both record
// readers (support/processes.hpp, tests/chaos/read_records.cpp) drop the
// record such a line names.
#pragma once

#include <charconv>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

namespace shmq::test {

inline constexpr std::string_view kRetractPrefix = "retract ";

// `what` is "PARTITION OFFSET": removes the latest record of file `file` at
// that place. The file's records are the last ones of `records` while it is
// read. false: malformed, or no such record.
template <class Rec>
bool retract_record(std::vector<Rec>& records, uint32_t file, std::string_view what) {
    auto number = [](std::string_view s, auto& out) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    };
    const auto sp = what.find(' ');
    uint32_t partition = 0;
    uint64_t offset = 0;
    if (sp == std::string_view::npos || !number(what.substr(0, sp), partition) || !number(what.substr(sp + 1), offset))
        return false;
    for (auto it = records.rbegin(); it != records.rend() && it->file == file; ++it)
        if (it->partition == partition && it->offset == offset) {
            records.erase(std::next(it).base());
            return true;
        }
    return false;
}

}  // namespace shmq::test
