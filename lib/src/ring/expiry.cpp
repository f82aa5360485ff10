#include "shmq/internal/expiry.hpp"

#include <algorithm>
#include <span>

#include "shmq/internal/attributes.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/dead_letter.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::ring {

namespace {

using detail::Region;
using layout::DeadLetterReason;

bool is_keyed(const Region& r, uint32_t g) noexcept {
    return layout::group_kind(r.group(g).state.load(std::memory_order_acquire)) ==
           static_cast<uint8_t>(GroupKind::keyed);
}

bool is_parked(uint64_t w, uint64_t o) noexcept {
    return lease_kind(w) == LeaseKind::retry && lease_is(w, o) && retry_reason(w) == RetryReason::blocked;
}

void decrement_saturating(std::atomic<uint32_t>& counter) noexcept {
    uint32_t cur = counter.load(std::memory_order_relaxed);
    while (cur > 0 && !counter.compare_exchange_weak(cur, cur - 1, std::memory_order_relaxed)) {
    }
}

// After g's entry of o went to acked(o) without a delivery: cursors, floor,
// and, for a retry (a message its keyed lane indexed), the key's next one.
// `fresh`: the entry had never been delivered (or only just taken by the caller).
void after_finish(Region& r, uint32_t g, uint32_t p, uint64_t o, uint64_t word, bool fresh, uint32_t mover_id) noexcept {
    auto& gp = r.group_partition(g, p);
    if (!fresh && !is_parked(word, o))
        decrement_saturating(gp.retry_pending);  // parked entries are no retries to scan for
    advance_floor(r, g, p);
    if (!fresh && is_keyed(r, g)) keyed_dead_lettered(r, g, p, o, mover_id);
}

// Passing over: the slot is expired(o, *) and g's entry holds `word` (never
// delivered, or a retry). One CAS to acked(o).
Expiry pass_over(Region& r, uint32_t g, uint32_t p, uint64_t o, uint64_t word, bool fresh, uint32_t mover_id) noexcept {
    uint64_t expected = word;
    if (!r.lease(g, p, o).word.compare_exchange_strong(expected, lease_word(LeaseKind::acked, o),
                                                       std::memory_order_acq_rel, std::memory_order_relaxed))
        return Expiry::lost;
    auto& gp = r.group_partition(g, p);
    gp.skipped.fetch_add(1, std::memory_order_relaxed);
    if (fresh) help_forward(gp.next, o);  // next may still be at o
    after_finish(r, g, p, o, word, fresh, mover_id);
    return Expiry::passed;
}

}  // namespace

uint64_t expiry_unix_ns(const Region& r, uint32_t p, uint64_t o) noexcept {
    if (r.params().history != 0) return 0;
    const auto& h = r.slot(p, o);
    uint64_t ttl_ms = r.params().message_ttl_ms;
    if ((h.flags & layout::kSlotAttributes) != 0) {
        const uint32_t len = std::min<uint32_t>(h.payload_len, r.params().max_message);
        attrs::View v;
        if (attrs::parse(std::span<const std::byte>(r.slot_payload(p, o), len), v) && v.ttl_ms != 0)
            ttl_ms = ttl_ms == 0 ? v.ttl_ms : std::min<uint64_t>(ttl_ms, v.ttl_ms);
    }
    if (ttl_ms == 0) return 0;
    return std::max<uint64_t>(h.publish_unix_ns + ttl_ms * 1'000'000, 1);
}

Expiry expire_entry(Region& r, uint32_t g, uint32_t p, uint64_t o, uint64_t word, uint64_t now_unix,
                    uint64_t now_mono, uint32_t mover_id, bool taken) noexcept {
    const bool fresh = taken || lease_kind(word) == LeaseKind::acked;
    const RingRef ring = partition_ring(r, p);
    uint64_t s = ring.state(o).load(std::memory_order_acquire);
    if (!slot_is(s, o)) return Expiry::lost;
    if (slot_kind(s) == SlotKind::expired) {
        // (E2) by another mover, not yet (E4): leave it (a lease just taken goes on: it is in flight).
        if (slot_owner(s) != 0) return taken ? Expiry::not_due : Expiry::busy;
        return pass_over(r, g, p, o, word, fresh, mover_id);
    }
    if (slot_kind(s) != SlotKind::committed) return Expiry::lost;
    // Read after the caller's load of `word`, which (E1) checks is unchanged.
    const uint64_t due = expiry_unix_ns(r, p, o);
    if (due == 0 || due > now_unix) return Expiry::not_due;

    // (E1) the move-lease keeps the word's counts (a revocation is judged as its last delivery was).
    auto& e = r.lease(g, p, o);
    auto& gp = r.group_partition(g, p);
    const uint64_t moving = lease_word(LeaseKind::leased, o, mover_id, lease_counted(word), lease_handoffs(word));
    if (!lease_move_begin(e, word, moving, now_mono + uint64_t{r.params().lease_ms} * 1'000'000))
        return Expiry::lost;
    // Within [floor, next) from here, as a delivery's lease is: where reapers and lease expiry look.
    if (fresh) help_forward(gp.next, o);
    // (E2)
    if (!ring.state(o).compare_exchange_strong(s, slot_state(o, SlotKind::expired, mover_id),
                                               std::memory_order_acq_rel, std::memory_order_acquire)) {
        // Marked meanwhile by another group's mover (or it was not ours to mark).
        if (slot_is(s, o) && slot_kind(s) == SlotKind::expired && slot_owner(s) == 0) {
            if (!lease_move_finish(e, o, moving)) return Expiry::lost;
            gp.skipped.fetch_add(1, std::memory_order_relaxed);
            after_finish(r, g, p, o, word, fresh, mover_id);
            return Expiry::passed;
        }
        lease_move_give_back(e, moving, word);
        if (taken) return Expiry::not_due;  // ours again: delivered after all (it was in flight first)
        return slot_kind(s) == SlotKind::expired ? Expiry::busy : Expiry::lost;
    }
    // (E3)
    auto& dlq = r.dlq();
    bool copied = false;
    if (static_cast<TtlAction>(r.params().ttl_action) == TtlAction::dlq) {
        const RingRef dlq_ring_ref = dlq_ring(r);
        uint64_t pos = 0;
        uint64_t limit = 0;
        if (try_claim(dlq_ring_ref, mover_id, limit, pos) == ClaimResult::claimed) {
            copy_to_dlq(r, g, p, o, pos, DeadLetterReason::ttl, fresh ? 0 : lease_deliveries(word));
            copied = commit(dlq_ring_ref, pos);  // false: we were reaped meanwhile; the reaper redoes it
            if (!copied) return Expiry::lost;
        }
    }
    // (E4)
    uint64_t marked = slot_state(o, SlotKind::expired, mover_id);
    if (!ring.state(o).compare_exchange_strong(marked, slot_state(o, SlotKind::expired), std::memory_order_release,
                                               std::memory_order_relaxed))
        return Expiry::lost;  // put back by a reaper that took us for dead: redone by the next look
    dlq.expired_ttl.fetch_add(1, std::memory_order_relaxed);
    if (!copied) dlq.expired_ttl_dropped.fetch_add(1, std::memory_order_relaxed);
    if (!lease_move_finish(e, o, moving)) return Expiry::expired;  // revoked: the next look passes it over
    if (copied) {
        gp.dead_lettered.fetch_add(1, std::memory_order_relaxed);
        dlq.dead_lettered.fetch_add(1, std::memory_order_relaxed);
        sys::ring_doorbell(r.header().dlq_doorbell, r.header().dlq_waiters);
    } else {
        gp.skipped.fetch_add(1, std::memory_order_relaxed);
    }
    after_finish(r, g, p, o, word, fresh, mover_id);
    return Expiry::expired;
}

