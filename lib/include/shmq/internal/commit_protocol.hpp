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
//  (5) publish: a claimer that commits within the call that claimed (send,
//      send_batch) stores committed(o) with release instead of (3)'s CAS. Only
//      its claimer or the reaper writes an open claim's state, and the reaper
//      aborts a claim only once its claimer is dead (the participant's lock
//      released, or its recorded process gone), which a claimer inside a
//      call is not. The doorbell loads that follow are ordered after the
//      store by commit_barrier.hpp. Claim::commit, which may run long after
//      its claim, keeps (3).
//
// Exclusive writer (tail bit 63, kTailExclusive). A producer opened with
// ProducerOptions::exclusive holds it on every partition and then claims
// with no read-modify-write at all:
//  (6) take: CAS writer 0 -> its token (one exclusive producer), then CAS the
//      tail t -> t | X. Shared claimers that load a tail with X give up
//      (busy); their help CASes expect a value without X and fail. So after
//      the CAS only offset t can still be claimed by a shared claimer (one
//      that loaded t before X, and every lower offset is claimed already):
//      the holder claims t with the claim CAS of (2) and, win or lose, owns
//      every offset above t alone.
//  (7) claim o > t: store claimed(o, P) into the claim word (relaxed), then
//      the tail (o + 1) | X (release), then payload, then publish (5). The
//      claim word goes first so that at every instant each offset below the
//      tail has its claimer named: the reaper (which scans a lap from head)
//      and a consumer stuck at o find the dead holder's open claims as they
//      find anyone's. A batch stores n claim words and the tail once.
//  (8) give back: the holder stores the tail without X (release), then
//      writer = 0; the reaper of a dead holder aborts its open claims, then
//      clears X with a CAS that also moves the tail past the last of them
//      (a holder killed between its claim words and its tail store left
//      claims above the tail, and the next holder must find every claim
//      below the tail it takes, (6)), then writer. The holder's own claims
//      are finished before it gives back (a Claim keeps its producer).
// The atomic word type is a template parameter (BasicRingRef) only so a model
// checker can run this very code (tests/model/, relacy); the library uses
// RingRef = BasicRingRef<std::atomic<uint64_t>>, the same code as before.
#pragma once

#include <algorithm>
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

enum class ClaimResult { claimed, full, corrupt, busy };  // busy: an exclusive writer holds the ring

constexpr uint64_t kTailExclusive = uint64_t{1} << 63;
constexpr uint64_t tail_offset(uint64_t tail) noexcept { return tail & ~kTailExclusive; }
constexpr bool tail_exclusive(uint64_t tail) noexcept { return (tail & kTailExclusive) != 0; }
// The tail as an offset, whoever writes the ring (every reader but claimers).
template <class Atomic>
inline uint64_t load_tail(const Atomic& tail, std::memory_order order = std::memory_order_acquire) noexcept {
    return tail_offset(tail.load(order));
}

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
        if (tail_exclusive(pos)) return ClaimResult::busy;  // (6): an exclusive writer holds the ring
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

// (5) A live claimer's commit within the call that claimed: one release
// store. The caller orders its doorbell loads after it (commit_barrier.hpp).
template <class Atomic>
inline void publish(const BasicRingRef<Atomic>& ring, uint64_t offset) noexcept {
    ring.state(offset).store(slot_state(offset, SlotKind::committed), std::memory_order_release);
}

// A transaction's claim, its payload and header written, turns prepared
// (tx_protocol.hpp (T2): release, before any decision can commit it).
template <class Atomic>
inline void mark_prepared(const BasicRingRef<Atomic>& ring, uint64_t offset, uint32_t owner) noexcept {
    ring.claim(offset).store(slot_state(offset, SlotKind::prepared, owner), std::memory_order_release);
}

// (6) Takes the ring's exclusive bit. `writer` must already hold the
// caller's token. On success `first` is the tail it took the ring at: the
// one offset a shared claimer may still claim (take it with
// claim_contested). false: another writer's bit is set.
template <class Atomic>
inline bool take_exclusive(const BasicRingRef<Atomic>& ring, uint64_t& first) noexcept {
    uint64_t t = ring.tail->load(std::memory_order_acquire);
    do {
        if (tail_exclusive(t)) return false;
        // acq_rel: the shared claims below t happen before our claims.
    } while (!ring.tail->compare_exchange_weak(t, t | kTailExclusive, std::memory_order_acq_rel,
                                               std::memory_order_acquire));
    first = t;
    return true;
}

