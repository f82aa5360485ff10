#include "shmq/internal/tx_resolver.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "shmq/internal/delivery.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/reclaim.hpp"

namespace shmq::tx {

using detail::Region;
using layout::TxRole;

namespace {

TxRole role_of(const layout::TxEntry& e) noexcept {
    return static_cast<TxRole>(e.role.load(std::memory_order_relaxed));
}

// Another queue's region, named by a record (untrusted): `region` is null
// when it is out of reach (permission, a damaged region: undecided), and
// `gone` when it no longer exists as the record knew it (deleted, or
// recreated with another epoch): its records went with it.
struct Named {
    std::shared_ptr<Region> held;
    Region* region = nullptr;
    bool gone = false;
};

Named open_named(Region& here, const std::string& name, uint64_t epoch) noexcept {
    Named n;
    if (name == here.name() && epoch == here.epoch()) {
        n.region = &here;
        return n;
    }
    try {
        n.held = Region::open(name, detail::Access::read_write, false);
    } catch (const Error& e) {
        n.gone = e.code() == Errc::not_found || e.code() == Errc::invalid_argument || e.code() == Errc::queue_deleted;
        return n;
    } catch (...) {
        return n;
    }
    if (n.held->epoch() != epoch) {
        n.gone = true;
        n.held.reset();
        return n;
    }
    n.region = n.held.get();
    return n;
}

// The coordinator's word about the prepared output record e of q (T5); an
// open coordinator of a late owner is aborted here (and its inputs given back).
Outcome ask_coordinator(Region& q, layout::TxEntry& e, uint64_t now_mono) noexcept {
    const std::string name = detail::load_name_words(e.coord_name_words, std::memory_order_relaxed);
    const uint64_t epoch = e.coord_epoch.load(std::memory_order_relaxed);
    const uint32_t index = e.coord_index.load(std::memory_order_relaxed);
    const uint64_t seq = e.coord_seq.load(std::memory_order_relaxed);
    Named in = open_named(q, name, epoch);
    if (in.gone) return Outcome::aborted;
    if (in.region == nullptr) return Outcome::undecided;
    if (index >= in.region->max_participants()) return Outcome::aborted;  // untrusted
    auto& ce = in.region->tx_entry(index);
    const Outcome o = coordinator_outcome(ce.word.load(std::memory_order_acquire), seq);
    if (o != Outcome::undecided || !owner_late(*in.region, index, now_mono)) return o;
    if (!abort_open(ce.word, seq)) return coordinator_outcome(ce.word.load(std::memory_order_acquire), seq);
    (void)resolve_coordinator(*in.region, index, now_mono, 0);  // its frozen inputs go back now
    return Outcome::aborted;
}

// The record's frozen inputs (owner id), decided (the coordinator's word
// `decided`): acked or given back. As for claims (T6): the owner begins its
// next transaction before it freezes for it, so a frozen word acquired while
// the record still says `decided` is that transaction's.
void settle_frozen_inputs(Region& in, uint32_t id, uint64_t decided, bool owner_dead, uint64_t now_mono,
                          uint32_t mover_id) noexcept {
    const bool commit = tx_state(decided) == TxState::committed;
    const auto& record = in.tx_entry(id - 1).word;
    const auto reason = owner_dead ? layout::DeadLetterReason::owner_died : layout::DeadLetterReason::lease_expired;
    for (uint32_t g = 0; g < in.max_groups(); ++g) {
        if (!ring::group_holds(in.group(g).state.load(std::memory_order_acquire))) continue;
        for (uint32_t p = 0; p < in.partitions(); ++p) {
            const ring::Window win = ring::lease_window(in, g, p);
            for (uint64_t o = win.floor; o < win.next; ++o) {
                const uint64_t w = in.lease(g, p, o).word.load(std::memory_order_acquire);
                if (!ring::lease_frozen_is(w, o) || ring::lease_owner(w) != id) continue;
                if (!still_decided(record, decided)) return;  // moved on: not ours to settle
                if (commit)
                    (void)ring::ack_frozen(in, g, p, o, w);
                else
                    (void)ring::thaw(in, g, p, o, w, reason, now_mono, mover_id);
            }
        }
    }
}

// Commits (committed) or aborts (any other state) the prepared claims of
// participant id `owner` in q's rings (partitions and, on_full=spill, their
// staging rings, which shmqd drains only once committed) that belong to the transaction whose
// record word is `decided`; stops as soon as the record moved on (T6).
// A committed record's claims are the owner's to finish while it is alive
// and within its deadline (it stores them, (T7)); for a late or dead one a
// round of (T7) comes before the CASes. Returns how many slots it finished.
uint32_t finish_prepared_claims(Region& q, uint32_t owner, uint64_t decided, uint64_t now_mono) noexcept {
    if (owner == 0 || owner > q.max_participants()) return 0;
    // done: a publisher's coordinator record (its own claims are an output,
    // tx_core.hpp), committed and finished; a claim still prepared under it
    // is one a round could not reach (wait_holder_outside), committed too.
    const bool commit = tx_state(decided) == TxState::committed || tx_state(decided) == TxState::done;
    if (commit && !owner_late(q, owner - 1, now_mono)) return 0;
    auto& entry = q.tx_entry(owner - 1);
    struct Found {
        uint32_t partition;
        uint64_t offset;
        bool staged;
    };
    std::vector<Found> found;
    const auto ring_of = [&q](uint32_t p, bool staged) {
        return staged ? ring::spill_ring(q, p) : ring::partition_ring(q, p);
    };
    for (const bool staged : {false, true}) {
        if (staged && q.spill_capacity() == 0) break;
        for (uint32_t p = 0; p < q.partitions(); ++p) {
            const ring::RingRef ring = ring_of(p, staged);
            const auto& pc = q.partition(p);
            const uint64_t head = (staged ? pc.spill_head : pc.head).load(std::memory_order_acquire);
            for (uint64_t o = head; o < head + ring.capacity; ++o) {
                const uint64_t c = ring.claim(o).load(std::memory_order_acquire);
                if (!ring::slot_is(c, o) || ring::slot_kind(c) != ring::SlotKind::prepared || ring::slot_owner(c) != owner)
                    continue;
                // Whose claim is it? The owner opens its next record before it
                // claims for it, and the acquire of the prepared claim word above
                // sees that: a record still `decided` after it means the claim
                // belongs to the decided transaction, not a later one.
                if (!still_decided(entry.word, decided)) goto loaded;
                found.push_back({p, o, staged});
            }
        }
    }
loaded:
    if (found.empty()) return 0;
    if (commit) {  // (T7): S5 after the loads above, the barrier, then L6
        entry.resolutions.fetch_add(1, std::memory_order_seq_cst);
        ring::revoker_barrier(q.header().commit_fence);
        if (!ring::wait_holder_outside(q, owner - 1)) return 0;  // stopped inside its stores: again at the next scan
    }
    uint32_t finished = 0;
    for (const auto& f : found) {
        // (T1): the record said so; a CAS that fails found it finished already
        // (expecting the previous lap, it cannot land on a later one).
        if (!ring::finish_claim(ring_of(f.partition, f.staged), f.offset,
                                commit ? ring::SlotKind::committed : ring::SlotKind::aborted))
            continue;
        ++finished;
        if (!commit && !f.staged) q.partition(f.partition).aborted.fetch_add(1, std::memory_order_relaxed);
    }
    if (finished != 0) {
        detail::wake_consumers(q);
        detail::wake_daemon_if_asked(q);  // journaled queues: shmqd journals what it committed
    }
    return finished;
}

// Output k of the coordinator record e: finished as `commit` says. False:
// its queue is out of reach (a commit waits for it; an abort need not, T5).
bool finish_listed_output(Region& in, const layout::TxOutput& out, bool commit, uint64_t now_mono) noexcept {
    const std::string name = detail::load_name_words(out.name_words, std::memory_order_relaxed);
    Named q = open_named(in, name, out.epoch.load(std::memory_order_relaxed));
    if (q.gone) return true;
    if (q.region == nullptr) return !commit;
    const uint32_t index = out.index.load(std::memory_order_relaxed);
    if (index >= q.region->max_participants()) return true;  // untrusted
    auto& qe = q.region->tx_entry(index);
    const uint64_t seq = out.seq.load(std::memory_order_relaxed);
    const uint64_t w = qe.word.load(std::memory_order_acquire);
    if (tx_seq(w) != seq) return true;  // never opened, or finished and moved on
    if (commit) {
        (void)move(qe.word, seq, TxState::prepared, TxState::committed);
    } else if (!abort_open(qe.word, seq)) {
        (void)move(qe.word, seq, TxState::prepared, TxState::aborted);
    }
    const uint64_t decided = qe.word.load(std::memory_order_acquire);
    if (tx_seq(decided) == seq && (tx_state(decided) == TxState::committed || tx_state(decided) == TxState::aborted))
        finish_prepared_claims(*q.region, index + 1, decided, now_mono);
    return true;
}

}  // namespace

bool owner_late(const Region& r, uint32_t index, uint64_t now_mono) noexcept {
    if (index >= r.max_participants()) return true;
    if (now_mono >= r.tx_entry(index).deadline_ns.load(std::memory_order_relaxed)) return true;
    return detail::entry_liveness(r, index) != detail::Liveness::alive;
}

namespace {

Outcome decide_output(Region& q, uint32_t index, uint64_t now_mono, uint64_t& decided) noexcept {
    if (index >= q.max_participants()) return Outcome::aborted;
    auto& e = q.tx_entry(index);
    for (int round = 0; round < 4; ++round) {
        const uint64_t w = e.word.load(std::memory_order_acquire);
        decided = w;
        if (!tx_state_valid(w)) return Outcome::aborted;
        const uint64_t seq = tx_seq(w);
        switch (tx_state(w)) {
            case TxState::committed:
            case TxState::done:
                return Outcome::committed;
            case TxState::idle:
            case TxState::aborted:
                return Outcome::aborted;
            case TxState::open:
                // (T2): a late owner's open record aborts; its prepare will fail.
                if (!owner_late(q, index, now_mono)) return Outcome::undecided;
                if (abort_open(e.word, seq)) {
                    decided = tx_word(seq, TxState::aborted);
                    return Outcome::aborted;
                }
                continue;  // it moved meanwhile: look again
            case TxState::prepared: {
                const Outcome o = ask_coordinator(q, e, now_mono);  // (T5)
                if (o == Outcome::undecided) return o;
                const TxState to = o == Outcome::committed ? TxState::committed : TxState::aborted;
                if (move(e.word, seq, TxState::prepared, to)) {
                    decided = tx_word(seq, to);
                    return o;
                }
                continue;
            }
        }
    }
    return Outcome::undecided;
}

}  // namespace

Outcome settle_output(Region& q, uint32_t index, uint64_t now_mono) noexcept {
    uint64_t decided = 0;
    const Outcome o = decide_output(q, index, now_mono, decided);
    if (o != Outcome::undecided) finish_prepared_claims(q, index + 1, decided, now_mono);
    return o;
}

bool settle_prepared(Region& q, const ring::RingRef& ring, uint64_t o, uint32_t owner, uint64_t now_mono) noexcept {
    if (owner == 0 || owner > q.max_participants()) return false;
    const uint64_t c = ring.claim(o).load(std::memory_order_acquire);
    if (!ring::slot_is(c, o) || ring::slot_kind(c) != ring::SlotKind::prepared) return false;
    return settle_output(q, owner - 1, now_mono) != Outcome::undecided;
}

bool resolve_coordinator(Region& in, uint32_t index, uint64_t now_mono, uint32_t mover_id) noexcept {
    if (index >= in.max_participants()) return true;
    auto& e = in.tx_entry(index);
    if (role_of(e) != TxRole::coordinator) return true;
    uint64_t w = e.word.load(std::memory_order_acquire);
    if (!tx_state_valid(w)) return true;  // damaged: nothing to finish
    const uint64_t seq = tx_seq(w);
    TxState s = tx_state(w);
    if (s == TxState::open) {
        if (!owner_late(in, index, now_mono)) return false;
        if (abort_open(e.word, seq)) {
            s = TxState::aborted;
        } else {
            w = e.word.load(std::memory_order_acquire);  // the owner's commit point came first
            if (tx_seq(w) != seq) return true;
            s = tx_state(w);
        }
    }
    if (s != TxState::committed && s != TxState::aborted) return true;  // idle, done (or never a coordinator's)
    const bool commit = s == TxState::committed;
    const bool owner_dead = detail::entry_liveness(in, index) != detail::Liveness::alive;
    // A live owner finishes its own commit (it is between its commit point and done).
    if (commit && !owner_dead) return false;
    settle_frozen_inputs(in, index + 1, tx_word(seq, s), owner_dead, now_mono, mover_id);  // (T4), (T6)
    bool finished = true;
    const uint32_t n = std::min(e.outputs.load(std::memory_order_acquire), layout::kMaxTxOutputs);
    const layout::TxOutput* list = in.tx_outputs(index);
    for (uint32_t k = 0; k < n; ++k) finished &= finish_listed_output(in, list[k], commit, now_mono);
    if (commit && finished) (void)move(e.word, seq, TxState::committed, TxState::done);  // (T5)
    return finished;
}

void resolve_late(Region& r, uint64_t now_mono, uint32_t mover_id) noexcept {
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        auto& e = r.tx_entry(i);
        // A dead owner whose reaper waited for this record: reaped again,
        // which finishes the record if it can and then frees the entry.
        if (e.reap_pending.load(std::memory_order_relaxed) != 0) {
            (void)detail::reap_participant(r, i, mover_id);
            continue;
        }
        const uint64_t w = e.word.load(std::memory_order_acquire);
        const TxState s = tx_state(w);
        if (!tx_state_valid(w) || (s != TxState::open && s != TxState::prepared && s != TxState::committed)) continue;
        if (role_of(e) == TxRole::coordinator) {
            if (s == TxState::open ? owner_late(r, i, now_mono)
                                   : detail::entry_liveness(r, i) != detail::Liveness::alive)
                (void)resolve_coordinator(r, i, now_mono, mover_id);
        } else if (role_of(e) == TxRole::output) {
            if (s == TxState::committed ? detail::entry_liveness(r, i) == detail::Liveness::alive
                                        : !owner_late(r, i, now_mono))
                continue;
            (void)settle_output(r, i, now_mono);
        }
    }
}

}  // namespace shmq::tx
