// Order. Storage: each message at one offset; per (producer, key) offsets
// rise with the send order. Exclusive group (DESIGN.md promise 3: "within a
// partition, an exclusive group sees messages in offset order; redelivery
// after a crash restarts from the oldest unACKed offset"): (a) each
// consumer receives each partition's offsets in increasing order; (b) the
// group's first deliveries of each partition, in time order, are in offset
// order (a redelivery may go back to the oldest unACKed offset; a first
// delivery may not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace shmq::chaos {

struct StorageOrderResult {
    uint64_t two_offsets = 0;    // messages recorded at two offsets
    uint64_t storage_order = 0;  // (producer, key) offsets not rising with seq
    std::vector<std::string> examples;
};

// `by_group`: every group's records (a message must be at one offset in all).
StorageOrderResult check_storage_order(const std::vector<std::vector<Rec>>& by_group,
                                       const std::vector<ProducerRun>& producers, const MessageSpace& space,
                                       uint64_t keys);

struct ExclusiveOrderResult {
    uint64_t within_consumer = 0;  // (a) offsets not rising within a consumer
    uint64_t first_delivery = 0;   // (b) first deliveries out of offset order
    std::vector<std::string> examples;
};

// `records`: the exclusive group's, each file's contiguous and in its order.
ExclusiveOrderResult check_exclusive_order(const std::vector<Rec>& records, const std::vector<ConsumerRun>& consumers,
                                           const MessageSpace& space, uint32_t partitions);

}  // namespace shmq::chaos