// (6) The holder's claim of the first offset, which a shared claimer that
// loaded the tail before the bit may race for: claimed or lost (a shared
// claimer has it: the holder goes on at first + 1), or full/corrupt.
template <class Atomic>
inline ClaimResult claim_contested(const BasicRingRef<Atomic>& ring, uint32_t owner, uint64_t first,
                                   uint64_t& limit) noexcept {
    if (first >= limit) {
        limit = ring.head->load(std::memory_order_acquire) + ring.capacity;  // (1)
        if (first >= limit) return ClaimResult::full;
    }
    auto& claim = ring.claim(first);
    uint64_t c = claim.load(std::memory_order_acquire);
    if (slot_is(c, first)) return ClaimResult::busy;  // a shared claimer won it
    if (!slot_is(c, first - ring.capacity)) return ClaimResult::corrupt;
    if (claim.compare_exchange_strong(c, slot_state(first, SlotKind::claimed, owner), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        ring.tail->store((first + 1) | kTailExclusive, std::memory_order_release);
        return ClaimResult::claimed;
    }
    return slot_is(c, first) ? ClaimResult::busy : ClaimResult::corrupt;
}

// (7) The holder claims up to `want` offsets from its cursor `next` (its
// own copy of the tail): one claim-word store each, one tail store. Returns
// how many (0: no room below head + capacity, even after re-reading head);
// `next` moves past them.
struct NoStep {
    void operator()() const noexcept {}
};
template <class Atomic, class Between = NoStep>
inline uint32_t claim_exclusive(const BasicRingRef<Atomic>& ring, uint32_t owner, uint64_t& next, uint64_t& limit,
                                uint32_t want, Between between = {}) noexcept {
    if (next + want > limit) limit = ring.head->load(std::memory_order_acquire) + ring.capacity;  // (1)
    const uint64_t room = limit > next ? limit - next : 0;
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(want, room));
    for (uint64_t o = next; o < next + n; ++o)
        ring.claim(o).store(slot_state(o, SlotKind::claimed, owner), std::memory_order_relaxed);
    if (n == 0) return 0;
    between();  // tests: a crash point
    next += n;
    // release: the claim words above precede the tail passing them (7).
    ring.tail->store(next | kTailExclusive, std::memory_order_release);
    return n;
}

// (8) The holder gives the ring back at `next`.
template <class Atomic>
inline void release_exclusive(const BasicRingRef<Atomic>& ring, uint64_t next) noexcept {
    ring.tail->store(next, std::memory_order_release);
}

// (8) The reaper, once the holder is dead and its open claims are aborted:
// `end` is one past the last offset it aborted (0: none).
template <class Atomic>
inline void clear_exclusive(const BasicRingRef<Atomic>& ring, uint64_t end) noexcept {
    uint64_t t = ring.tail->load(std::memory_order_acquire);
    while (tail_exclusive(t) && !ring.tail->compare_exchange_weak(t, std::max(tail_offset(t), end),
                                                                    std::memory_order_acq_rel, std::memory_order_acquire)) {
    }
}

template <class Atomic>
inline void abort_claim(const BasicRingRef<Atomic>& ring, uint64_t offset) noexcept {
    (void)finish_claim(ring, offset, SlotKind::aborted);
}
// Participant id (1..4095) holding an open claim on `offset`, 0 if none:
// the claim word names it (claimed or prepared) and the state still holds the previous lap.
uint32_t open_claimer(const RingRef& ring, uint64_t offset) noexcept;
// Whether the claim word of `offset` is a transaction's prepared output (tx_protocol.hpp).
bool open_claim_prepared(const RingRef& ring, uint64_t offset) noexcept;
// Reaper: aborts slot `offset` if it is an open claim (not a prepared one) of dead participant `owner`.
bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;

}  // namespace shmq::ring
