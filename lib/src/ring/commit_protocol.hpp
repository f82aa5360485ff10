// The crash-safe claim/commit protocol of a ring of slots (partitions and the
// DLQ use the same one). Each slot has two 64-bit words, each only ever
// written with one CAS or store, so a process killed at any instant leaves
// whole values behind:
//   state (offset 0, the line consumers poll): free(o) | committed(o) | aborted(o)
//   claim (the slot's last 8 bytes, a line consumers never poll): claimed(o, P)
// Keeping the claim off the polled line means a message changes that line
// once (at commit): a consumer spinning on it is not pulled into a second
// round trip between claim and commit.
//
// Memory-ordering argument:
//  (1) claim: the claimer acquire-loads state == free(o), then CASes the
//      claim word from the previous lap's claim (tag o - capacity; a new
//      region starts every claim word at "lap -1") to claimed(o, P),
//      acq_rel. Two claimers of o race on that CAS; one wins; a claimer with
//      a stale o finds another tag and retries. The acquire of free(o)
//      pairs with the reclaimer's release store of free(o), which follows
//      (through the acquire loads of every group's floor) every consumer's
//      last read of the slot's previous message: our payload writes cannot
//      race them.
//  (2) commit: CAS state free(o) -> committed(o), seq_cst. Release publishes
//      payload and header to consumers, who acquire-load the state. It is a
//      CAS, not a store, so a slot the reaper aborted (only when P is dead)
//      cannot be committed over; seq_cst orders it before the
//      consumer_waiters load of the doorbell (sys/futex.hpp).
//  (3) abort: CAS state free(o) -> aborted(o), seq_cst: by the claimer, or by
//      the reaper when the claim word names a dead participant. Consumers
//      skip aborted(o).
//  (4) release: store state free(o + capacity), release, by the reclaim lock
//      holder only, once every group's floor is past o (ring/reclaim.cpp).
//  The tail word is a hint: claimers read it, then help it forward with a
//  CAS whenever they see the claim at tail already taken. Ownership of an
//  offset is decided by the claim CAS alone, so a producer that dies between
//  its claim CAS and its tail CAS stalls nobody.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ring/slot_state.hpp"

namespace shmq::ring {

// A view of one ring: its tail hint and its slots (state word at offset 0,
// claim word in the last 8 bytes of each slot).
struct RingRef {
    std::atomic<uint64_t>* tail;
    std::byte* slots;
    uint64_t slot_size;
    uint64_t capacity;  // power of two

    std::byte* base(uint64_t offset) const noexcept { return slots + (offset & (capacity - 1)) * slot_size; }
    std::atomic<uint64_t>& state(uint64_t offset) const noexcept {
        return *reinterpret_cast<std::atomic<uint64_t>*>(base(offset));
    }
    std::atomic<uint64_t>& claim(uint64_t offset) const noexcept {
        return *reinterpret_cast<std::atomic<uint64_t>*>(base(offset) + slot_size - sizeof(uint64_t));
    }
};

enum class ClaimResult { claimed, full, corrupt };

// Moves a hint cursor from `from` to from + 1 unless someone already did.
// Takes `from` by value: a failed CAS writes the current value into its
// expected argument, which must never clobber the caller's offset.
inline void help_forward(std::atomic<uint64_t>& cursor, uint64_t from) noexcept {
    cursor.compare_exchange_strong(from, from + 1, std::memory_order_release, std::memory_order_relaxed);
}

// The claim word of a fresh region's slot i: "claimed for lap -1, by nobody".
constexpr uint64_t initial_claim(uint64_t slot_index, uint64_t capacity) noexcept {
    return slot_state(slot_index - capacity, SlotKind::claimed, 0);
}

// Claims the next offset for participant `owner` (id 1..4095). Inline: the
// producer's hot path.
inline ClaimResult try_claim(const RingRef& ring, uint32_t owner, uint64_t& offset_out) noexcept {
    const int64_t cap = static_cast<int64_t>(ring.capacity);
    // Bounded: each retry means another claimer made progress or the tail
    // moved; a corrupt region must not spin us forever.
    for (int attempt = 0; attempt < 1 << 20; ++attempt) {
        const uint64_t pos = ring.tail->load(std::memory_order_acquire);
        const uint64_t s = ring.state(pos).load(std::memory_order_acquire);
        const int64_t d = slot_tag_distance(s, pos);
        if (d == 0) {
            if (slot_kind(s) != SlotKind::free) {
                help_forward(*ring.tail, pos);  // case (2): pos is published already; tail is late
                continue;
            }
            auto& claim = ring.claim(pos);
            uint64_t c = claim.load(std::memory_order_acquire);
            if (slot_is(c, pos)) {
                help_forward(*ring.tail, pos);  // case (3): someone claimed pos; its tail CAS is late
                continue;
            }
            // Every offset is claimed exactly once, so before pos is claimed
            // the word holds the claim of pos - capacity. Anything else means
            // our pos is stale (the slot has moved on a lap): never claim
            // over a later lap's claim.
            if (!slot_is(c, pos - ring.capacity)) continue;
            // case (1): free and unclaimed for pos; the CAS makes it ours.
            if (claim.compare_exchange_strong(c, slot_state(pos, SlotKind::claimed, owner), std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
                help_forward(*ring.tail, pos);
                offset_out = pos;
                return ClaimResult::claimed;
            }
            continue;  // lost the race for pos: retry at the new tail
        }
        if (d == -cap) return ClaimResult::full;  // case (4): slot still holds the previous lap
        if (d > 0) continue;                      // case (5): stale tail read; it has moved on
        return ClaimResult::corrupt;              // case (6): no valid protocol state gets here
    }
    return ClaimResult::corrupt;
}

// false: the claim had been aborted (by the reaper); nothing was published.
inline bool commit(const RingRef& ring, uint64_t offset) noexcept {
    uint64_t expected = slot_state(offset, SlotKind::free);
    return ring.state(offset).compare_exchange_strong(expected, slot_state(offset, SlotKind::committed),
                                                      std::memory_order_seq_cst, std::memory_order_relaxed);
}

void abort_claim(const RingRef& ring, uint64_t offset) noexcept;
// Participant id (1..4095) holding an open claim on `offset`, 0 if none:
// the claim word names it and the state is still free(offset).
uint32_t open_claimer(const RingRef& ring, uint64_t offset) noexcept;
// Reaper: aborts slot `offset` if it is an open claim of dead participant `owner`.
bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;
// Reclaim lock holder: makes slot `offset` free for offset + capacity if it is
// committed(offset) or aborted(offset); a no-op when already released.
void release_slot(const RingRef& ring, uint64_t offset) noexcept;

}  // namespace shmq::ring
