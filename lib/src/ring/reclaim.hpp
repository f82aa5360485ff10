// Releasing slots every group has finished with (advancing a partition's
// head), and the RingRef views of a region's rings.
#pragma once

#include <cstdint>

#include "region.hpp"
#include "ring/commit_protocol.hpp"

namespace shmq::ring {

inline RingRef partition_ring(const detail::Region& r, uint32_t p) noexcept {
    return RingRef{&r.partition(p).tail, r.slot_base(p, 0), r.params().slot_size, r.capacity()};
}
inline RingRef dlq_ring(const detail::Region& r) noexcept {
    return RingRef{&r.dlq().tail, r.dlq_slot_base(0), r.params().dlq_slot_size, r.params().dlq_capacity};
}

// True when a group of this status holds messages in the partitions.
constexpr bool group_holds(uint64_t state) {
    uint64_t s = layout::group_status(state);
    return s == layout::kGroupActive || s == layout::kGroupJoining;
}

// Advances head of partition p to the smallest floor of the groups that hold
// it, releasing the slots in between, under the partition's reclaim lock
// (try-lock: if another process holds it, it is doing this work). Wakes
// producers waiting for room. Returns true when it released something.
//
// Redo-safety: head is stored only after every slot below it is released,
// so a holder killed half-way leaves head unchanged and the next holder
// releases the same range again (release_slot skips released slots).
bool reclaim(detail::Region& r, uint32_t p, uint64_t token) noexcept;

}  // namespace shmq::ring
