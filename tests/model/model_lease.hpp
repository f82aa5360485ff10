// One group's delivery state of one partition under the model check: the
// cursors next and floor, two lease entries (the real layout::LeaseEntry's
// four words, all ModelAtomic), the partition's owner word (exclusive
// groups) and, per slot, a plain rl::var payload, so relacy flags any read of
// a message that is not ordered before the next lap's write of its slot.
//
// Every step on the lease words and cursors is the real code of
// shmq/internal/lease_protocol.hpp, run on BasicLeaseRef<ModelAtomic>. What its
// callers add around it (which offset to look at, counters, wake-ups, clocks,
// the DLQ's own ring) is mirrored below, one function per caller, named
// after it; they keep the callers' memory orders and cite their lines.
#pragma once

#include <cstdint>

#include "model_tags.hpp"  // first: the tag twin renames the comparisons the protocol code calls

#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"

#include "model_atomic.hpp"  // last: it includes relacy

namespace shmq::model {

struct ModelLeaseEntry {  // layout::LeaseEntry
    ModelAtomic word{0};
    ModelAtomic deadline_ns{0};
    ModelAtomic first_delivery_unix_ns{0};
    ModelAtomic last_delivery_unix_ns{0};
};

}  // namespace shmq::model

template <>
struct shmq::ring::LeaseEntryOf<shmq::model::ModelAtomic> {
    using type = shmq::model::ModelLeaseEntry;
};

namespace shmq::model {

using ModelLeaseRef = ring::BasicLeaseRef<ModelAtomic>;
using ring::LeaseKind;
using ring::lease_word;

inline constexpr uint64_t kLap = 2;  // the partition's capacity
inline constexpr uint32_t kMaxDeliveries = 3;

// Model time, in ns of CLOCK_MONOTONIC: a scanner's clock reads kEarly
// until the holder's lease ran out (ModelPartition::lease_ran_out), then
// kLate, and one lease later at each scan after that (ScannerClock); a
// redelivery, a reaper and the DLQ mover come at kLater still.
inline constexpr uint64_t kLeaseNs = 100;
inline constexpr uint64_t kEarly = 10;
inline constexpr uint64_t kLate = 1000;
inline constexpr uint64_t kLater = uint64_t{1} << 40;

enum class Settle { ok, lease_lost };

struct ModelPartition {
    // `start`: where next and floor start (0: a fresh region; the wrap tests
    // start at a tag boundary, model_tags.hpp).
    explicit ModelPartition(uint64_t start = 0) : next(start), floor(start) {
        // Every entry acked for the lap before (free for its offset): a fresh
        // region's, or what a partition that ran up to `start` leaves.
        for (uint64_t o = start; o < start + kLap; ++o)
            entry(o).word.store(lease_word(LeaseKind::acked, o - kLap), std::memory_order_relaxed);
    }

    ModelLeaseRef ref() { return {&next, &floor, entries, kLap - 1}; }
    ModelLeaseEntry& entry(uint64_t o) { return entries[o & (kLap - 1)]; }
    rl::var<uint64_t>& payload(uint64_t o) { return payloads[o & (kLap - 1)]; }

