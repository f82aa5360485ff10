#include "shmq/internal/delivery.hpp"

#include <sched.h>

#include <algorithm>
#include <iterator>

#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/dead_letter.hpp"
#include "shmq/internal/expiry.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::ring {

namespace {

using detail::Region;
using layout::DeadLetterReason;

void decrement_saturating(std::atomic<uint32_t>& counter) noexcept {
    uint32_t cur = counter.load(std::memory_order_relaxed);
    while (cur > 0 && !counter.compare_exchange_weak(cur, cur - 1, std::memory_order_relaxed)) {
    }
}

// Due at once: never 0, which a scanner racing on the leased word takes for
// "not stamped yet" (delivery.hpp (6)).
constexpr uint64_t kDueAtOnce = 1;

// A revocation round of fast_ack.hpp over (g, p): S5 and the barrier at
// begin(), once per chunk of words loaded before it, then L6 for each
// holder before its lease's CAS. Only exclusive groups (outside
// drop_oldest) fast-ACK; elsewhere both steps are no-ops.
class RevocationRound {
public:
    RevocationRound(Region& r, uint32_t g, uint32_t p) noexcept
        : r_(r),
          gp_(r.group_partition(g, p)),
          applies_(layout::group_kind(r.group(g).state.load(std::memory_order_acquire)) ==
                       static_cast<uint8_t>(GroupKind::exclusive) &&
                   static_cast<OnFull>(r.params().on_full) != OnFull::drop_oldest) {}

    void begin() noexcept {
        if (!applies_) return;
        n_clear_ = 0;
        revocation_begin(gp_.revocations, r_.header().commit_fence);
        detail::crash_point(detail::CrashPoint::after_revocation_begin);
    }

    // L6 for the holder of `word`, once per holder after a begin(). false: it is
    // still inside a fast ACK after kFastAckWaitNs (stopped or preempted).
    bool holder_clear(uint64_t word) noexcept {
        if (!applies_) return true;
        const uint32_t id = lease_owner(word);
        if (id == 0 || id > r_.max_participants()) return true;  // untrusted: nobody can be inside
        for (uint32_t k = 0; k < n_clear_; ++k)
            if (clear_[k] == id) return true;
        if (!wait_holder_outside(r_, id - 1)) return false;
        if (n_clear_ < std::size(clear_)) clear_[n_clear_++] = id;
        return true;
    }

private:
    Region& r_;
    layout::GroupPartition& gp_;
    bool applies_;
    uint32_t clear_[8] = {};
    uint32_t n_clear_ = 0;
};

// (6) Revokes every lease in [from, to) as a handoff. Run by the partition's
// owner only (exclusive group), so it alone writes the due times after.
// `complete` false: a holder stayed inside a fast ACK; the rest was left.
uint32_t revoke_handoffs(Region& r, const PartitionView& view, uint32_t g, uint32_t p, uint64_t from, uint64_t to,
                         bool& complete) noexcept {
    const uint32_t revoked =
        lease_revoke_handoffs(view.lease_ref(), from, to, kDueAtOnce, RevocationRound(r, g, p), &complete);
    // seq_cst, after the word CASes: the hint is raised before the doorbell's waiters load, like nack's.
    if (revoked != 0) view.cursors->retry_pending.fetch_add(revoked, std::memory_order_seq_cst);
    return revoked;
}

}  // namespace

bool wait_holder_outside(detail::Region& r, uint32_t index) noexcept {
    const auto& acking = r.participant(index).acking;
    bool outside = false;
    for (int spin = 0; spin < 1024 && !(outside = holder_outside_ack(acking)); ++spin) sys::cpu_relax();
    const uint64_t until = outside ? 0 : sys::monotonic_ns() + kFastAckWaitNs;
    while (!outside) {
        // A dead holder stores nothing more; a reused entry's new occupant
        // is not inside this round's section.
        if (detail::entry_liveness(r, index) != detail::Liveness::alive) return true;
        if (sys::monotonic_ns() >= until) return false;
        ::sched_yield();
        outside = holder_outside_ack(acking);
    }
    return true;
}

