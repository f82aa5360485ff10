// Keyed groups: the lane index over a group's lease table
// (shmq/internal/keyed_lane.hpp has the protocol, K1-K3).
#include <sched.h>

#include <algorithm>

#include "hash.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::ring {

namespace {

using detail::Region;

constexpr uint32_t kIndexPerHold = 64;       // offsets indexed per lock hold: finishers wait no longer
constexpr int kLockSpins = 256;  // then yield: a holder preempted on a busy machine gets the CPU back
constexpr uint64_t kRepairWaitNs = 2'000'000;  // keyed_repair's wait for the lock, then the next scan's job
constexpr uint64_t kFinisherWaitNs = 100'000'000;  // a finisher's, when the mailbox is full

std::string_view slot_key(const PartitionView& v, uint64_t o) noexcept {
    const uint32_t len = std::min<uint32_t>(v.slot(o).key_len, layout::kMaxKeyBytes);  // untrusted
    return {reinterpret_cast<const char*>(v.key(o)), len};
}

uint64_t key_hash(std::string_view key) noexcept { return detail::fnv1a64(key) | 1; }

bool is_parked(uint64_t w, uint64_t o) noexcept {
    return lease_kind(w) == LeaseKind::retry && lease_is(w, o) && retry_reason(w) == RetryReason::blocked;
}

// Finished for the group: below the floor, or acked(o) exactly.
bool finished(const PartitionView& v, uint64_t o, uint64_t floor) noexcept {
    if (o < floor) return true;
    const uint64_t w = v.lease(o).word.load(std::memory_order_acquire);
    return lease_kind(w) == LeaseKind::acked && lease_is(w, o);
}

// The deadline word (kParked | kQueued? | pred) of o if o is parked behind
// a finished predecessor (and, with `unqueued`, not in the ready FIFO yet);
// 0 otherwise.
uint64_t parked_and_free(const PartitionView& v, uint64_t o, uint64_t floor, bool unqueued) noexcept {
    auto& e = v.lease(o);
    if (!is_parked(e.word.load(std::memory_order_acquire), o)) return 0;
    const uint64_t d = e.deadline_ns.load(std::memory_order_relaxed);
    if ((d & kParked) == 0 || (unqueued && (d & kQueued) != 0) || !finished(v, d & kParkedPredMask, floor)) return 0;
    return d;
}

// The lane lock: an owner lock, broken when its holder died. `dead` is set
// when this call broke one (the lane may be half-written: repair it).
bool lock_lane(const Region& r, const KeyedLane& lane, uint64_t token, uint64_t wait_ns, bool& dead) noexcept {
    auto& lock = lane.header->lock;
    uint64_t until = 0;
    for (int spin = 0;; ++spin) {
        // Test, then test-and-set: waiters spin on their cached copy, not with RMWs on the holder's line.
        if (lock.load(std::memory_order_relaxed) == 0 && detail::try_owner_lock(lock, token)) return true;
        if (spin < kLockSpins) {
            sys::cpu_relax();
            continue;
        }
        if (detail::break_lock_if_dead(r, lock)) {
            dead = true;
            continue;
        }
        const uint64_t now = sys::monotonic_ns();
        if (until == 0) until = now + wait_ns;
        if (now >= until) return false;
        ::sched_yield();
    }
}

struct LaneLock {
    LaneLock(Region& r, const PartitionView& v, const KeyedLane& lane, uint64_t token, uint64_t wait_ns) noexcept
        : lane_(lane), token_(token) {
        bool dead = false;
        held = lock_lane(r, lane, token, wait_ns, dead);
        if (held && dead) {
            lane.header->repairs.fetch_add(1, std::memory_order_relaxed);
            rebuild_ready(v);
        }
        if (held) take_mailbox(v);
    }
    ~LaneLock() {
        if (held) detail::owner_unlock(lane_.header->lock, token_);
    }
    LaneLock(const LaneLock&) = delete;
    LaneLock& operator=(const LaneLock&) = delete;

    // After a dead holder: a pop it made may be lost, so forget every
    // kQueued mark and queue again from the lease table.
    void rebuild_ready(const PartitionView& v) noexcept;
    void queue_finished_preds(const PartitionView& v) noexcept;
    bool push(const PartitionView& v, uint64_t s, uint64_t parked) noexcept;
    // o finished: queues its successor if that is still parked behind it. True if it did.
    bool queue_successor(const PartitionView& v, uint64_t o) noexcept;
    // The finishes left in the mailbox by finishers that found the lock taken.
    void take_mailbox(const PartitionView& v) noexcept;

