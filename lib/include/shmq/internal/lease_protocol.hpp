// The lease protocol's atomic steps, on a group's cursors of one partition
// and its lease entries: the CASes and loads that delivery.hpp's
// memory-ordering argument (1)-(6) is about, and nothing else. Counters,
// futex wake-ups, clocks, the DLQ copy and the choice of what to do next stay
// with the callers (delivery.hpp/.cpp, dead_letter.cpp), which pass in the
// words and times these steps install.
//
// The atomic word type is a template parameter only so a model checker can
// run this very code (tests/model/lease_model.cpp, relacy), as
// commit_protocol.hpp's BasicRingRef does; the library instantiates it with
// std::atomic<uint64_t> and layout::LeaseEntry, and every function here is
// inline: the library's instructions are those of the code written in place
// (up to two operand orders GCC picks differently, in advance_floor and
// take_over; see the commit that moved the code here).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_word.hpp"

namespace shmq::ring {

// The lease entry whose words are `Atomic`: word, deadline_ns,
// first_delivery_unix_ns, last_delivery_unix_ns (layout::LeaseEntry).
template <class Atomic>
struct LeaseEntryOf;
template <>
struct LeaseEntryOf<std::atomic<uint64_t>> {
    using type = layout::LeaseEntry;
};

// A group's view of one partition's delivery state: its cursors `next` and
// `floor` (layout::GroupPartition) and its lease entries (one lap of them).
// The cursor steps below take any type with these three members (`Lease`):
// this one, or the library's view of a PartitionView (partition_view.hpp),
// which finds entries through the view as the code did before it was
// templated (so its instructions stayed the same).
template <class Atomic>
struct BasicLeaseRef {
    using Entry = typename LeaseEntryOf<Atomic>::type;

    Atomic* next;
    Atomic* floor;
    Entry* entries;
    uint64_t mask;  // capacity - 1

