#include "shmq/internal/commit_protocol.hpp"

namespace shmq::ring {

uint32_t open_claimer(const RingRef& ring, uint64_t offset) noexcept {
    const uint64_t s = ring.state(offset).load(std::memory_order_acquire);
    if (!slot_is(s, offset - ring.capacity)) return 0;  // published (or not this lap)
    const uint64_t c = ring.claim(offset).load(std::memory_order_acquire);
    if (!slot_is(c, offset) || (slot_kind(c) != SlotKind::claimed && slot_kind(c) != SlotKind::prepared)) return 0;
    return slot_owner(c);
}

bool open_claim_prepared(const RingRef& ring, uint64_t offset) noexcept {
    const uint64_t c = ring.claim(offset).load(std::memory_order_acquire);
    return slot_is(c, offset) && slot_kind(c) == SlotKind::prepared;
}

bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept {
    if (owner == 0 || open_claimer(ring, offset) != owner) return false;
    // A transaction's prepared output is its transaction's to decide (tx_resolver.hpp).
    if (open_claim_prepared(ring, offset)) return false;
    // The claimer is dead (the caller checked): it can no longer commit, and
    // if it somehow did first, this CAS fails and the message stands.
    return finish_claim(ring, offset, SlotKind::aborted);
}

}  // namespace shmq::ring
