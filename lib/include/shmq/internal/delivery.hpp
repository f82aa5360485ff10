// A group's delivery protocol over one partition: fresh delivery, redelivery,
// ack, nack, extend, expiry and the floor. Every state change is one CAS of a
// LeaseEntry word (shmq/internal/lease_word.hpp); cursors (next, floor) are hints that
// anyone may help forward, never the thing that decides ownership.
//
// Memory-ordering argument:
//  (1) deliver: acquire-load slot state == committed(o) (pairs with the
//      producer's commit, so the payload is visible), then CAS the entry
//      acked(t<o) -> leased(o, C, 1), acq_rel. The entry CAS is the single
//      point that decides who delivers o. The deadline is the coarse clock,
//      read once per receive call before its deliveries, + lease_ms + the
//      clock's margin (sys::coarse_margin_ns: not before lease_ms after the
//      call unless that clock lags more than the margin). An exclusive owner,
//      the only writer of the entry, stores it relaxed BEFORE its release
//      store of the word. Where peers race (shared groups, redeliveries) each
//      stores 0 ("not stamped") before its CAS and the winner stores the
//      deadline after it: a loser's late store then leaves 0, never its own
//      deadline over a newer state's (a NACK's due time), and 0 is stamped
//      now + lease by the first scanner that sees it (a CAS from 0). Whoever
//      acquires the leased word sees 0, this deadline or a later one: a lease
//      never expires early, and shmqd, which looks at every group at least
//      once per lease_ms (daemon/watched_queue.cpp), sleeps until the
//      earliest deadline it saw.
//  (2) the slot cannot be released under a delivery: release needs every
//      group's floor > o, and the floor only passes o once entry(o) is
//      acked(o) exactly (advance_floor), which no consumer has done yet.
//  (3) ack: CAS leased(o, C, d) -> acked(o), acq_rel: the consumer's payload
//      reads happen before it; a stale holder's CAS fails -> lease_lost.
//      (3') An exclusive group's holder stores acked(o) instead (release),
//      inside fast_ack.hpp's protocol, while no revocation round began since
//      the delivery; every revoker of a live holder's lease runs a round.
//  (4) floor: CAS forward only (seq_cst), after acquire-loading each entry
//      acked(o); reclaim acquire-loads the floor, so releasing the slot
//      happens after every reader's ack.
//  (5) nack/expiry: store the not-before time, then CAS leased -> retry
//      (release); a redeliverer acquires the retry word before reading it.
//  (6) handoff (exclusive groups, ordered delivery): a new owner of a
//      partition acquires the previous owner's work through the owner CAS
//      (acq_rel: the previous owner released it, or its reaper did after
//      its death), then CASes every lease still held in [floor, next) to
//      retry(handoff), acq_rel like (5). The old holder's ack/nack/extend
//      CAS on its word fails from then on (lease_lost). Only the owner
//      redelivers in an exclusive group, so it alone writes the retry's
//      due time, after its CAS ("due at once": 1, never 0, which means
//      "not stamped yet" to a scanner racing it on the leased word).
//
// Ordered delivery (exclusive groups): the lowest RETRY offset of a
// partition holds back everything after it. Nothing newer is delivered
// while it waits for its NACK delay, and when it is redelivered every
// lease above it is first revoked as a handoff (the owner restarts from its
// oldest unACKed offset, Kafka-style): per key, deliveries never go
// backwards except to restart there.
#pragma once

#include <algorithm>
#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/partition_view.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/futex.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/expiry.hpp"