    Entry& entry(uint64_t offset) const noexcept { return entries[offset & mask]; }
};
using LeaseRef = BasicLeaseRef<std::atomic<uint64_t>>;

// --- one entry ---------------------------------------------------------------

// (1) Before a delivery's CAS: the lease's deadline (delivery + lease_ms,
// which shmqd sleeps until; 0: the first scanner stamps it) and no delivery
// times yet (stamped by the first scanner).
template <class Entry>
inline void lease_start(Entry& e, uint64_t deadline) noexcept {
    e.deadline_ns.store(deadline, std::memory_order_relaxed);  // (1) ordered by the word's CAS
    e.first_delivery_unix_ns.store(0, std::memory_order_relaxed);
    e.last_delivery_unix_ns.store(0, std::memory_order_relaxed);
}

// (1) After a won CAS: the lease's deadline (relaxed; a loser's 0 landing
// after it makes the lease unstamped, stamped later by a scanner: later,
// never earlier).
template <class Entry>
inline void lease_set_deadline(Entry& e, uint64_t deadline) noexcept {
    e.deadline_ns.store(deadline, std::memory_order_relaxed);
}

// (1') Fresh delivery in an exclusive group: the owner is the only writer of
// a not-yet-delivered entry and of next; release stores do what the CAS
// does for shared groups.
template <class Atomic, class Entry>
inline void lease_deliver_owned(Atomic& next, Entry& e, uint64_t offset, uint64_t leased) noexcept {
    e.word.store(leased, std::memory_order_release);
    next.store(offset + 1, std::memory_order_release);
}

// (1) Fresh delivery in a shared group: acked(t < o) -> leased, acq_rel; the
// single point that decides who delivers o. `w` is the deliverable word the
// caller loaded. true: ours (and next helped past o).
template <class Atomic, class Entry>
inline bool lease_deliver_shared(Atomic& next, Entry& e, uint64_t offset, uint64_t w, uint64_t leased) noexcept {
    if (!e.word.compare_exchange_strong(w, leased, std::memory_order_acq_rel, std::memory_order_acquire)) return false;
    help_forward(next, offset);
    return true;
}

// An aborted slot passed over: acked(t < o) -> acked(o), acq_rel, so it is
// done once whoever gets there first. `w` is the deliverable word loaded.
template <class Entry>
inline bool lease_skip(Entry& e, uint64_t offset, uint64_t w) noexcept {
    return e.word.compare_exchange_strong(w, lease_word(LeaseKind::acked, offset), std::memory_order_acq_rel);
}

// (3) ack: leased(o, C, d) -> acked(o), acq_rel. false: lease_lost.
template <class Entry>
inline bool lease_ack(Entry& e, uint64_t offset, uint64_t word) noexcept {
    uint64_t expected = word;
    return e.word.compare_exchange_strong(expected, lease_word(LeaseKind::acked, offset), std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}

// Whether `word` still holds the entry (acquire: what the holder acts on next
// follows whatever revoked it).
template <class Entry>
inline bool lease_held(Entry& e, uint64_t word) noexcept {
    return e.word.load(std::memory_order_acquire) == word;
}

// (5) nack / expiry / owner death: store the not-before time, then CAS
// leased -> retry, acq_rel (a redeliverer acquires the retry word before it
// reads the time). false: the lease was settled or revoked first.
template <class Entry>
inline bool lease_revoke(Entry& e, uint64_t word, uint64_t retry, uint64_t due_ns) noexcept {
    e.deadline_ns.store(due_ns, std::memory_order_relaxed);
    uint64_t expected = word;
    return e.word.compare_exchange_strong(expected, retry, std::memory_order_acq_rel, std::memory_order_relaxed);
}

// Transactions (tx_protocol.hpp (T4)), all acq_rel CASes of the word:
// the holder freezes its exact lease before the commit point (false:
// lease_lost); after the decision, frozen -> acked(o) (committed) or ->
// retry (aborted: the deadline first, as lease_revoke).
template <class Entry>
inline bool lease_freeze(Entry& e, uint64_t leased) noexcept {
    uint64_t expected = leased;
    return e.word.compare_exchange_strong(expected, frozen_word(leased), std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}
// The holder inside fast_ack.hpp's bracket, no revocation round since the
// delivery: a release store, as lease_ack_owned (the same argument (a)-(d)).
template <class Entry>
inline void lease_freeze_owned(Entry& e, uint64_t leased) noexcept {
    e.word.store(frozen_word(leased), std::memory_order_release);
}
template <class Entry>
inline bool lease_ack_frozen(Entry& e, uint64_t offset, uint64_t leased) noexcept {
    uint64_t expected = frozen_word(leased);
    return e.word.compare_exchange_strong(expected, lease_word(LeaseKind::acked, offset), std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}
// The owner after its commit point: nobody else writes its frozen words
// then (a peer thaws only an aborted transaction's, and acks only a dead
// owner's), so its ACK is a release store (its payload reads before the
// floor's acquire of the entry), like release_own_pickup.
template <class Entry>
inline void lease_ack_frozen_owned(Entry& e, uint64_t offset) noexcept {
    e.word.store(lease_word(LeaseKind::acked, offset), std::memory_order_release);
}
template <class Entry>
inline bool lease_thaw(Entry& e, uint64_t leased, uint64_t retry, uint64_t due_ns) noexcept {
    e.deadline_ns.store(due_ns, std::memory_order_relaxed);
    uint64_t expected = frozen_word(leased);
    return e.word.compare_exchange_strong(expected, retry, std::memory_order_acq_rel, std::memory_order_relaxed);
}

// At-most-once: picked(o) -> acked(o) (the message was given up at pickup).
template <class Entry>
inline bool lease_release_picked(Entry& e, uint64_t offset, uint64_t word) noexcept {
    uint64_t expected = word;
    return e.word.compare_exchange_strong(expected, lease_word(LeaseKind::acked, offset), std::memory_order_acq_rel);
}

// At-most-once, by the live reader itself: picked(o) -> acked(o) with a
// release store (its payload reads before the floor's acquire of the entry).
// Nobody else writes a picked entry while its reader lives: revokers pass
// over it and the reaper acts only after the reader's death. Only without
// drop_oldest, where producers may lap the entry (the caller checks).
template <class Entry>
inline void lease_release_own_picked(Entry& e, uint64_t offset) noexcept {
    e.word.store(lease_word(LeaseKind::acked, offset), std::memory_order_release);
}

// extend: the deadline, then a no-op CAS (seq_cst) that re-reads the word
// after the store: an expiry that raced the store wins. false: lease_lost.
template <class Entry>
inline bool lease_extend(Entry& e, uint64_t word, uint64_t new_deadline) noexcept {
    if (e.word.load(std::memory_order_acquire) != word) return false;
    e.deadline_ns.store(new_deadline, std::memory_order_seq_cst);
    uint64_t expected = word;
    return e.word.compare_exchange_strong(expected, word, std::memory_order_seq_cst);
}

// (1) A scanner's first sight of an unstamped delivery: deadline 0 -> `deadline`
// (relaxed: only the word's CASes order anything). true: this scanner stamped.
template <class Entry>
inline bool lease_stamp(Entry& e, uint64_t deadline) noexcept {
    uint64_t zero = 0;
    return e.deadline_ns.compare_exchange_strong(zero, deadline, std::memory_order_relaxed);
}

// Redelivery of a due retry: not stamped yet, then CAS retry -> leased,
// acq_rel (acquires the revoker's retry word and due time). true: ours;
// false: `retry` holds what the entry holds now. always_inline: inlined late,
// it changed deliver_retry's register allocation throughout.
template <class Entry>
[[gnu::always_inline]] inline bool lease_redeliver(Entry& e, uint64_t& retry, uint64_t leased,
                                                   uint64_t deadline) noexcept {
    e.deadline_ns.store(0, std::memory_order_relaxed);  // (1) a loser leaves 0, not its deadline
    e.last_delivery_unix_ns.store(0, std::memory_order_relaxed);
    if (!e.word.compare_exchange_strong(retry, leased, std::memory_order_acq_rel, std::memory_order_acquire))
        return false;
    lease_set_deadline(e, deadline);  // then, as the winner, its deadline
    return true;
}

// The DLQ mover (dead_letter.cpp): its own lease first, retry ->
// leased(mover), acq_rel: the copy that follows reads the slot after the
// holder's revocation. `deadline` bounds the move (a dead mover's lease
// expires); stored as in lease_redeliver (0 before the CAS, the deadline by
// the winner after it), so a mover that lost never shortens a newer lease.
template <class Entry>
inline bool lease_move_begin(Entry& e, uint64_t retry, uint64_t moving, uint64_t deadline) noexcept {
    e.deadline_ns.store(0, std::memory_order_relaxed);
    uint64_t expected = retry;
    if (!e.word.compare_exchange_strong(expected, moving, std::memory_order_acq_rel, std::memory_order_relaxed))
        return false;
    lease_set_deadline(e, deadline);
    return true;
}

// The DLQ was full: the move-lease goes back to the retry it came from.
template <class Entry>
inline void lease_move_give_back(Entry& e, uint64_t moving, uint64_t retry) noexcept {
    uint64_t expected = moving;
    e.word.compare_exchange_strong(expected, retry, std::memory_order_acq_rel, std::memory_order_relaxed);
}

// Still ours after the copy? An RMW, not a load: whoever revokes the
// move-lease after this reads from it, so the copy happened before.
template <class Entry>
inline bool lease_move_still_held(Entry& e, uint64_t moving) noexcept {
    uint64_t held = moving;
    return e.word.compare_exchange_strong(held, moving, std::memory_order_acq_rel, std::memory_order_relaxed);
}

// The copy is in the DLQ: leased(mover) -> acked(o), acq_rel (the copy
// happens before the floor passes o, so before the slot is reused).
template <class Entry>
inline bool lease_move_finish(Entry& e, uint64_t offset, uint64_t moving) noexcept {
    uint64_t expected = moving;
    return e.word.compare_exchange_strong(expected, lease_word(LeaseKind::acked, offset), std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}

// --- the cursors -------------------------------------------------------------

// (4) Moves the floor over every acked offset: acquire-load each entry
// acked(o), then CAS the floor forward only, seq_cst (reclaim's seq_cst load
// pairs with it, so releasing a slot happens after every reader's ack).
// Calls moved() when this call moved it (the library wakes producers there).
template <class Lease, class Moved>
inline void lease_advance_floor(const Lease& l, uint64_t lap, Moved moved) noexcept {
    uint64_t floor = l.floor->load(std::memory_order_acquire);
    for (;;) {
        const uint64_t next = std::min(l.next->load(std::memory_order_acquire), floor + lap);
        uint64_t o = floor;
        while (o < next) {
            const uint64_t w = l.entry(o).word.load(std::memory_order_acquire);
            if (lease_kind(w) != LeaseKind::acked || !lease_is(w, o)) break;
            ++o;
        }
        if (o == floor) return;
        // (4) seq_cst: ordered before moved()'s space_waiters load (doorbell pattern).
        if (l.floor->compare_exchange_strong(floor, o, std::memory_order_seq_cst, std::memory_order_acquire)) break;
        if (floor >= o) return;  // someone moved it further (the failed CAS loaded it)
    }
    moved();
}

// A revocation round that needs no fast_ack.hpp steps (shared groups, models
// of the lease protocol alone).
struct NoFastAcks {
    void begin() noexcept {}
    bool holder_clear(uint64_t) noexcept { return true; }
};

// (6) Revokes every lease in [from, to) as a handoff: leased -> retry(handoff),
// acq_rel. Run by the partition's owner only (exclusive group), so it alone
// writes the due times after (`due_ns`: never 0, "not stamped yet").
// In rounds of up to kRoundLeases (fast_ack.hpp (b)): the words to take are
// loaded (acquire) before each round.begin(), and each CAS expects the word
// loaded. Returns how many it revoked; `*complete` false: a holder stayed
// inside a fast ACK (round.holder_clear), and [stopped, to) was left.
constexpr uint32_t kRoundLeases = 64;
template <class Lease, class Round = NoFastAcks>
inline uint32_t lease_revoke_handoffs(const Lease& l, uint64_t from, uint64_t to, uint64_t due_ns,
                                      Round&& round = NoFastAcks{}, bool* complete = nullptr) noexcept {
    uint32_t revoked = 0;
    for (uint64_t o = from; o < to;) {
        uint64_t at[kRoundLeases];
        uint64_t words[kRoundLeases];
        uint32_t n = 0;
        for (; o < to && n < kRoundLeases; ++o) {
            const uint64_t w = l.entry(o).word.load(std::memory_order_acquire);
            if (lease_kind(w) != LeaseKind::leased || !lease_is(w, o)) continue;  // picked ones stay with their reader
            at[n] = o;
            words[n++] = w;
        }
        if (n == 0) continue;
        round.begin();
        for (uint32_t k = 0; k < n; ++k) {
            if (!round.holder_clear(words[k])) {
                if (complete != nullptr) *complete = false;
                return revoked;
            }
            auto& e = l.entry(at[k]);
            uint64_t w = words[k];
            // acq_rel: after the holder's payload reads (its CAS would have failed otherwise).
            if (!e.word.compare_exchange_strong(w, retry_word(at[k], w, RetryReason::handoff),
                                                std::memory_order_acq_rel, std::memory_order_relaxed))
                continue;  // acked, nacked or expired meanwhile: settled by its holder or a revoker
            e.deadline_ns.store(due_ns, std::memory_order_relaxed);
            ++revoked;
        }
    }
    if (complete != nullptr) *complete = true;
    return revoked;
}

// (6) A new owner's first step on an exclusive partition: the span to revoke
// as a handoff, [floor, next) past a dead owner's half-done delivery at
// `next` ((1'): the word first); helps `next` there. The caller then
// revokes the span (lease_revoke_handoffs). `lap` by reference: the library
// passes the region's capacity field itself, read where the code reads it.
struct LeaseSpan {
    uint64_t from;
    uint64_t to;
};
template <class Lease, class Lap>
inline LeaseSpan lease_handoff_span(const Lease& l, const Lap& lap) noexcept {
    const uint64_t floor = l.floor->load(std::memory_order_acquire);
    uint64_t next = std::clamp(l.next->load(std::memory_order_acquire), floor, floor + lap);
    while (next < floor + lap && lease_is(l.entry(next).word.load(std::memory_order_acquire), next)) ++next;
    push_forward(*l.next, next);
    return {floor, next};
}

}  // namespace shmq::ring
