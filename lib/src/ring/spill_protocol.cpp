#include "shmq/internal/spill_protocol.hpp"

#include "shmq/internal/participants.hpp"
#include "shmq/internal/reclaim.hpp"

namespace shmq::ring {

SpillClaim try_claim_spill(const detail::Region& r, uint32_t p, uint32_t owner_id, uint64_t token,
                           uint64_t& seq_out) noexcept {
    auto& pc = r.partition(p);
    const RingRef staging = spill_ring(r, p);
    if (!detail::try_owner_lock(pc.spill_lock, token)) return SpillClaim::busy;
    SpillClaim result = SpillClaim::corrupt;
    // Bounded: each pass skips one slot a dead holder left aborted at the tail.
    for (int pass = 0; pass < 2; ++pass) {
        const uint64_t tail = pc.spill_tail.load(std::memory_order_relaxed);  // written only under the lock
        const uint64_t s = layout::spill_seq(tail);
        if (s >= pc.spill_head.load(std::memory_order_acquire) + staging.capacity) {
            result = SpillClaim::full;
            break;
        }
        const uint64_t state = staging.state(s).load(std::memory_order_acquire);
        if (slot_is(state, s) && slot_kind(state) == SlotKind::aborted) {
            // A holder died between its claim and its tail store, and the
            // reaper aborted s: s is done; move on.
            pc.spill_tail.store(tail + 1, std::memory_order_release);
            continue;
        }
        if (!slot_is(state, s - staging.capacity)) break;  // corrupt: lap s - capacity must be finished
        staging.claim(s).store(slot_state(s, SlotKind::claimed, owner_id), std::memory_order_release);
        pc.spill_tail.store(layout::kSpillActive | (s + 1), std::memory_order_release);
        seq_out = s;
        result = SpillClaim::claimed;
        break;
    }
    detail::owner_unlock(pc.spill_lock, token);
    return result;
}

bool try_deactivate_spill(const detail::Region& r, uint32_t p, uint64_t token) noexcept {
    auto& pc = r.partition(p);
    if (!spill_is_active(pc)) return true;
    if (!detail::try_owner_lock(pc.spill_lock, token)) return false;
    const uint64_t tail = pc.spill_tail.load(std::memory_order_relaxed);
    const bool drained = pc.spill_refilled.load(std::memory_order_acquire) == layout::spill_seq(tail);
    if (drained) pc.spill_tail.store(layout::spill_seq(tail), std::memory_order_release);
    detail::owner_unlock(pc.spill_lock, token);
    return drained;
}

}  // namespace shmq::ring
