// The journal after shmqd's last (clean) stop, each partition read as
// recovery reads it (read-only): offsets strictly rising (each once), each
// record the message consumers got at that offset, every delivered offset of
// the kept range present, the journal reaching the last delivered offset,
// no corrupt region.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace shmq::chaos {

struct JournalResult {
    uint64_t records = 0;
    uint64_t out_of_order = 0, mismatched = 0, missing = 0, behind = 0, corrupt = 0, unreadable = 0;
    std::vector<std::string> examples;
    uint64_t violations() const { return out_of_order + mismatched + missing + behind + corrupt + unreadable; }
};

// `journal_root`: shmqd's DATA/journal; `by_group`: every group's records.
JournalResult check_journal(const std::string& journal_root, const std::string& queue, uint32_t partitions,
                            const std::vector<std::vector<Rec>>& by_group, const MessageSpace& space);

}  // namespace shmq::chaos
