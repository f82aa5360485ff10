// The crash-safe claim/commit protocol of a ring of slots (partitions and the
// DLQ use the same one). Each slot has two 64-bit words, each only ever
// written with one CAS, so a process killed at any instant leaves whole
// values behind:
//   state (offset 0, the line consumers poll): committed(o) | aborted(o)
//         (a fresh region starts every slot at "free, lap -1")
//   claim (the slot's last 8 bytes, a line consumers never poll): claimed(o, P)
// A message changes the polled line once, at commit. Room is not marked in
// the slots at all: offset o may be claimed once o < head + capacity, where
// head (PartitionControl/DlqControl) is the lowest point every reader has
// finished (ring/reclaim.cpp advances it); the slot then still holds lap
// o - capacity, which the commit overwrites.
//
// Memory-ordering argument:
//  (1) room: the claimer acquire-loads head (or uses a value it loaded
//      before). head is stored with release by the reclaimer after seq_cst
//      loads of every group's floor, each advanced by a CAS after the
//      consumers' acks, which follow their payload reads: our payload writes
//      for o happen after every read of o - capacity.
//  (2) claim: the claimer loads state (tag o - capacity: not published yet),
//      then CASes the claim word from the claim of o - capacity to
//      claimed(o, P), acq_rel. Every offset is claimed exactly once, so two
//      claimers of o race on that CAS and one wins; a claimer with a stale o
//      finds another tag and retries.
//  (3) commit: CAS state (lap o - capacity) -> committed(o), seq_cst. Release
//      publishes payload and header to consumers, who acquire-load the
//      state. A CAS, not a store, so a slot the reaper aborted (only when P is
//      dead) cannot be committed over; seq_cst orders it before the
//      consumer_waiters load of the doorbell (shmq/internal/futex.hpp).
//  (4) abort: CAS state (lap o - capacity) -> aborted(o), seq_cst: by the
//      claimer, or by the reaper when the claim word names a dead
//      participant. Consumers skip aborted(o).
//  The tail word is a hint: claimers read it, then help it forward with a
//  CAS whenever they see the claim at tail already taken. Ownership of an
//  offset is decided by the claim CAS alone, so a producer that dies between
//  its claim CAS and its tail CAS stalls nobody.
// The atomic word type is a template parameter (BasicRingRef) only so a model
// checker can run this very code (tests/model/, relacy); the library uses
// RingRef = BasicRingRef<std::atomic<uint64_t>>, the same code as before.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shmq/internal/slot_state.hpp"

namespace shmq::ring {

// A view of one ring: its tail hint, its head (room) and its slots (state
// word at offset 0, claim word in the last word of each slot). `Atomic` is a
// 64-bit atomic word: std::atomic<uint64_t>, or a model checker's.
template <class Atomic>
struct BasicRingRef {
    Atomic* tail;
    Atomic* head;
    std::byte* slots;
    uint64_t slot_size;
    uint64_t capacity;  // power of two

    std::byte* base(uint64_t offset) const noexcept { return slots + (offset & (capacity - 1)) * slot_size; }
    Atomic& state(uint64_t offset) const noexcept { return *reinterpret_cast<Atomic*>(base(offset)); }
    Atomic& claim(uint64_t offset) const noexcept {
        return *reinterpret_cast<Atomic*>(base(offset) + slot_size - sizeof(Atomic));
    }
};
using RingRef = BasicRingRef<std::atomic<uint64_t>>;
static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t), "the claim word is the slot's last 8 bytes");

enum class ClaimResult { claimed, full, corrupt };

// Moves a hint cursor from `from` to from + 1 unless someone already did.
// Takes `from` by value: a failed CAS writes the current value into its
// expected argument, which must never clobber the caller's offset.
template <class Atomic>
inline void help_forward(Atomic& cursor, uint64_t from) noexcept {
    // release: what we published about `from` precedes the cursor passing it.
    cursor.compare_exchange_strong(from, from + 1, std::memory_order_release, std::memory_order_relaxed);
}

// Pushes a cursor forward to `to` unless someone already moved it further.
template <class Atomic>
inline void push_forward(Atomic& cursor, uint64_t to) noexcept {
    uint64_t cur = cursor.load(std::memory_order_relaxed);
    // seq_cst: a floor or next pushed here is ordered with the reclaimers' seq_cst loads.
    while (cur < to && !cursor.compare_exchange_weak(cur, to, std::memory_order_seq_cst, std::memory_order_relaxed)) {
    }
}

