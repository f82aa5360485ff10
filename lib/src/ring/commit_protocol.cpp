#include "ring/commit_protocol.hpp"

namespace shmq::ring {

ClaimResult try_claim(const RingRef& ring, uint32_t owner, uint64_t& offset_out) noexcept {
    const int64_t cap = static_cast<int64_t>(ring.capacity);
    // Bounded: each retry means another claimer made progress or the tail
    // moved; a corrupt region must not spin us forever.
    for (int attempt = 0; attempt < 1 << 20; ++attempt) {
        uint64_t pos = ring.tail->load(std::memory_order_acquire);
        auto& word = ring.state(pos);
        uint64_t s = word.load(std::memory_order_acquire);
        int64_t d = slot_tag_distance(s, pos);
        if (d == 0) {
            if (slot_kind(s) == SlotKind::free) {
                // case (1): the slot is free for pos; the CAS makes it ours.
                if (word.compare_exchange_strong(s, slot_state(pos, SlotKind::claimed, owner), std::memory_order_acq_rel,
                                                 std::memory_order_acquire)) {
                    help_forward(*ring.tail, pos);
                    offset_out = pos;
                    return ClaimResult::claimed;
                }
                continue;  // lost the race for pos: retry at the new tail
            }
            // case (2): pos was claimed by someone whose tail CAS is late: help.
            help_forward(*ring.tail, pos);
            continue;
        }
        if (d == -cap) return ClaimResult::full;  // case (3): slot still holds the previous lap
        if (d > 0) continue;                      // case (4): stale tail read; it has moved on
        return ClaimResult::corrupt;              // case (5): no valid protocol state gets here
    }
    return ClaimResult::corrupt;
}

bool commit(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept {
    uint64_t expected = slot_state(offset, SlotKind::claimed, owner);
    return ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::committed),
                                                      std::memory_order_seq_cst, std::memory_order_relaxed);
}

void abort_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept {
    uint64_t expected = slot_state(offset, SlotKind::claimed, owner);
    ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::aborted), std::memory_order_seq_cst,
                                               std::memory_order_relaxed);
}

bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept {
    uint64_t expected = slot_state(offset, SlotKind::claimed, owner);
    return ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::aborted),
                                                      std::memory_order_seq_cst, std::memory_order_relaxed);
}

void release_slot(const RingRef& ring, uint64_t offset) noexcept {
    auto& word = ring.state(offset);
    uint64_t s = word.load(std::memory_order_acquire);
    if (!slot_is(s, offset)) return;  // released already (a redo after a dead reclaimer)
    SlotKind k = slot_kind(s);
    if (k != SlotKind::committed && k != SlotKind::aborted) return;
    word.store(slot_state(offset + ring.capacity, SlotKind::free), std::memory_order_release);
}

}  // namespace shmq::ring
