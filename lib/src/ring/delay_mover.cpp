// Moving due delayed messages into their partitions (shmq/internal/delay_mover.hpp).
#include "shmq/internal/delay_mover.hpp"

#include <cstring>

#include "producer_core.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::detail::delay {

namespace {

// Publishes a stored message as its send would have (timeout 0: a full
// partition leaves it in the store). The attribute block, if any, is the
// first block_len bytes of the stored payload (layout.hpp).
Status publish(ProducerCore& core, const StoredMessage& m) noexcept {
    SendOptions options;
    options.key = m.key;
    options.timeout = Millis(0);
    if (m.partition != 0) options.partition = m.partition - 1;
    options.dedup_id = m.id;
    SendOutcome outcome;
    if ((m.flags & layout::kSlotAttributes) == 0) return core.send_outcome(m.payload, options, outcome);
    uint16_t block_len = 0;
    if (m.payload.size() < sizeof block_len) return Errc::invalid_argument;
    std::memcpy(&block_len, m.payload.data(), sizeof block_len);
    if (block_len == 0 || block_len % 8 != 0 || block_len > m.payload.size()) return Errc::invalid_argument;
    return core.send_attributed(m.payload.subspan(block_len), options, m.payload.first(block_len), &outcome);
}

bool retryable(Errc e) noexcept {
    return e == Errc::timeout || e == Errc::overloaded || e == Errc::writer_busy || e == Errc::claim_aborted;
}

}  // namespace

MoveReport move_due(ProducerCore& core, uint64_t now_unix_ns, bool plan) noexcept {
    Region& r = *core.region;
    MoveReport rep;
    if (r.delay_capacity() == 0) return rep;
    const uint64_t token = core.me.token();
    if (!lock(r, token, false)) {
        rep.busy = true;
        rep.next_due_unix_ns = next_due_guess(r);
        return rep;
    }
    StoredMessage m;
    while (due_top(r, now_unix_ns, m)) {
        if (rep.moved + rep.failed == kMovesPerHold) {
            rep.more = true;
            break;
        }
        const Status st = publish(core, m);
        if (st.ok()) {
            pop_top(r, false);  // (D2): after the commit
            ++rep.moved;
        } else if (retryable(st.code())) {
            rep.blocked = true;
            break;
        } else if (st.code() == Errc::queue_deleted || st.code() == Errc::region_corrupt) {
            break;
        } else {
            pop_top(r, true);  // refused for good: a damaged entry
            ++rep.failed;
        }
    }
    rep.next_due_unix_ns = next_due_guess(r);
    if (plan) set_mover_wake(r, rep.blocked ? now_unix_ns + kBlockedRetryNs : rep.next_due_unix_ns);
    unlock(r, token);
    return rep;
}

bool daemon_serving(const Region& r) noexcept {
    return sys::byte_is_locked_by_other(r.probe_fd(), layout::kDaemonLockByte);
}

bool peer_should_move(const Region& r, uint64_t now_unix_ns) noexcept {
    const uint64_t due = next_due_guess(r);
    if (due > now_unix_ns) return false;
    return now_unix_ns - due > kHelpAfterNs || !daemon_serving(r);
}

Mover::~Mover() {
    if (core_ != nullptr) core_->release_handle();
}

void Mover::detach_if_idle(uint64_t now_unix_ns, uint64_t next_due_unix_ns) noexcept {
    // A producer participant attached keeps the queue's real producers from
    // the automatic writer role (they are not alone): only while moving soon.
    if (core_ != nullptr && (next_due_unix_ns == layout::kNoDue || next_due_unix_ns > now_unix_ns + kDetachAfterNs))
        std::exchange(core_, nullptr)->release_handle();
}

MoveReport Mover::run(uint64_t now_unix_ns, bool plan) noexcept {
    MoveReport rep;
    Region& r = *region_;
    if (r.delay_capacity() == 0 || r.deleted()) return rep;
    if (next_due_guess(r) > now_unix_ns) {
        // Nothing due. shmqd records its plan under the lock (with its own
        // token: no producer needed), so that an add racing this sees the
        // plan and rings (delay_store.hpp, add).
        if (plan && plan_token_ != 0) {
            if (!lock(r, plan_token_, false)) {
                rep.busy = true;
                return rep;
            }
            rep.next_due_unix_ns = next_due_guess(r);
            const bool nothing_due = rep.next_due_unix_ns > now_unix_ns;
            if (nothing_due) set_mover_wake(r, rep.next_due_unix_ns);
            unlock(r, plan_token_);
            if (!nothing_due) return run(now_unix_ns, plan);  // one came due meanwhile
        } else {
            rep.next_due_unix_ns = next_due_guess(r);
        }
        detach_if_idle(now_unix_ns, rep.next_due_unix_ns);
        return rep;
    }
    if (core_ == nullptr) {
        try {
            core_ = make_producer_core(region_, WriterMode::shared);
        } catch (...) {
            rep.busy = true;  // no free participant entry: try again later
            rep.next_due_unix_ns = next_due_guess(r);
            return rep;
        }
    }
    rep = move_due(*core_, now_unix_ns, plan);
    if (!rep.blocked && !rep.more && !rep.busy) detach_if_idle(now_unix_ns, rep.next_due_unix_ns);
    return rep;
}

}  // namespace shmq::detail::delay
