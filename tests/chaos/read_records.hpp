// The consumers' record files read back, each line checked on its own: well
// formed, a message that was sent, in its key's partition.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace shmq::chaos {

struct RecordFiles {
    std::vector<std::vector<Rec>> by_group = std::vector<std::vector<Rec>>(2);  // index into kGroups
    // Lines left out:
    uint64_t malformed = 0;
    uint64_t torn = 0;        // a last line without its newline: killed during its write(2), never ACKed
    uint64_t unexpected = 0;  // a message never sent
    uint64_t misrouted = 0;   // a key of another seq, or in another partition than its key's
    std::vector<std::string> examples;
};

RecordFiles read_record_files(const std::vector<ConsumerRun>& consumers, const std::vector<ProducerRun>& producers,
                              const MessageSpace& space, uint64_t keys, uint32_t partitions);

}  // namespace shmq::chaos