namespace shmq::ring {

struct DeliveryContext {
    detail::Region* region;
    uint64_t lease_ns;    // lease_ms + the coarse clock's margin, in ns: a delivery's deadline is now + lease_ns
    uint32_t group;
    uint32_t owner_id;    // participant id of the consumer
    bool at_most_once;
    bool exclusive;       // only this consumer delivers from the partition: no helping needed
    bool ordered;         // exclusive group: a retry holds back, and restarts, its partition
};

struct Delivered {
    uint64_t offset;
    uint64_t word;  // the lease word installed: the holder's proof of ownership
    uint32_t deliveries;
    uint64_t revocations = 0;  // exclusive groups: the partition's R before the install (fast_ack.hpp L0)
};

// Leases the next never-delivered offset of the view's partition, due
// back at now_mono + lease_ns (now_mono 0: the coarse clock, read only once
// there is something to lease, so a poll of an empty partition reads no
// clock). Skips aborted slots. Inline below: the consumer's hot path.
inline bool deliver_fresh(const DeliveryContext& ctx, const PartitionView& view, uint64_t now_mono,
                          Delivered& out) noexcept;
// An exclusive owner's batch (ctx.exclusive): leases up to `max` offsets
// from `next` that are committed, in a row, with the stores of (1') and one
// store of `next` after them. Stops at anything else (not yet published,
// aborted, an entry not free): deliver_fresh handles those one at a time.
inline uint32_t deliver_run(const DeliveryContext& ctx, const PartitionView& view, uint64_t now_mono, Delivered* out,
                            uint32_t max) noexcept;
enum class RetryScan {
    delivered,  // `out` holds a redelivery
    none,       // no retry in the partition: deliver fresh offsets
    held,       // ordered: a retry waits for its delay; deliver nothing newer
};
// Leases the lowest due RETRY offset of partition p; moves those that used up
// max_deliveries to the DLQ. Scans only when retry_pending says so, or `force`.
// Ordered: only the lowest retry may go, after the leases above it are revoked.
RetryScan deliver_retry(const DeliveryContext& ctx, uint32_t p, uint64_t now_mono, bool force,
                        Delivered& out) noexcept;
// A new owner's first step on an exclusive partition (6): revokes every lease
// of [floor, next) as a handoff, past a dead owner's half-done delivery at
// `next`. `revoked`: how many; the caller delivers them first. Not
// `complete`: a holder stayed inside a fast ACK (fast_ack.hpp): the caller
// gives the partition back and tries again later.
struct TakeOver {
    uint32_t revoked = 0;
    bool complete = true;
};
TakeOver take_over(const DeliveryContext& ctx, uint32_t p) noexcept;

enum class SettleResult { ok, lease_lost };
// Acks one delivery; with advance = false the caller advances the floor
// itself later (ack_all: once per partition). Inline below.
inline SettleResult ack(const PartitionView& view, uint64_t offset, uint64_t word, bool advance = true) noexcept;
inline void release_own_pickup(const PartitionView& view, uint64_t offset, bool advance) noexcept;
// Returns the lease for redelivery after delay_ns (to the DLQ if deliveries
// reached max_deliveries).
SettleResult nack(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, uint64_t delay_ns,
                  uint64_t now_mono, uint32_t mover_id) noexcept;
SettleResult extend(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word,
                    uint64_t new_deadline) noexcept;

// Takes a lease away from its holder (expired, or holder dead): leased ->
// retry(reason) or the DLQ; picked (at-most-once) -> acked. `mover_id` is the
// participant doing it (owner of any DLQ claim it makes). True if it changed.
bool revoke(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, layout::DeadLetterReason reason,
            uint64_t now_mono, uint32_t mover_id) noexcept;
// A frozen lease (tx_protocol.hpp (T4)) once its transaction is decided:
// committed, frozen -> acked(o) and the floor moved; aborted, frozen ->
// retry(reason) or the DLQ, as revoke. `frozen` is the frozen word. True if it changed.
bool ack_frozen(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t frozen) noexcept;
bool thaw(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t frozen, layout::DeadLetterReason reason,
          uint64_t now_mono, uint32_t mover_id) noexcept;
// fast_ack.hpp L6 for participant `index` of r (after a round's S5 and
// barrier): true once its `acking` is 0 or it is dead (a dead holder stores
// nothing more); false if it stays inside after kFastAckWaitNs (stopped?).
bool wait_holder_outside(detail::Region& r, uint32_t index) noexcept;
// Stamps unstamped leases of (g, p) (deadline and delivery times) and
// revokes every leased entry whose deadline has passed. Returns how many it
// revoked. `earliest`, if given, is lowered to the earliest deadline of a
// lease it left in place.
uint32_t expire_leases(detail::Region& r, uint32_t g, uint32_t p, uint64_t now_mono, uint32_t mover_id,
                       uint64_t* earliest = nullptr) noexcept;

// Moves the floor over every acked offset; wakes producers waiting for room.
inline void advance_floor(const PartitionView& view) noexcept;
void advance_floor(detail::Region& r, uint32_t g, uint32_t p) noexcept;  // cold callers

// [floor, next) of (g, p), clamped to one lap (the values are untrusted).
struct Window {
    uint64_t floor;
    uint64_t next;
};
Window lease_window(const detail::Region& r, uint32_t g, uint32_t p) noexcept;

// --- inline hot paths --------------------------------------------------------

namespace detail_delivery {
void catch_up(const PartitionView& view, uint64_t head) noexcept;  // cold: group behind head
void skip_aborted(const PartitionView& view, uint64_t offset, uint64_t word) noexcept;  // cold
// Whether the message at offset o has expired by the coarse clock (cold: only messages that may).
bool expired_now(const detail::Region& r, const PartitionView& view, uint64_t o) noexcept;
// expire_entry for a never-delivered entry holding `word`; true unless it is not due (deliver it).
bool expire_fresh(const DeliveryContext& ctx, const PartitionView& view, uint64_t o, uint64_t word) noexcept;
// The same for a fresh lease the caller just took (`leased`): not a delivery if it expires.
bool expire_taken(const DeliveryContext& ctx, const PartitionView& view, uint64_t o, uint64_t leased) noexcept;
}  // namespace detail_delivery

inline void advance_floor(const PartitionView& view) noexcept {
    auto& gp = *view.cursors;
    const uint64_t lap = view.ring.capacity;
    lease_advance_floor(view.lease_ref(), lap, [&]() noexcept {  // (4); then, when it moved:
        // Wake producers waiting for room only for a batch of it (or when this
        // group has caught up): waking one per ack would make the producer
        // sleep and wake once per message. A waiter not woken re-checks within
        // its sleep slice. (Doorbell pattern: the floor CAS is seq_cst.)
        auto& pc = *view.control;
        if (pc.space_waiters.load(std::memory_order_seq_cst) == 0) return;
        const uint64_t head = pc.head.load(std::memory_order_relaxed);
        const uint64_t floor_now = gp.floor.load(std::memory_order_relaxed);
        if (floor_now - head >= release_batch(lap) || floor_now >= gp.next.load(std::memory_order_relaxed))
            detail::wake_producers(pc);
    });
}

// An at-most-once pickup given up by its live reader, on a queue without
// drop_oldest: one release store (lease_release_own_picked).
inline void release_own_pickup(const PartitionView& view, uint64_t offset, bool advance) noexcept {
    lease_release_own_picked(view.lease(offset), offset);
    if (advance) advance_floor(view);
}

inline SettleResult ack(const PartitionView& view, uint64_t offset, uint64_t word, bool advance) noexcept {
    if (!lease_ack(view.lease(offset), offset, word))
        return SettleResult::lease_lost;  // (3): expired and handed on, or the holder was reaped
    if (advance) advance_floor(view);
    return SettleResult::ok;
}

inline uint32_t deliver_run(const DeliveryContext& ctx, const PartitionView& view, uint64_t now_mono, Delivered* out,
                            uint32_t max) noexcept {
    constexpr uint32_t kRunPrefetch = 8;
    auto& gp = *view.cursors;
    const uint64_t first = gp.next.load(std::memory_order_relaxed);  // the owner alone moves it
    const uint64_t revocations = gp.revocations.load(std::memory_order_relaxed);  // fast_ack.hpp L0
    const LeaseKind kind = ctx.at_most_once ? LeaseKind::picked : LeaseKind::leased;
    // Whether every message may have a TTL (expiry.hpp), or only those with an attribute block.
    const bool queue_ttl = ctx.region->params().message_ttl_ms != 0;
    uint32_t n = 0;
    for (; n < max; ++n) {
        const uint64_t o = first + n;
        // The slots a few ahead, whose lines come from the producer's cache:
        // their misses overlap this one's (measured: docs/PERFORMANCE.md).
        if (n + kRunPrefetch < max) {
            __builtin_prefetch(view.ring.base(o + kRunPrefetch), 0, 3);
            __builtin_prefetch(view.ring.base(o + kRunPrefetch) + layout::kCacheLine, 0, 3);
        }
        const uint64_t s = view.ring.state(o).load(std::memory_order_acquire);  // (1) pairs with publish
        if (!slot_is(s, o) || slot_kind(s) != SlotKind::committed) break;
        auto& e = view.lease(o);
        if (!lease_deliverable(e.word.load(std::memory_order_acquire), o)) break;
        // A message that may have a TTL (expiry.hpp): an expired one ends the
        // run; deliver_fresh expires it. The flags share the state's line.
        if (may_expire(queue_ttl, view.slot(o).flags) && detail_delivery::expired_now(*ctx.region, view, o)) break;
        const uint64_t leased = lease_word(kind, o, ctx.owner_id, 1);
        lease_start(e, now_mono + ctx.lease_ns);  // (1)
        // (1') word first, then (below, once) next: a new owner's take_over
        // walks the entries leased past `next` (lease_handoff_span).
        e.word.store(leased, std::memory_order_release);
        out[n] = Delivered{o, leased, 1, revocations};
    }
    if (n != 0) {
        gp.next.store(first + n, std::memory_order_release);
        gp.delivered.store(gp.delivered.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    return n;
}

inline bool deliver_fresh(const DeliveryContext& ctx, const PartitionView& view, uint64_t now_mono,
                          Delivered& out) noexcept {
    auto& gp = *view.cursors;
    for (int attempt = 0; attempt < 4096; ++attempt) {
        const uint64_t o = gp.next.load(std::memory_order_acquire);  // entries below it were leased before it moved
        const uint64_t s = view.ring.state(o).load(std::memory_order_acquire);  // (1) pairs with commit
        const int64_t d = slot_tag_distance(s, o);
        if (d < 0) return false;  // the slot still holds an older lap: o not yet claimed
        if (d > 0) {
            // The slot moved past o: released before this group held it (only
            // a corrupt region or a lapping policy gets here). Catch up to head.
            const uint64_t head = view.control->head.load(std::memory_order_acquire);  // pairs with reclaim's release
            if (head <= o) return false;
            detail_delivery::catch_up(view, head);
            continue;
        }
        const SlotKind kind = slot_kind(s);
        if (kind == SlotKind::free || kind == SlotKind::claimed) return false;  // not published yet
        // The slot's second line (the first came with the state word) on its
        // way while the lease is written: a payload past 32 bytes is there
        // (measured: docs/PERFORMANCE.md). Nothing of the slot is read before
        // the lease is ours: a peer may finish o and a producer reuse the slot.
        if (view.ring.slot_size > layout::kCacheLine)
            __builtin_prefetch(view.ring.base(o) + layout::kCacheLine, 0, 3);
        auto& e = view.lease(o);
        uint64_t w = e.word.load(std::memory_order_acquire);  // the previous lap's ack, or a peer's lease of o
        if (lease_deliverable(w, o)) {
            if (kind == SlotKind::aborted || kind == SlotKind::expired) {
                detail_delivery::skip_aborted(view, o, w);  // an aborted claim, or expired: nothing to deliver
                continue;
            }
            const uint64_t leased =
                lease_word(ctx.at_most_once ? LeaseKind::picked : LeaseKind::leased, o, ctx.owner_id, 1);
            if (now_mono == 0) now_mono = sys::coarse_monotonic_ns();
            if (ctx.exclusive) {
                // Expired: dead-lettered instead (expiry.hpp), then the next
                // offset. The owner alone finishes o: its slot is stable.
                if (may_expire(*ctx.region, view.slot(o).flags) && detail_delivery::expire_fresh(ctx, view, o, w))
                    continue;
                const uint64_t revocations = gp.revocations.load(std::memory_order_relaxed);  // fast_ack.hpp L0
                lease_start(e, now_mono + ctx.lease_ns);  // (1) the owner alone writes this entry now
                // (1') The owner is the only writer of a not-yet-delivered
                // entry, of next and of delivered (revokers only touch leased
                // entries; the owner CAS on handoff orders successive owners):
                // release stores do what the CAS does for shared groups.
                lease_deliver_owned(gp.next, e, o, leased);
                gp.delivered.store(gp.delivered.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
                out = Delivered{o, leased, 1, revocations};
                return true;
            }
            lease_start(e, 0);  // (1) peers race for o: its deadline once we won
            if (lease_deliver_shared(gp.next, e, o, w, leased)) {
                lease_set_deadline(e, now_mono + ctx.lease_ns);
                // Only now is the slot ours to read (peers finish o): expired, it is
                // dead-lettered instead of delivered (expiry.hpp).
                if (may_expire(*ctx.region, view.slot(o).flags) && detail_delivery::expire_taken(ctx, view, o, leased))
                    continue;
                gp.delivered.fetch_add(1, std::memory_order_relaxed);
                out = Delivered{o, leased, 1};
                return true;
            }
            continue;  // a peer took o first
        }
        if (lease_is(w, o)) {
            help_forward(gp.next, o);  // delivered by a peer whose next-CAS is still to come: help it
            continue;
        }
        return false;  // entry ahead of o: inconsistent; let the next call re-read
    }
    return false;
}

}  // namespace shmq::ring
