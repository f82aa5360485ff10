// Releasing slots every group has finished with (advancing a partition's
// head), and the RingRef views of a region's rings.
#pragma once

#include <cstdint>

#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"

namespace shmq::ring {

inline RingRef partition_ring(const detail::Region& r, uint32_t p) noexcept {
    return RingRef{&r.partition(p).tail, &r.partition(p).head, r.slot_base(p, 0), r.params().slot_size, r.capacity()};
}
// The staging ring of a spilling partition; its tail/head are not RingRef's
// (spill_tail carries the active bit): only commit/abort and the claim-word
// helpers apply to it (shmq/internal/spill_protocol.hpp).
inline RingRef spill_ring(const detail::Region& r, uint32_t p) noexcept {
    return RingRef{nullptr, nullptr, r.spill_slot_base(p, 0), r.params().slot_size, r.spill_capacity()};
}
inline RingRef dlq_ring(const detail::Region& r) noexcept {
    return RingRef{&r.dlq().tail, &r.dlq().head, r.dlq_slot_base(0), r.params().dlq_slot_size,
                   r.params().dlq_capacity};
}

// True when a group of this status holds messages in the partitions.
constexpr bool group_holds(uint64_t state) {
    uint64_t s = layout::group_status(state);
    return s == layout::kGroupActive || s == layout::kGroupJoining;
}

// Advances head of partition p to the smallest floor of the groups that hold
// it, under the partition's reclaim lock (try-lock: if another process holds
// it, it is doing this work). Returns true when head moved. Slots are not touched: room is head + capacity, and a
// producer's commit overwrites the finished lap (shmq/internal/commit_protocol.hpp).
// head is one release store, so a holder killed half-way changed nothing.
bool reclaim(detail::Region& r, uint32_t p, uint64_t token, uint64_t min_batch = 1) noexcept;

// How many freed slots make it worth waking or reclaiming for a waiting
// producer: an eighth of the ring, 1..256.
constexpr uint64_t release_batch(uint64_t capacity) noexcept {
    return capacity / 8 < 1 ? 1 : (capacity / 8 > 256 ? 256 : capacity / 8);
}

}  // namespace shmq::ring