uint32_t expire_partition(Region& r, uint32_t p, uint64_t now_unix, uint64_t now_mono, uint32_t mover_id,
                          uint64_t* next_due) noexcept {
    if (!queue_may_expire(r)) return 0;
    const RingRef ring = partition_ring(r, p);
    const uint64_t tail = load_tail(*ring.tail);
    // Queue TTL alone: expiry follows publish order, so the first message
    // not yet due ends the look. Messages with TTLs of their own: all of it.
    const bool in_order = r.dlq().message_ttls.load(std::memory_order_relaxed) == 0;
    uint64_t from = tail;
    for (uint32_t g = 0; g < r.max_groups(); ++g)
        if (group_holds(r.group(g).state.load(std::memory_order_acquire)))
            from = std::min(from, lease_window(r, g, p).floor);
    if (tail - from > r.capacity()) from = tail - r.capacity();  // untrusted
    uint32_t expired = 0;
    for (uint64_t o = from; o < tail; ++o) {
        const uint64_t s = ring.state(o).load(std::memory_order_acquire);
        if (!slot_is(s, o)) continue;
        if (slot_kind(s) == SlotKind::committed) {
            // A racy look (no entry held): expire_entry decides again after its load.
            const uint64_t due = expiry_unix_ns(r, p, o);
            if (due == 0) continue;
            if (due > now_unix) {
                if (next_due != nullptr) *next_due = std::min(*next_due, due);
                if (in_order) break;
                continue;
            }
        } else if (slot_kind(s) != SlotKind::expired) {
            continue;
        } else if (const uint32_t x = slot_owner(s); x != 0) {
            // Marked by a mover between (E2) and (E4): a dead one is reaped
            // here (without shmqd nobody else may), which puts the slot back.
            if (x <= r.max_participants() && detail::entry_liveness(r, x - 1) == detail::Liveness::dead)
                (void)detail::reap_participant(r, x - 1, mover_id);
            continue;
        }
        for (uint32_t g = 0; g < r.max_groups(); ++g) {
            const uint64_t gs = r.group(g).state.load(std::memory_order_acquire);
            if (!group_holds(gs)) continue;
            const Window win = lease_window(r, g, p);
            if (o < win.floor) continue;
            const uint64_t w = r.lease(g, p, o).word.load(std::memory_order_acquire);
            const bool fresh = lease_deliverable(w, o);
            const bool retry = lease_kind(w) == LeaseKind::retry && lease_is(w, o) && !is_parked(w, o);
            // Exclusive and keyed groups' never-delivered entries are their deliverers' (see the header).
            if (!retry && !(fresh && layout::group_kind(gs) == static_cast<uint8_t>(GroupKind::shared))) continue;
            const Expiry x = expire_entry(r, g, p, o, w, now_unix, now_mono, mover_id);
            if (x == Expiry::expired) ++expired;
            if (x == Expiry::busy) break;
        }
    }
    return expired;
}

uint32_t unmark_dead_expiries(Region& r, uint32_t p, uint32_t id) noexcept {
    const RingRef ring = partition_ring(r, p);
    const uint64_t tail = load_tail(*ring.tail);
    const uint64_t head = r.partition(p).head.load(std::memory_order_acquire);
    uint32_t n = 0;
    for (uint64_t o = tail - std::min<uint64_t>(tail - head, r.capacity()); o < tail; ++o) {
        uint64_t s = slot_state(o, SlotKind::expired, id);
        if (ring.state(o).compare_exchange_strong(s, slot_state(o, SlotKind::committed), std::memory_order_acq_rel,
                                                  std::memory_order_relaxed))
            ++n;
    }
    return n;
}

}  // namespace shmq::ring
