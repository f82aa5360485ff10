// Rates from two snapshots of the same queue taken some time apart:
// (counter_after - counter_before) / elapsed. Counters only grow while a
// region lives; a counter that went backwards (queue recreated under the same
// name, or a group deleted and re-made) yields 0, never a negative rate.
#pragma once

#include <string>
#include <vector>

#include "shmq/internal/inspect.hpp"

namespace shmq::cli {

struct PartitionRates {
    double published_per_s = 0, acked_per_s = 0;
};

struct GroupRates {
    std::string name;
    double delivered_per_s = 0, acked_per_s = 0;
    std::vector<PartitionRates> partitions;  // acked_per_s only; published is the partition's
};

struct QueueRates {
    uint64_t interval_ms = 0;  // 0: not sampled (every rate 0)
    double published_per_s = 0, acked_per_s = 0;
    std::vector<PartitionRates> partitions;
    std::vector<GroupRates> groups;  // in the order of `after.groups`

    const GroupRates* group(const std::string& name) const;
};

QueueRates compute_rates(const inspect::QueueSnapshot& before, const inspect::QueueSnapshot& after);
// No sample: the right shape, all zero, interval 0.
QueueRates zero_rates(const inspect::QueueSnapshot& s);

}  // namespace shmq::cli
