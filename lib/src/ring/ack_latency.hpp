// Recording into a group's sampled publish -> ACK histogram (layout::AckLatency).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::ring {

constexpr bool ack_latency_sampled(uint64_t offset) noexcept {
    return (offset & (layout::kAckLatencySampleEvery - 1)) == 0;
}

constexpr uint32_t ack_latency_bucket(uint64_t latency_ns) noexcept {
    const auto b = static_cast<uint32_t>(std::bit_width(latency_ns / layout::kAckLatencyFirstBoundNs));
    return std::min(b, layout::kAckLatencyBuckets - 1);
}
static_assert(ack_latency_bucket(0) == 0 && ack_latency_bucket(1023) == 0 && ack_latency_bucket(1024) == 1);
static_assert(ack_latency_bucket(2047) == 1 && ack_latency_bucket(2048) == 2);
static_assert(ack_latency_bucket(UINT64_MAX) == layout::kAckLatencyBuckets - 1);

// Upper bound (exclusive) of bucket b in ns; the last bucket has none (UINT64_MAX).
constexpr uint64_t ack_latency_bound_ns(uint32_t b) noexcept {
    return b + 1 >= layout::kAckLatencyBuckets ? UINT64_MAX : layout::kAckLatencyFirstBoundNs << b;
}

// Called after a successful ACK of a sampled offset. A publish time in the
// future (clock stepped back) counts as 0.
inline void record_ack_latency(layout::AckLatency& h, uint64_t publish_unix_ns) noexcept {
    const uint64_t now = sys::unix_ns();
    const uint64_t latency = now > publish_unix_ns ? now - publish_unix_ns : 0;
    h.buckets[ack_latency_bucket(latency)].fetch_add(1, std::memory_order_relaxed);
    h.sum_ns.fetch_add(latency, std::memory_order_relaxed);
    h.count.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace shmq::ring
