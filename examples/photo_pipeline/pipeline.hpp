// What the roles agree on: the two consumer groups, where a worker writes,
// and the queue's shape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <shmq/shmq.hpp>

namespace photo_pipeline {

// Fan-out: each group sees every photo; a group's workers compete (shared kind).
struct GroupSpec {
    std::string_view name;
    uint32_t work_divisor;  // fake work per photo: its bytes / work_divisor
};
inline constexpr GroupSpec kGroups[] = {{"resize", 128}, {"moderation", 256}};

inline constexpr std::size_t kBatch = 16;                // messages a worker takes at once
inline constexpr shmq::Millis kNackDelay{10};            // a rejected photo is retried after this
inline constexpr uint32_t kMaxDeliveries = 3;            // then it goes to the DLQ
inline constexpr uint32_t kLeaseMs = 10000;              // without shmqd a dead worker's batch waits this long

inline shmq::QueueOptions queue_options() {
    shmq::QueueOptions o;
    o.partitions = 4;  // key = photo id spreads photos over them
    o.capacity = 4096;
    o.max_message = 128;
    o.lease_ms = kLeaseMs;
    o.max_groups = 4;
    o.max_deliveries = kMaxDeliveries;
    o.dlq_capacity = 64;
    return o;
}

// A worker's files in the run directory: "<group>-<index>.records" (one line
// per processed photo, see records.hpp) and "<group>-<index>.status" (see status.hpp).
inline std::string worker_file(const std::string& dir, std::string_view group, uint32_t index, const char* ext) {
    return dir + "/" + std::string(group) + "-" + std::to_string(index) + ext;
}

}  // namespace photo_pipeline