Window lease_window(const Region& r, uint32_t g, uint32_t p) noexcept {
    auto& gp = r.group_partition(g, p);
    // acquire, floor first: entries below the floor are finished; entries up
    // to `next` were written (leased) before whoever stored it.
    uint64_t floor = gp.floor.load(std::memory_order_acquire);
    uint64_t next = gp.next.load(std::memory_order_acquire);
    next = std::clamp(next, floor, floor + r.capacity());
    return {floor, next};
}

namespace detail_delivery {

void catch_up(const PartitionView& view, uint64_t head) noexcept {
    const uint64_t floor = view.cursors->floor.load(std::memory_order_acquire);  // what was finished, for the count
    push_forward(view.cursors->next, head);
    push_forward(view.cursors->floor, head);
    // Passed over, never delivered: counted as skipped so acked stays exact.
    if (head > floor) view.cursors->skipped.fetch_add(head - floor, std::memory_order_relaxed);
}

void skip_aborted(const PartitionView& view, uint64_t o, uint64_t w) noexcept {
    if (lease_skip(view.lease(o), o, w)) {
        view.cursors->skipped.fetch_add(1, std::memory_order_relaxed);
        help_forward(view.cursors->next, o);
        advance_floor(view);
    }
}

bool expired_now(const Region& r, const PartitionView& view, uint64_t o) noexcept {
    const uint64_t due = expiry_unix_ns(r, view.partition, o);
    return due != 0 && due <= sys::coarse_unix_ns();
}

bool expire_fresh(const DeliveryContext& ctx, const PartitionView& view, uint64_t o, uint64_t word) noexcept {
    return expire_entry(*ctx.region, ctx.group, view.partition, o, word, sys::coarse_unix_ns(),
                        sys::coarse_monotonic_ns(), ctx.owner_id) != Expiry::not_due;
}

bool expire_taken(const DeliveryContext& ctx, const PartitionView& view, uint64_t o, uint64_t leased) noexcept {
    return expire_entry(*ctx.region, ctx.group, view.partition, o, leased, sys::coarse_unix_ns(),
                        sys::coarse_monotonic_ns(), ctx.owner_id, true) != Expiry::not_due;
}

}  // namespace detail_delivery

RetryScan deliver_retry(const DeliveryContext& ctx, uint32_t p, uint64_t now_mono, bool force,
                        Delivered& out) noexcept {
    Region& r = *ctx.region;
    auto& gp = r.group_partition(ctx.group, p);
    // acquire: pairs with the revokers' seq_cst increment after their word CAS.
    uint32_t pending = gp.retry_pending.load(std::memory_order_acquire);
    if (pending == 0 && !force) return RetryScan::none;
    const Window win = lease_window(r, ctx.group, p);
    const LeaseKind kind = ctx.at_most_once ? LeaseKind::picked : LeaseKind::leased;
    bool saw_retry = false;
    for (uint64_t o = win.floor; o < win.next; ++o) {
        auto& e = r.lease(ctx.group, p, o);
        uint64_t w = e.word.load(std::memory_order_acquire);  // (5): a retry's due time was stored before it
        if (lease_kind(w) != LeaseKind::retry || !lease_is(w, o)) continue;
        if (retry_reason(w) == RetryReason::blocked) continue;  // parked in a keyed group: its lane leases it
        // Never redelivered once expired (expiry.hpp): dead-lettered or passed over instead.
        if (may_expire(r, r.slot(p, o).flags) &&
            expire_entry(r, ctx.group, p, o, w, sys::coarse_unix_ns(), now_mono, ctx.owner_id) != Expiry::not_due)
            continue;
        if (retry_exhausted(w, r.params().max_deliveries)) {
            // Out of the line either way: a poison message waiting for DLQ room
            // holds nothing back (shmqd's and our periodic scans move it later).
            if (dead_letter(r, ctx.group, p, o, w, now_mono, ctx.owner_id) == DeadLetterResult::moved)
                decrement_saturating(gp.retry_pending);
            continue;
        }
        saw_retry = true;
        if (e.deadline_ns.load(std::memory_order_relaxed) > now_mono) {
            if (ctx.ordered) return RetryScan::held;  // the oldest waits for its delay: so does the rest
            continue;                                  // not due yet
        }
        // Ordered: restart from here. What this partition delivered after o
        // comes again after it (the owner's own stale handles get lease_lost).
        if (ctx.ordered) {
            bool complete = true;
            revoke_handoffs(r, make_view(r, p, ctx.group), ctx.group, p, o + 1, win.next, complete);
            if (!complete) return RetryScan::held;  // a holder inside a fast ACK: again at the next call
        }
        const uint64_t revocations = gp.revocations.load(std::memory_order_relaxed);  // fast_ack.hpp L0
        const uint64_t leased = redelivery_word(w, o, kind, ctx.owner_id);
        if (lease_redeliver(e, w, leased, now_mono + ctx.lease_ns)) {
            decrement_saturating(gp.retry_pending);
            gp.redelivered.fetch_add(1, std::memory_order_relaxed);
            gp.delivered.fetch_add(1, std::memory_order_relaxed);
            out = Delivered{o, leased, lease_deliveries(leased), revocations};
            return RetryScan::delivered;
        }
        // Lost the CAS: dead-lettered (shmqd) or dropped under us; the next retry is the oldest now.
    }
    // Nothing to retry at all: clear the hint unless a new retry arrived meanwhile.
    if (!saw_retry && pending != 0) gp.retry_pending.compare_exchange_strong(pending, 0, std::memory_order_relaxed);
    return RetryScan::none;
}

