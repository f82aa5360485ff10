// One group's outcome, from its workers' record files and the DLQ: which good
// photos were processed (and how often), which corrupt ones were
// dead-lettered, and the end-to-end latencies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "latency.hpp"
#include "shmq_tool.hpp"

namespace photo_pipeline {

struct Expected {
    uint64_t photos = 0;           // ids 1..photos were sent
    std::vector<uint64_t> corrupt;  // ascending; these must end in the DLQ, once per group
};

struct GroupResult {
    std::string name;
    uint32_t workers = 0;
    uint64_t processed = 0;          // distinct good photos with a record
    uint64_t missing = 0;            // good photos without one: LOST
    std::vector<uint64_t> missing_examples;  // the first few
    uint64_t duplicates = 0;         // records beyond the first of a photo (a worker died between record and ACK)
    uint64_t redelivered = 0;        // records of a delivery after the first
    uint64_t corrupt_processed = 0;  // records of corrupt photos: must be 0
    uint64_t dead_lettered = 0;      // corrupt photos in the DLQ for this group
    uint64_t not_dead_lettered = 0;  // corrupt photos not there: LOST
    uint64_t torn = 0;               // torn last lines (a killed writer), skipped
    uint64_t malformed = 0;          // unparseable lines: must be 0
    uint64_t first_redelivery_ns = 0;  // CLOCK_REALTIME of the first redelivered record; 0: none
    // End to end, to the first record of each good photo:
    Percentiles e2e_sent;     // from the payload's sent= (fine clock): the latency
    Percentiles e2e_publish;  // from Message::publish_unix_ns (coarse clock: whole ticks off)

    uint64_t lost() const { return missing + not_dead_lettered; }
};

// Reads "<dir>/<group>-<i>.records" for i < workers. Without `dlq` (while the
// run is still going) the corrupt photos count as not dead-lettered.
GroupResult tally_group(const std::string& dir, std::string_view group, uint32_t workers, const Expected& expected,
                        const std::vector<DeadLetter>* dlq);

}  // namespace photo_pipeline