    bool held = false;

private:
    const KeyedLane& lane_;
    uint64_t token_;
};

// Under the lock: s (parked, deadline `parked`) to the ready FIFO.
bool LaneLock::push(const PartitionView& v, uint64_t s, uint64_t parked) noexcept {
    auto& h = *lane_.header;
    const uint64_t head = h.ready_head.load(std::memory_order_relaxed);
    const uint64_t tail = h.ready_tail.load(std::memory_order_relaxed);
    if (tail - head >= lane_.capacity) return false;  // only after a crash's duplicates: keyed_repair again later
    lane_.ready[tail & (lane_.capacity - 1)].store(s, std::memory_order_relaxed);
    // seq_cst: the doorbell's waiters load (wake_consumers) comes after it.
    h.ready_tail.store(tail + 1, std::memory_order_seq_cst);
    v.lease(s).deadline_ns.store(parked | kQueued, std::memory_order_relaxed);
    return true;
}

void LaneLock::queue_finished_preds(const PartitionView& v) noexcept {
    const uint64_t floor = v.cursors->floor.load(std::memory_order_acquire);
    uint64_t next = v.cursors->next.load(std::memory_order_acquire);
    next = std::clamp(next, floor, floor + lane_.capacity);
    for (uint64_t o = floor; o < next; ++o) {
        const uint64_t d = parked_and_free(v, o, floor, /*unqueued=*/false);
        if (d != 0 && !push(v, o, d & ~kQueued)) break;
    }
}

bool LaneLock::queue_successor(const PartitionView& v, uint64_t o) noexcept {
    const uint64_t s = lane_.successors[o & (lane_.capacity - 1)].load(std::memory_order_relaxed);
    if (s <= o || s - o >= lane_.capacity) return false;  // untrusted, or none
    auto& e = v.lease(s);
    if (!is_parked(e.word.load(std::memory_order_acquire), s)) return false;
    const uint64_t d = e.deadline_ns.load(std::memory_order_relaxed);
    if (d != (kParked | o)) return false;  // behind another offset, or queued already
    return push(v, s, d);
}

void LaneLock::take_mailbox(const PartitionView& v) noexcept {
    for (auto& slot : lane_.header->finished) {
        if (slot.load(std::memory_order_relaxed) == 0) continue;
        const uint64_t o = slot.exchange(0, std::memory_order_acq_rel);  // acquire: the finish happened before
        if (o != 0) (void)queue_successor(v, o - 1);
    }
}

void LaneLock::rebuild_ready(const PartitionView& v) noexcept {
    auto& h = *lane_.header;
    h.ready_head.store(h.ready_tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
    queue_finished_preds(v);
}

// (K1): the KeyTail of `hash`, or the one to take for it; nullptr: the
// window holds kKeyProbe other keys, each with an unfinished tail.
layout::KeyTail* find_tail(const PartitionView& v, const KeyedLane& lane, uint64_t hash, uint64_t floor,
                           bool& found) noexcept {
    const uint64_t n = lane.capacity * layout::kKeyTailsPerSlot;
    layout::KeyTail* reusable = nullptr;
    found = false;
    for (uint32_t i = 0; i < kKeyProbe; ++i) {
        layout::KeyTail& t = lane.tails[(hash + i) & (n - 1)];
        const uint64_t h = t.hash.load(std::memory_order_relaxed);
        if (h == hash) {
            found = true;
            return &t;
        }
        // Never used: the key is not further on (KeyTails are never emptied,
        // and a key takes the first free one of its window).
        if (h == 0) return reusable != nullptr ? reusable : &t;
        if (reusable == nullptr && finished(v, t.tail.load(std::memory_order_relaxed), floor)) reusable = &t;
    }
    return reusable;
}

// The lock was taken (its holder may be preempted): leaves finished offset o
// for the next holder (LaneLock::take_mailbox), whom the caller's doorbell
// calls; the seq_cst CAS orders it before the doorbell's waiters load.
bool leave_in_mailbox(const KeyedLane& lane, uint64_t o) noexcept {
    for (auto& slot : lane.header->finished) {
        uint64_t empty = 0;
        if (slot.load(std::memory_order_relaxed) == 0 &&
            slot.compare_exchange_strong(empty, o + 1, std::memory_order_seq_cst))
            return true;
    }
    return false;
}

enum class Indexed { leased, parked, skipped, empty, full };

// (K1)-(K3) for o = next. `out` is filled when leased.
Indexed index_one(const DeliveryContext& ctx, const PartitionView& v, const KeyedLane& lane, LaneLock& locked,
                  uint64_t now_mono, Delivered& out) noexcept {
    auto& gp = *v.cursors;
    const uint64_t o = gp.next.load(std::memory_order_acquire);
    const uint64_t s = v.ring.state(o).load(std::memory_order_acquire);  // pairs with the commit
    if (!slot_is(s, o)) return Indexed::empty;  // not claimed yet (drop_oldest queues refuse keyed groups)
    const SlotKind kind = slot_kind(s);
    if (kind == SlotKind::free || kind == SlotKind::claimed) return Indexed::empty;
    auto& e = v.lease(o);
    uint64_t w = e.word.load(std::memory_order_acquire);
    if (lease_is(w, o)) {  // done by a holder that died before moving next
        help_forward(gp.next, o);
        return Indexed::skipped;
    }
    if (!lease_deliverable(w, o)) return Indexed::empty;  // inconsistent: let the next call re-read
    if (kind == SlotKind::aborted || kind == SlotKind::expired) {
        detail_delivery::skip_aborted(v, o, w);
        return Indexed::skipped;
    }
    // Expired (expiry.hpp): dead-lettered, never indexed. Under the lock no
    // peer finishes o (the scans leave keyed groups' fresh entries alone).
    if (may_expire(*ctx.region, v.slot(o).flags) && detail_delivery::expire_fresh(ctx, v, o, w))
        return Indexed::skipped;
    const uint64_t floor = v.cursors->floor.load(std::memory_order_acquire);
    const std::string_view key = slot_key(v, o);
    uint64_t decision = 0;  // kParked | pred, or 0: lease now
    layout::KeyTail* t = nullptr;
    if (!key.empty()) {
        const uint64_t hash = key_hash(key);
        bool found = false;
        t = find_tail(v, lane, hash, floor, found);
        if (t == nullptr) return Indexed::full;
        if (found && t->tail.load(std::memory_order_acquire) == o) {
            decision = e.deadline_ns.load(std::memory_order_relaxed);  // a redo: (K2) was stored
            if ((decision & kParked) == 0) decision = 0;
        } else if (found) {
            const uint64_t pred = t->tail.load(std::memory_order_relaxed);
            // Untrusted: a pred is an earlier offset within one lap.
            if (pred < o && o - pred < lane.capacity && !finished(v, pred, floor)) decision = kParked | pred;
        }
        e.deadline_ns.store(decision, std::memory_order_relaxed);  // (K2), before the tail names o
        t->hash.store(hash, std::memory_order_relaxed);
        t->tail.store(o, std::memory_order_release);
    }
    if (decision != 0) {  // (K3) parked behind its pred
        const uint64_t pred = decision & kParkedPredMask;
        lane.successors[pred & (lane.capacity - 1)].store(o, std::memory_order_relaxed);
        const uint64_t parked = lease_word(LeaseKind::retry, o, static_cast<uint32_t>(RetryReason::blocked), 0, 0);
        if (!e.word.compare_exchange_strong(w, parked, std::memory_order_acq_rel, std::memory_order_acquire))
            return Indexed::skipped;  // changed under us (corrupt): re-read
        help_forward(gp.next, o);
        // (K4) pred may have finished since (K1), its finisher looking at
        // successor[pred] before our store: an RMW of pred's word (release,
        // after that store) reads its latest value. Either it reads the
        // finisher's ACK (we queue o), or the finisher's ACK RMW comes later
        // and acquires ours, so the finisher sees o (and queues it).
        const uint64_t now_pred = v.lease(pred).word.fetch_add(0, std::memory_order_acq_rel);
        if (lease_kind(now_pred) == LeaseKind::acked && lease_is(now_pred, pred)) (void)locked.push(v, o, decision);
        return Indexed::parked;
    }
    const uint64_t leased = lease_word(ctx.at_most_once ? LeaseKind::picked : LeaseKind::leased, o, ctx.owner_id, 1);
    lease_start(e, 0);  // delivery.hpp (1): a scanner stamps an unstamped lease
    if (!lease_deliver_shared(gp.next, e, o, w, leased)) return Indexed::skipped;
    lease_set_deadline(e, now_mono + ctx.lease_ns);
    gp.delivered.fetch_add(1, std::memory_order_relaxed);
    out = Delivered{o, leased, 1};
    return Indexed::leased;
}

// Pops the ready FIFO until one entry can be leased.
bool lease_ready(const DeliveryContext& ctx, const PartitionView& v, const KeyedLane& lane, uint64_t now_mono,
                 Delivered& out) noexcept {
    auto& h = *lane.header;
    const uint64_t floor = v.cursors->floor.load(std::memory_order_acquire);
    const uint64_t next = v.cursors->next.load(std::memory_order_acquire);
    for (uint64_t head = h.ready_head.load(std::memory_order_relaxed);
         head != h.ready_tail.load(std::memory_order_relaxed); ) {
        const uint64_t s = lane.ready[head & (lane.capacity - 1)].load(std::memory_order_relaxed);
        h.ready_head.store(++head, std::memory_order_relaxed);
        if (s < floor || s >= next) continue;  // untrusted, or stale
        auto& e = v.lease(s);
        uint64_t w = e.word.load(std::memory_order_acquire);
        if (!is_parked(w, s)) continue;  // a duplicate, already leased
        const uint64_t d = e.deadline_ns.load(std::memory_order_relaxed);
        if ((d & kParked) == 0 || !finished(v, d & kParkedPredMask, floor)) continue;
        // Expired while it waited: dead-lettered (its successor queued) instead.
        if (may_expire(*ctx.region, v.slot(s).flags) &&
            expire_entry(*ctx.region, ctx.group, v.partition, s, w, sys::coarse_unix_ns(), now_mono, ctx.owner_id) !=
                Expiry::not_due)
            continue;
        const uint64_t leased = redelivery_word(w, s, ctx.at_most_once ? LeaseKind::picked : LeaseKind::leased,
                                                ctx.owner_id);  // counted 0 + 1: its first delivery
        if (!lease_redeliver(e, w, leased, now_mono + ctx.lease_ns)) continue;
        v.cursors->delivered.fetch_add(1, std::memory_order_relaxed);
        out = Delivered{s, leased, lease_deliveries(leased)};
        return true;
    }
    return false;
}

}  // namespace

KeyedLane keyed_lane(const Region& r, uint32_t lane, uint32_t p) noexcept {
    const uint64_t cap = r.capacity();
    std::byte* base = r.keyed_lane_base(lane, p);
    KeyedLane l;
    l.header = reinterpret_cast<layout::KeyedLaneHeader*>(base);
    l.tails = reinterpret_cast<layout::KeyTail*>(base + layout::keyed_tails_at(cap));
    l.successors = reinterpret_cast<std::atomic<uint64_t>*>(base + layout::keyed_successors_at(cap));
    l.ready = reinterpret_cast<std::atomic<uint64_t>*>(base + layout::keyed_ready_at(cap));
    l.capacity = cap;
    return l;
}

int32_t group_keyed_lane(const Region& r, uint32_t g) noexcept {
    const uint32_t lane = r.group(g).keyed_lane.load(std::memory_order_acquire);
    if (lane == 0 || lane > r.params().keyed_groups) return -1;  // untrusted
    return static_cast<int32_t>(lane - 1);
}

void reset_keyed_lane(const Region& r, uint32_t lane, uint64_t group_state) noexcept {
    for (uint32_t p = 0; p < r.partitions(); ++p) {
        const KeyedLane l = keyed_lane(r, lane, p);
        for (uint64_t i = 0; i < l.capacity * layout::kKeyTailsPerSlot; ++i) {
            l.tails[i].hash.store(0, std::memory_order_relaxed);
            l.tails[i].tail.store(0, std::memory_order_relaxed);
        }
        l.header->ready_head.store(0, std::memory_order_relaxed);
        l.header->ready_tail.store(0, std::memory_order_relaxed);
        for (auto& slot : l.header->finished) slot.store(0, std::memory_order_relaxed);
        l.header->repairs.store(0, std::memory_order_relaxed);
        l.header->rescued.store(0, std::memory_order_relaxed);
        l.header->group_state.store(group_state, std::memory_order_release);
    }
}

uint32_t deliver_keyed(const DeliveryContext& ctx, const PartitionView& view, const KeyedLane& lane,
                       uint64_t now_mono, uint64_t token, Delivered* out, uint32_t max, KeyedDelivery& how) noexcept {
    Region& r = *ctx.region;
    uint32_t n = 0;
    how = KeyedDelivery::none;
    while (n < max) {
        LaneLock locked(r, view, lane, token, 0);
        if (!locked.held) {
            if (n == 0) how = KeyedDelivery::busy;
            break;
        }
        if (now_mono == 0) now_mono = sys::coarse_monotonic_ns();
        while (n < max && lease_ready(ctx, view, lane, now_mono, out[n])) ++n;
        // A long run of busy keys: let finishers in every kIndexPerHold, then go on.
        bool more = true;
        for (uint32_t k = 0; k < kIndexPerHold && n < max && more; ++k) {
            switch (index_one(ctx, view, lane, locked, now_mono, out[n])) {
                case Indexed::leased: ++n; break;
                case Indexed::parked:
                case Indexed::skipped: break;
                case Indexed::empty: more = false; break;
                case Indexed::full:
                    if (n == 0) how = KeyedDelivery::busy;
                    more = false;
                    break;
            }
        }
        if (!more) break;
    }
    if (n != 0) how = KeyedDelivery::delivered;
    return n;
}

void keyed_finished(Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t o, uint64_t token) noexcept {
    const uint64_t s = lane.successors[o & (lane.capacity - 1)].load(std::memory_order_relaxed);
    // A cheap look first, without the lock: most finishes have no successor.
    if (s <= o || s - o >= lane.capacity) return;
    {
        LaneLock locked(r, view, lane, token, 0);
        if (locked.held) {
            if (!locked.queue_successor(view, o)) return;
        } else if (!leave_in_mailbox(lane, o)) {
            // Taken, and the mailbox full: wait for the holder (yielding to
            // it), a while; a stopped holder leaves it to keyed_repair.
            LaneLock waited(r, view, lane, token, kFinisherWaitNs);
            if (!waited.held || !waited.queue_successor(view, o)) return;
        }
    }
    detail::wake_consumers(r);
}

void keyed_dead_lettered(Region& r, uint32_t g, uint32_t p, uint64_t o, uint32_t mover_id) noexcept {
    const int32_t lane = group_keyed_lane(r, g);
    if (lane < 0 || mover_id == 0 || mover_id > r.max_participants()) return;  // the periodic scan finds it
    // The mover's own token, for the lane lock (it is alive: it is us).
    const uint64_t state = r.participant(mover_id - 1).state.load(std::memory_order_acquire);
    const uint64_t token = layout::owner_token(mover_id, layout::participant_gen(state));
    keyed_finished(r, make_view(r, p, g), keyed_lane(r, static_cast<uint32_t>(lane), p), o, token);
}

uint32_t keyed_repair(Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t token,
                      KeyedSuspects& suspects) noexcept {
    // Looks without the lock (the window may hold a long backlog); takes it
    // only to queue what it found twice, each checked again under it.
    const KeyedSuspects before = suspects;
    suspects.n = 0;
    constexpr std::size_t kFound = 64;
    uint64_t found[kFound];
    uint32_t queued = 0;
    const uint64_t floor = view.cursors->floor.load(std::memory_order_acquire);
    const uint64_t next = std::clamp(view.cursors->next.load(std::memory_order_acquire), floor, floor + lane.capacity);
    for (uint64_t o = floor; o < next;) {
        std::size_t n = 0;
        for (; o < next && n < kFound; ++o) {
            if (parked_and_free(view, o, floor, /*unqueued=*/true) == 0) continue;
            const bool seen = std::binary_search(before.offsets, before.offsets + before.n, o);
            if (!seen && suspects.n < KeyedSuspects::kMax) {
                suspects.offsets[suspects.n++] = o;  // ascending, as the scan goes
                continue;
            }
            found[n++] = o;
        }
        if (n == 0) continue;
        LaneLock locked(r, view, lane, token, kRepairWaitNs);
        if (!locked.held) break;  // again at the next scan
        for (std::size_t i = 0; i < n; ++i) {
            const uint64_t d = parked_and_free(view, found[i], floor, /*unqueued=*/true);
            if (d != 0 && locked.push(view, found[i], d)) ++queued;
        }
    }
    if (queued != 0) {
        lane.header->rescued.fetch_add(queued, std::memory_order_relaxed);
        detail::wake_consumers(r);
    }
    return queued;
}

KeyedBlocked keyed_blocked(const Region& r, uint32_t g, uint32_t p) noexcept {
    KeyedBlocked out;
    const Window win = lease_window(r, g, p);
    const PartitionView v = make_view(r, p, g);
    for (uint64_t o = win.floor; o < win.next; ++o) {
        auto& e = v.lease(o);
        if (!is_parked(e.word.load(std::memory_order_acquire), o)) continue;
        ++out.messages;
        const uint64_t pred = e.deadline_ns.load(std::memory_order_relaxed) & kParkedPredMask;
        // A chain's first parked entry waits behind its key's head, which is not parked.
        if (pred < win.floor || pred >= o || !is_parked(v.lease(pred).word.load(std::memory_order_acquire), pred))
            ++out.keys;
        if (out.oldest_publish_unix_ns == 0) out.oldest_publish_unix_ns = v.slot(o).publish_unix_ns;
    }
    return out;
}

}  // namespace shmq::ring