TakeOver take_over(const DeliveryContext& ctx, uint32_t p) noexcept {
    Region& r = *ctx.region;
    const PartitionView view = make_view(r, p, ctx.group);
    const LeaseSpan span = lease_handoff_span(view.lease_ref(), r.params().capacity);
    TakeOver out;
    out.revoked = revoke_handoffs(r, view, ctx.group, p, span.from, span.to, out.complete);
    return out;
}

SettleResult nack(Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, uint64_t delay_ns,
                  uint64_t now_mono, uint32_t mover_id) noexcept {
    auto& e = r.lease(g, p, offset);
    if (!lease_held(e, word)) return SettleResult::lease_lost;
    const uint64_t retry = retry_word(offset, word, RetryReason::nacked);
    const bool to_dlq = retry_exhausted(retry, r.params().max_deliveries);
    if (!lease_revoke(e, word, retry, to_dlq ? now_mono : now_mono + delay_ns)) return SettleResult::lease_lost;  // (5)
    auto& gp = r.group_partition(g, p);
    gp.nacked.fetch_add(1, std::memory_order_relaxed);
    if (to_dlq && dead_letter(r, g, p, offset, retry, now_mono, mover_id) == DeadLetterResult::moved)
        return SettleResult::ok;
    gp.retry_pending.fetch_add(1, std::memory_order_seq_cst);  // the hint, then the doorbell (seq_cst pair)
    detail::wake_consumers(r);
    return SettleResult::ok;
}

SettleResult extend(Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, uint64_t new_deadline) noexcept {
    // An expiry that raced the deadline store wins; report it honestly.
    if (!lease_extend(r.lease(g, p, offset), word, new_deadline)) return SettleResult::lease_lost;
    // shmqd rechecks every group within lease_ms of its last look, so only a
    // deadline sooner than a fresh lease's can come before its next look: tell it.
    if (new_deadline < sys::coarse_monotonic_ns() + sys::coarse_margin_ns() + uint64_t{r.params().lease_ms} * 1'000'000)
        detail::ring_daemon(r);
    return SettleResult::ok;
}

bool revoke(Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, DeadLetterReason reason,
            uint64_t now_mono, uint32_t mover_id) noexcept {
    auto& e = r.lease(g, p, offset);
    auto& gp = r.group_partition(g, p);
    if (lease_kind(word) == LeaseKind::picked) {
        // At-most-once: the message was given up at pickup; never redelivered.
        if (!lease_release_picked(e, offset, word)) return false;
        advance_floor(r, g, p);
        return true;
    }
    if (lease_kind(word) != LeaseKind::leased) return false;
    const uint64_t retry = retry_word(offset, word, reason);
    const bool to_dlq = retry_exhausted(retry, r.params().max_deliveries);
    if (!lease_revoke(e, word, retry, now_mono)) return false;  // (5) due at once
    if (reason == DeadLetterReason::lease_expired) gp.expired.fetch_add(1, std::memory_order_relaxed);
    if (to_dlq && mover_id != 0 && dead_letter(r, g, p, offset, retry, now_mono, mover_id) == DeadLetterResult::moved) return true;
    gp.retry_pending.fetch_add(1, std::memory_order_seq_cst);  // the hint, then the doorbell (seq_cst pair)
    detail::wake_consumers(r);
    return true;
}

