#include "ring/commit_protocol.hpp"

namespace shmq::ring {

void abort_claim(const RingRef& ring, uint64_t offset) noexcept {
    uint64_t expected = slot_state(offset, SlotKind::free);
    ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::aborted), std::memory_order_seq_cst,
                                               std::memory_order_relaxed);
}

uint32_t open_claimer(const RingRef& ring, uint64_t offset) noexcept {
    const uint64_t s = ring.state(offset).load(std::memory_order_acquire);
    if (!slot_is(s, offset) || slot_kind(s) != SlotKind::free) return 0;
    const uint64_t c = ring.claim(offset).load(std::memory_order_acquire);
    if (!slot_is(c, offset) || slot_kind(c) != SlotKind::claimed) return 0;
    return slot_owner(c);
}

bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept {
    if (owner == 0 || open_claimer(ring, offset) != owner) return false;
    // The claimer is dead (the caller checked): it can no longer commit, and
    // if it somehow did first, this CAS fails and the message stands.
    uint64_t expected = slot_state(offset, SlotKind::free);
    return ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::aborted),
                                                      std::memory_order_seq_cst, std::memory_order_relaxed);
}

void release_slot(const RingRef& ring, uint64_t offset) noexcept {
    auto& word = ring.state(offset);
    const uint64_t s = word.load(std::memory_order_acquire);
    if (!slot_is(s, offset)) return;  // released already (a redo after a dead reclaimer)
    const SlotKind k = slot_kind(s);
    if (k != SlotKind::committed && k != SlotKind::aborted) return;
    word.store(slot_state(offset + ring.capacity, SlotKind::free), std::memory_order_release);
}

}  // namespace shmq::ring