// A fresh region's slot i: "free for lap -1" in both words.
constexpr uint64_t initial_state(uint64_t slot_index, uint64_t capacity) noexcept {
    return slot_state(slot_index - capacity, SlotKind::free);
}
constexpr uint64_t initial_claim(uint64_t slot_index, uint64_t capacity) noexcept {
    return slot_state(slot_index - capacity, SlotKind::claimed, 0);
}

// Claims the next offset for participant `owner` (id 1..4095). `limit` is
// the caller's cached head + capacity (refreshed here from head when the
// tail reaches it). full: no room below head + capacity; the caller may
// advance head (ring::reclaim) and retry. Inline: the producer's hot path.
// The cases at the tail offset `pos`, tagged below:
//   (1) room, state and claim word both of lap pos - capacity: CAS the claim word -> claimed
//   (2) the state is already about pos (published): help tail past it, retry
//   (3) the claim word is already about pos (claimed, not published): help tail, retry
//   (4) pos >= head + capacity even after re-reading head: full
//   (5) the state is about a later lap: our tail read was stale, retry
//   (6) the state is about neither lap: corrupt (no protocol step writes that)
// A claim word about neither lap (a stale pos) is retried, never claimed over.
template <class Atomic>
inline ClaimResult try_claim(const BasicRingRef<Atomic>& ring, uint32_t owner, uint64_t& limit,
                             uint64_t& offset_out) noexcept {
    // Bounded: each retry means another claimer made progress or the tail
    // moved; a corrupt region must not spin us forever.
    for (int attempt = 0; attempt < 1 << 20; ++attempt) {
        const uint64_t pos = ring.tail->load(std::memory_order_acquire);  // a hint: the claim CAS decides
        if (pos >= limit) {
            // acquire: pairs with reclaim's release of head, after every reader of the old lap (argument (1)).
            limit = ring.head->load(std::memory_order_acquire) + ring.capacity;
            if (pos >= limit) return ClaimResult::full;  // case (4): the slot's last lap is not finished
        }
        const uint64_t s = ring.state(pos).load(std::memory_order_acquire);  // the slot's lap, as published
        if (slot_is(s, pos)) {
            help_forward(*ring.tail, pos);  // case (2): pos is published already; tail is late
            continue;
        }
        if (!slot_is(s, pos - ring.capacity)) {
            if (slot_tag_distance(s, pos) > 0) continue;  // case (5): stale tail read; it has moved on
            return ClaimResult::corrupt;                  // case (6): no valid protocol state gets here
        }
        auto& claim = ring.claim(pos);
        uint64_t c = claim.load(std::memory_order_acquire);  // who claimed this slot last
        if (slot_is(c, pos)) {
            help_forward(*ring.tail, pos);  // case (3): someone claimed pos; its tail CAS is late
            continue;
        }
        if (!slot_is(c, pos - ring.capacity)) continue;  // stale pos: never claim over a later lap
        // case (1): room, not published, not claimed: the CAS makes it ours
        // (acq_rel: argument (2); one claimer of pos wins).
        if (claim.compare_exchange_strong(c, slot_state(pos, SlotKind::claimed, owner), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
            help_forward(*ring.tail, pos);
            offset_out = pos;
            return ClaimResult::claimed;
        }
        // lost the race for pos: retry at the new tail
    }
    return ClaimResult::corrupt;
}

// Moves the state of an open claim on `offset` from the previous lap to
// `to` (committed or aborted). false when it was aborted (by the reaper)
// or is not an open claim.
template <class Atomic>
inline bool finish_claim(const BasicRingRef<Atomic>& ring, uint64_t offset, SlotKind to) noexcept {
    auto& word = ring.state(offset);
    uint64_t s = word.load(std::memory_order_acquire);
    if (!slot_is(s, offset - ring.capacity)) return false;
    // seq_cst: publishes payload and header to consumers' acquire of the state
    // (arguments (3), (4)); ordered before the doorbell's waiters load.
    return word.compare_exchange_strong(s, slot_state(offset, to), std::memory_order_seq_cst, std::memory_order_relaxed);
}

// (3) false: the claim had been aborted (by the reaper); nothing was published.
template <class Atomic>
inline bool commit(const BasicRingRef<Atomic>& ring, uint64_t offset) noexcept {
    return finish_claim(ring, offset, SlotKind::committed);
}

template <class Atomic>
inline void abort_claim(const BasicRingRef<Atomic>& ring, uint64_t offset) noexcept {
    (void)finish_claim(ring, offset, SlotKind::aborted);
}
// Participant id (1..4095) holding an open claim on `offset`, 0 if none:
// the claim word names it and the state still holds the previous lap.
uint32_t open_claimer(const RingRef& ring, uint64_t offset) noexcept;
// Reaper: aborts slot `offset` if it is an open claim of dead participant `owner`.
bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;

}  // namespace shmq::ring
