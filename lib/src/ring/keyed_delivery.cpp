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
constexpr int kLockSpins = 4096;             // before a delivering consumer calls the lane busy
constexpr uint64_t kFinisherWaitNs = 2'000'000;  // a finisher's wait for the lock, then keyed_repair's job

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

// The lane lock: an owner lock, broken when its holder died. `dead` is set
// when this call broke one (the lane may be half-written: repair it).
bool lock_lane(const Region& r, const KeyedLane& lane, uint64_t token, uint64_t wait_ns, bool& dead) noexcept {
    auto& lock = lane.header->lock;
    uint64_t until = 0;
    for (int spin = 0;; ++spin) {
        if (detail::try_owner_lock(lock, token)) return true;
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
    }
    ~LaneLock() {
        if (held) detail::owner_unlock(lane_.header->lock, token_);
    }
    LaneLock(const LaneLock&) = delete;
    LaneLock& operator=(const LaneLock&) = delete;

    // After a dead holder: a pop it made may be lost, so forget every
    // kQueued mark and queue again from the lease table.
    void rebuild_ready(const PartitionView& v) noexcept;
    uint32_t queue_finished_preds(const PartitionView& v, bool requeue) noexcept;
    bool push(const PartitionView& v, uint64_t s, uint64_t parked) noexcept;

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

uint32_t LaneLock::queue_finished_preds(const PartitionView& v, bool requeue) noexcept {
    const uint64_t floor = v.cursors->floor.load(std::memory_order_acquire);
    uint64_t next = v.cursors->next.load(std::memory_order_acquire);
    next = std::clamp(next, floor, floor + lane_.capacity);
    uint32_t queued = 0;
    for (uint64_t o = floor; o < next; ++o) {
        auto& e = v.lease(o);
        if (!is_parked(e.word.load(std::memory_order_acquire), o)) continue;
        const uint64_t d = e.deadline_ns.load(std::memory_order_relaxed);
        if ((d & kParked) == 0 || ((d & kQueued) != 0 && !requeue)) continue;
        if (!finished(v, d & kParkedPredMask, floor)) continue;
        if (!push(v, o, d & ~kQueued)) break;
        ++queued;
    }
    return queued;
}

void LaneLock::rebuild_ready(const PartitionView& v) noexcept {
    auto& h = *lane_.header;
    h.ready_head.store(h.ready_tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
    (void)queue_finished_preds(v, /*requeue=*/true);
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

enum class Indexed { leased, parked, skipped, empty, full };

// (K1)-(K3) for o = next. `out` is filled when leased.
Indexed index_one(const DeliveryContext& ctx, const PartitionView& v, const KeyedLane& lane, uint64_t now_mono,
                  Delivered& out) noexcept {
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
    if (kind == SlotKind::aborted) {
        detail_delivery::skip_aborted(v, o, w);
        return Indexed::skipped;
    }
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
        lane.successors[(decision & kParkedPredMask) & (lane.capacity - 1)].store(o, std::memory_order_relaxed);
        const uint64_t parked = lease_word(LeaseKind::retry, o, static_cast<uint32_t>(RetryReason::blocked), 0, 0);
        if (!e.word.compare_exchange_strong(w, parked, std::memory_order_acq_rel, std::memory_order_acquire))
            return Indexed::skipped;  // changed under us (corrupt): re-read
        help_forward(gp.next, o);
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
        l.header->repairs.store(0, std::memory_order_relaxed);
        l.header->group_state.store(group_state, std::memory_order_release);
    }
}

KeyedDelivery deliver_keyed(const DeliveryContext& ctx, const PartitionView& view, const KeyedLane& lane,
                            uint64_t now_mono, uint64_t token, Delivered& out) noexcept {
    Region& r = *ctx.region;
    for (;;) {
        LaneLock locked(r, view, lane, token, 0);
        if (!locked.held) return KeyedDelivery::busy;
        if (now_mono == 0) now_mono = sys::coarse_monotonic_ns();
        if (lease_ready(ctx, view, lane, now_mono, out)) return KeyedDelivery::delivered;
        // A long run of busy keys: let finishers in every kIndexPerHold, then go on.
        for (uint32_t n = 0; n < kIndexPerHold; ++n) {
            switch (index_one(ctx, view, lane, now_mono, out)) {
                case Indexed::leased: return KeyedDelivery::delivered;
                case Indexed::parked:
                case Indexed::skipped: break;
                case Indexed::empty: return KeyedDelivery::none;
                case Indexed::full: return KeyedDelivery::busy;
            }
        }
    }
}

void keyed_finished(Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t o, uint64_t token) noexcept {
    const uint64_t s = lane.successors[o & (lane.capacity - 1)].load(std::memory_order_relaxed);
    // A cheap look first, without the lock: most finishes have no successor.
    if (s <= o || s - o >= lane.capacity) return;
    {
        LaneLock locked(r, view, lane, token, kFinisherWaitNs);
        if (!locked.held) return;  // keyed_repair queues it
        const uint64_t again = lane.successors[o & (lane.capacity - 1)].load(std::memory_order_relaxed);
        if (again != s) return;
        auto& e = view.lease(s);
        if (!is_parked(e.word.load(std::memory_order_acquire), s)) return;
        const uint64_t d = e.deadline_ns.load(std::memory_order_relaxed);
        if (d != (kParked | o)) return;  // behind another offset, or queued already
        if (!locked.push(view, s, d)) return;
    }
    detail::wake_consumers(r);
}

uint32_t keyed_repair(Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t token) noexcept {
    uint32_t queued = 0;
    {
        LaneLock locked(r, view, lane, token, 0);
        if (!locked.held) return 0;
        queued = locked.queue_finished_preds(view, /*requeue=*/false);
    }
    if (queued != 0) detail::wake_consumers(r);
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