    uint64_t published = 0;  // offsets below it are committed (set before the threads start)
    ModelAtomic next;      // layout::GroupPartition::next
    ModelAtomic floor;     // layout::GroupPartition::floor
    ModelAtomic owner{0};  // layout::GroupPartition::owner (exclusive groups)
    ModelLeaseEntry entries[kLap];
    rl::var<uint64_t> payloads[kLap];
    // Not a word of the region: the passing of time. A holder finishes its
    // reads within its lease (what a lease means); it stores 1 (release)
    // after them, and a scanner's clock reads kLate only after it acquired
    // that, so an expiry comes after the holder's reads, as in real time.
    ModelAtomic lease_ran_out{0};
};

struct ScannerClock {
    uint64_t late = kLate - kLeaseNs;
    uint64_t now(ModelPartition& p) {
        return p.lease_ran_out.load(std::memory_order_acquire) != 0 ? (late += kLeaseNs) : kEarly;
    }
};

// --- mirrors of the callers --------------------------------------------------

// deliver_fresh (delivery.hpp), shared group: the offset at `next`, if its
// slot is committed (the ring side is ring_model's: here the first
// `published` offsets are), the entry's acquire load, then the real
// lease_start + lease_deliver_shared; a peer's delivery is helped past.
// Returns the offset and sets `word`, or returns UINT64_MAX. `end`: the
// offsets below it are committed (a test whose producer goes on passes its
// own); `ahead`, if given, counts the entries found a lap ahead of `next`
// (a stale cursor: a peer delivered and acked o, and the producer reused it);
// `pause(o)`, if given, runs between the load of next and the entry's: where
// a test preempts a consumer (harness only: it orders nothing).
struct NoPause {
    void operator()(uint64_t) const {}
};
template <class Pause = NoPause>
inline uint64_t deliver_fresh(ModelPartition& p, uint32_t owner, uint64_t& word, uint64_t end,
                              uint32_t* ahead = nullptr, Pause pause = {}) {
    for (;;) {
        const uint64_t o = p.next.load(std::memory_order_acquire);
        if (o >= end) return UINT64_MAX;
        pause(o);
        auto& e = p.entry(o);
        const uint64_t w = e.word.load(std::memory_order_acquire);
        if (ring::lease_deliverable(w, o)) {
            const uint64_t leased = lease_word(LeaseKind::leased, o, owner, 1);
            ring::lease_start(e, 0);  // 0: the model's scanner stamps it (same store, same order)
            if (ring::lease_deliver_shared(p.next, e, o, w, leased)) {
                word = leased;
                return o;
            }
            continue;  // a peer took o first
        }
        if (!ring::lease_is(w, o)) {
            if (ahead != nullptr) ++*ahead;
            return UINT64_MAX;  // delivery.hpp: "entry ahead of o"
        }
        ring::help_forward(p.next, o);
    }
}
inline uint64_t deliver_fresh(ModelPartition& p, uint32_t owner, uint64_t& word) {
    return deliver_fresh(p, owner, word, p.published);
}

// Harness: whether the entry's word says acked(o). A whole-word comparison,
// not the tag helpers, so that the wrap twin (model_tags.hpp) weakens the
// protocol and its mirrors, not the checks (an acked word has no other bits).
inline bool acked_for(uint64_t w, uint64_t o) { return w == lease_word(LeaseKind::acked, o); }

// ack (delivery.hpp): the real lease_ack, then the real lease_advance_floor
// (its wake-up of producers is not modelled: no futex here).
inline Settle ack(ModelPartition& p, uint64_t o, uint64_t word, bool advance = true) {
    if (!ring::lease_ack(p.entry(o), o, word)) return Settle::lease_lost;
    if (advance) ring::lease_advance_floor(p.ref(), kLap, [] {});
    return Settle::ok;
}

inline void advance_floor(ModelPartition& p) { ring::lease_advance_floor(p.ref(), kLap, [] {}); }

// revoke (delivery.cpp), the leased branch without the DLQ: the real
// lease_revoke to retry(reason), due at once. true: it won.
inline bool revoke(ModelPartition& p, uint64_t o, uint64_t w, ring::RetryReason why, uint64_t now) {
    return ring::lease_revoke(p.entry(o), w, ring::retry_word(o, w, why), now);
}

// expire_leases (delivery.cpp) over [floor, next): stamp a delivery at first
// sight (real lease_stamp), revoke it once its deadline passed. Returns how
// many it revoked.
inline uint32_t expire_leases(ModelPartition& p, uint64_t now) {
    const uint64_t floor = p.floor.load(std::memory_order_acquire);  // lease_window
    const uint64_t next = p.next.load(std::memory_order_acquire);
    uint32_t expired = 0;
    for (uint64_t o = floor; o < next && o < floor + kLap; ++o) {
        auto& e = p.entry(o);
        const uint64_t w = e.word.load(std::memory_order_acquire);
        if (ring::lease_kind(w) != LeaseKind::leased || !ring::lease_is(w, o)) continue;
        const uint64_t deadline = e.deadline_ns.load(std::memory_order_relaxed);
        if (deadline == 0) {
            (void)ring::lease_stamp(e, now + kLeaseNs);
            continue;
        }
        if (deadline >= now) continue;
        if (revoke(p, o, w, ring::RetryReason::lease_expired, now)) ++expired;
    }
    return expired;
}

// The reaper's pass over a dead participant's leases (repair/reaper.cpp (2)).
inline uint32_t reap_leases(ModelPartition& p, uint32_t dead) {
    const uint64_t floor = p.floor.load(std::memory_order_acquire);
    const uint64_t next = p.next.load(std::memory_order_acquire);
    uint32_t returned = 0;
    for (uint64_t o = floor; o < next && o < floor + kLap; ++o) {
        const uint64_t w = p.entry(o).word.load(std::memory_order_acquire);
        if (ring::lease_kind(w) != LeaseKind::leased || ring::lease_owner(w) != dead || !ring::lease_is(w, o))
            continue;
        if (revoke(p, o, w, ring::RetryReason::owner_died, kLater)) ++returned;
    }
    return returned;
}

// deliver_retry (delivery.cpp) at time kLater: the lowest due retry of
// [floor, next), exhausted ones skipped (the DLQ's); ordered: first revoke
// the leases above it as a handoff. The real lease_redeliver. Returns the
// offset and sets `word`, or returns UINT64_MAX.
inline uint64_t deliver_retry(ModelPartition& p, uint32_t owner, bool ordered, uint64_t& word) {
    const uint64_t floor = p.floor.load(std::memory_order_acquire);
    const uint64_t next = p.next.load(std::memory_order_acquire);
    for (uint64_t o = floor; o < next && o < floor + kLap; ++o) {
        auto& e = p.entry(o);
        uint64_t w = e.word.load(std::memory_order_acquire);
        if (ring::lease_kind(w) != LeaseKind::retry || !ring::lease_is(w, o)) continue;
        if (ring::retry_exhausted(w, kMaxDeliveries)) continue;
        if (e.deadline_ns.load(std::memory_order_relaxed) > kLater) {
            if (ordered) return UINT64_MAX;
            continue;
        }
        if (ordered) (void)ring::lease_revoke_handoffs(p.ref(), o + 1, next, 1);
        const uint64_t leased = ring::redelivery_word(w, o, LeaseKind::leased, owner);
        if (ring::lease_redeliver(e, w, leased, 0)) {
            word = leased;
            return o;
        }
    }
    return UINT64_MAX;
}

// shmqd's DLQ pass (daemon/watched_queue.cpp, after expire_leases): an
// exhausted retry's acquire load, then ring::dead_letter (dead_letter.cpp):
// the real move-lease steps around the copy. The DLQ's ring is not modelled:
// its claim always succeeds and the copy is a plain rl::var. true: moved.
inline bool dead_letter_pass(ModelPartition& p, uint64_t o, uint32_t mover, rl::var<uint64_t>& dlq_copy) {
    auto& e = p.entry(o);
    const uint64_t retry = e.word.load(std::memory_order_acquire);
    if (ring::lease_kind(retry) != LeaseKind::retry || !ring::lease_is(retry, o) ||
        !ring::retry_exhausted(retry, kMaxDeliveries))
        return false;
    const uint64_t moving =
        lease_word(LeaseKind::leased, o, mover, ring::lease_counted(retry), ring::lease_handoffs(retry));
    if (!ring::lease_move_begin(e, retry, moving, kLater + kLeaseNs)) return false;
    dlq_copy($) = p.payload(o)($);  // the memcpy into the DLQ slot
    if (!ring::lease_move_still_held(e, moving)) return false;
    if (!ring::lease_move_finish(e, o, moving)) return false;
    advance_floor(p);
    return true;
}

// A consumer's claim of an exclusive partition (consumer.cpp, the owner
// CAS: acq_rel, so it acquires what the previous owner released).
inline bool acquire_partition(ModelPartition& p, uint64_t token) {
    uint64_t cur = p.owner.load(std::memory_order_acquire);
    return cur == 0 && p.owner.compare_exchange_strong(cur, token, std::memory_order_acq_rel);
}
// Its hand-over (consumer.cpp: mine -> 0, acq_rel).
inline void release_partition(ModelPartition& p, uint64_t token) {
    uint64_t mine = token;
    p.owner.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
}

// take_over (delivery.cpp): the real lease_handoff_span and
// lease_revoke_handoffs (due at once: 1). Returns how many it revoked.
inline uint32_t take_over(ModelPartition& p) {
    const ring::LeaseSpan span = ring::lease_handoff_span(p.ref(), kLap);
    return ring::lease_revoke_handoffs(p.ref(), span.from, span.to, 1);
}

// ring::reclaim's read of the group's floor (reclaim.cpp: seq_cst), the
// producer's write of the next lap once the floor passed o. Harness check
// (relaxed: it must not add ordering): the floor passed only acked entries.
inline bool reuse_if_released(ModelPartition& p, uint64_t o, uint64_t next_lap_value) {
    const uint64_t floor = p.floor.load(std::memory_order_seq_cst);
    if (floor <= o) return false;
    const uint64_t w = p.entry(o).word.load(std::memory_order_relaxed);
    RL_ASSERT(acked_for(w, o));  // never past an unacked offset
    p.payload(o)($) = next_lap_value;
    return true;
}

}  // namespace shmq::model