bool ack_frozen(Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t frozen) noexcept {
    if (!lease_frozen_is(frozen, offset) || !lease_ack_frozen(r.lease(g, p, offset), offset, frozen_word(frozen)))
        return false;
    advance_floor(r, g, p);
    return true;
}

bool thaw(Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t frozen, DeadLetterReason reason,
          uint64_t now_mono, uint32_t mover_id) noexcept {
    if (!lease_frozen_is(frozen, offset)) return false;
    const uint64_t leased = frozen_word(frozen);
    const uint64_t retry = retry_word(offset, leased, reason);
    const bool to_dlq = retry_exhausted(retry, r.params().max_deliveries);
    if (!lease_thaw(r.lease(g, p, offset), leased, retry, now_mono)) return false;
    auto& gp = r.group_partition(g, p);
    if (reason == DeadLetterReason::lease_expired) gp.expired.fetch_add(1, std::memory_order_relaxed);
    if (reason == DeadLetterReason::nacked) gp.nacked.fetch_add(1, std::memory_order_relaxed);
    if (to_dlq && mover_id != 0 && dead_letter(r, g, p, offset, retry, now_mono, mover_id) == DeadLetterResult::moved) return true;
    gp.retry_pending.fetch_add(1, std::memory_order_seq_cst);  // the hint, then the doorbell (seq_cst pair)
    detail::wake_consumers(r);
    return true;
}

uint32_t expire_leases(Region& r, uint32_t g, uint32_t p, uint64_t now_mono, uint32_t mover_id,
                       uint64_t* earliest) noexcept {
    const Window win = lease_window(r, g, p);
    const uint64_t lease_ns = uint64_t{r.params().lease_ms} * 1'000'000;
    uint64_t now_unix = 0;  // read only if something needs stamping
    uint32_t expired = 0;
    RevocationRound round(r, g, p);
    for (uint64_t o = win.floor; o < win.next;) {
        // The leases to take, loaded before the round begins (fast_ack.hpp (b)).
        uint64_t at[kRoundLeases];
        uint64_t words[kRoundLeases];
        uint32_t n = 0;
        for (; o < win.next && n < kRoundLeases; ++o) {
            auto& e = r.lease(g, p, o);
            const uint64_t w = e.word.load(std::memory_order_acquire);  // the lease to stamp or judge; revoke CASes it
            const auto kind = lease_kind(w);
            if ((kind != LeaseKind::leased && kind != LeaseKind::picked) || !lease_is(w, o)) continue;
            uint64_t deadline = e.deadline_ns.load(std::memory_order_relaxed);
            if (deadline == 0 && lease_stamp(e, now_mono + lease_ns)) deadline = now_mono + lease_ns;  // (1) unstamped
            if (e.last_delivery_unix_ns.load(std::memory_order_relaxed) == 0) {
                // First sight of this delivery: its wall-clock times (for the DLQ and stat).
                if (now_unix == 0) now_unix = sys::coarse_unix_ns();
                uint64_t zero = 0;
                e.first_delivery_unix_ns.compare_exchange_strong(zero, now_unix, std::memory_order_relaxed);
                zero = 0;
                e.last_delivery_unix_ns.compare_exchange_strong(zero, now_unix, std::memory_order_relaxed);
            }
            if (kind == LeaseKind::picked) continue;  // never expires: its holder reads it
            if (deadline >= now_mono || deadline == 0) {  // 0: a peer stamps it as we look
                if (earliest != nullptr && deadline != 0) *earliest = std::min(*earliest, deadline);
                continue;
            }
            at[n] = o;
            words[n++] = w;
        }
        if (n != 0) round.begin();
        for (uint32_t k = 0; k < n; ++k) {
            if (!round.holder_clear(words[k])) {
                // Its holder is inside a fast ACK (stopped there?): again soon.
                if (earliest != nullptr) *earliest = std::min(*earliest, now_mono + 10 * kFastAckWaitNs);
                return expired;
            }
            if (revoke(r, g, p, at[k], words[k], DeadLetterReason::lease_expired, now_mono, mover_id)) ++expired;
        }
    }
    return expired;
}

void advance_floor(Region& r, uint32_t g, uint32_t p) noexcept { advance_floor(make_view(r, p, g)); }

}  // namespace shmq::ring
