// Model check of the transaction commit protocol (shmq/internal/tx_protocol.hpp
// (T1)-(T6)) with relacy: the real tx::begin, prepare_output, commit_point,
// abort_open, move, coordinator_outcome and still_decided on the records'
// words, the real lease_freeze / lease_ack_frozen_owned / lease_thaw /
// lease_revoke / lease_ack of lease_protocol.hpp on the inputs' lease
// entries, and the real try_claim and finish_claim (commit_protocol.hpp
// (2)-(4)) on the output slots, all on model atomics. Two tests.
//
// commit: one transaction: an input (offset 0 of IN, leased to the owner), two
// outputs (offset 0 of Q1 and of Q2, claimed by the owner). Its words: the
// coordinator record C (IN's TxEntry of the consumer), the output records
// Q1 and Q2 (each queue's TxEntry of the producer), the input's lease
// entry L, and per output its slot (state and claim words, an rl::var
// payload). Four threads:
//   - the owner: claims both slots; begin(C), begin(Q1), begin(Q2); writes
//     both payloads and stores each claim word prepared(0, P) (release);
//     prepare_output(Q1), prepare_output(Q2); lease_freeze(L); commit_point(C);
//     then lease_ack_frozen_owned(L) and commit_output(Qi) (stores), and commit
//     slot i, mark_done(C). On any failure before its commit
//     point: abort(C), abort its outputs (open or prepared -> aborted) and
//     their slots, thaw a frozen input back to its lease and nack it
//     (lease_revoke to retry; nacked), or nack an unfrozen one.
//   - a resolver (a peer: the owner is past its deadline): abort_open(C),
//     abort_open(Q1), abort_open(Q2); a prepared output record it settles by
//     coordinator_outcome(C), committed or aborted; it commits the slot of a
//     committed record (T1) and aborts the prepared slot of an aborted one;
//     once C is aborted it thaws a frozen input to retry.
//   - a revoker (lease expiry): revokes L to retry whenever it holds a leased
//     word that lease_is offset 0; it passes a frozen word over (T4).
//   - a reader of Q1 and Q2: waits until each slot is finished and reads its
//     payload (rl::var, after the acquire load of the state) if committed.
// Whatever the interleaving and the memory model allow, at the end either
// the input is acked and both slots committed, or the input is back for
// redelivery (retry) and both slots aborted; the records agree (C done or
// aborted, Q1 and Q2 committed or aborted with it); the reader read exactly
// the committed payloads, with no data race. The counts printed say how
// often each side won: the commit, the resolver's abort of C, the
// revoker's expiry before the freeze, the resolver's abort of an open output
// before its prepare.
//
// reuse: the records reused (T6). The owner's transaction 1 on C and one
// output record Q: input offset 0 of IN (leased), output offset 0 of Q's
// ring; transaction 2 on the same C and Q: input offset 1 (leased from the
// start), output offset 1 of the same ring. Three threads:
//   - the owner, late for transaction 1 only: begin(C), begin(Q) (before the
//     claim, T6), claims, writes the payload, stores the claim word prepared
//     (release), prepare_output(Q), lease_freeze, commit_point(C), then as
//     the commit test. Failed (the resolver aborted C or the open Q): it
//     aborts its side as the commit test's owner (thaw back, nack), then runs
//     transaction 2 the same way; its deadline is far: nothing aborts it.
//   - a resolver (tx_resolver.cpp), in either order (rl::rand): the
//     coordinator as resolve_coordinator (abort_open(C, 1); C aborted(1):
//     settle_frozen_inputs, which acquire-loads each lease of [0, 2) and,
//     frozen by the owner, thaws it to retry only if still_decided(C,
//     aborted(1))); the output as decide_output, late only for seq 1
//     (abort_open(Q, 1), or a prepared(1) decided by C, aborting an open C),
//     then finish_prepared_claims(decided): each prepared claim word of the
//     owner in [0, 2), acquire-loaded, is finished as decided only if
//     still_decided(Q, decided); a record that moved on stops the scan.
//   - a reader of Q's offset 0 and, if it was aborted, offset 1.
// At the end either transaction 1 committed (slot 0 committed and read,
// input 0 acked, C done(1), Q committed(1), no transaction 2), or it aborted
// and transaction 2 committed: slot 0 aborted and not read, slot 1 committed
// and read, input 0 back to retry, input 1 acked, C done(2), Q committed(2);
// no data race. The counts printed say how often the re-check found the
// record moved on (a claim or frozen input of transaction 2).
//
// Built with SHMQ_MODEL_WEAKEN, the test named on the command line runs one
// mistake, which relacy must catch (ctest tx_model_weakened_<x>):
//   (a) no freeze: the owner acks with a plain lease_ack after its commit
//       point, so the revoker can take the input before that ack (between
//       the commit point and the ack, or before the commit point, which
//       nothing checks now): committed outputs, input redelivered;
//   (b) commit point first: the owner freezes and commits before it
//       prepares its outputs, so the resolver aborts an open output after
//       the commit point;
//   (c) blind abort: the resolver aborts a prepared output record without
//       consulting the coordinator;
//   (d) no re-check (reuse): the resolver finishes the prepared claims and
//       thaws the frozen inputs it finds without still_decided, so one that
//       decided aborted(1) aborts transaction 2's slot or thaws its input
//       (the bug transaction_race_test.cpp caught): the owner's commit of its
//       slot fails, or its input is no longer frozen, after its commit point. The
//       claims' half is caught within a few hundred iterations; the inputs'
//       half alone is reached rarely (the re-check stops at a frozen input
//       some 60-90 times in 300 000; caught once near iteration 180 000).
//       (a)-(c) run the commit test, (d) the reuse test.
//
// Usage: shmq_tx_model [iterations] [commit|reuse|all]   (all: both, the default)
//        shmq_tx_model_weakened <iterations> <a|b|c|d>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <utility>

#include "model_tags.hpp"

#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/tx_protocol.hpp"

#include "model_lease.hpp"
#include "model_ring.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

using tx::TxState;
using ring::SlotKind;

constexpr uint32_t kOwner = 1;  // participant id of the owner (consumer of IN, producer on Q1, Q2)
constexpr uint64_t kIn = 0;     // the input's offset in IN
constexpr uint64_t kOut = 0;    // each output's offset in its queue
constexpr uint64_t kSeq = 1;    // every record's first transaction (from idle(0))
const uint64_t kLeased = lease_word(LeaseKind::leased, kIn, kOwner, 1);
constexpr uint64_t kPayload[2] = {101, 102};

using Ring = BasicModelRing<2, Ordering::as_written>;

// The mistake a weakened run makes (argv[2]).
enum class Mistake { none, no_freeze, commit_first, blind_abort, no_recheck };
Mistake g_mistake = Mistake::none;

// The owner's steps after which its deadline may pass or its lease run out.
constexpr unsigned kSteps = 10;

// Why the owner aborted (or that it committed): the sides of the races.
enum class Owner : unsigned { committed, c_aborted, input_lost, output_aborted, count };

struct TxCommit : rl::test_suite<TxCommit, 4> {
    ModelAtomic c{tx::tx_word(0, TxState::idle)};  // the coordinator record's word
    ModelAtomic q[2] = {ModelAtomic{tx::tx_word(0, TxState::idle)}, ModelAtomic{tx::tx_word(0, TxState::idle)}};
    ModelLeaseEntry in;  // the input's lease entry
    Ring out[2];         // Q1's and Q2's rings (capacity 2); the outputs are their offset 0

    // Harness memory (relacy's threads are fibers of one OS thread).
    Owner owner_result = Owner::count;
    bool delivered[2] = {};
    bool resolver_aborted_c = false, resolver_aborted_q = false, resolver_settled = false;
    bool resolver_committed_slot = false, resolver_thawed = false, revoked = false;
    // Model time: the owner's deadline passes (the resolver may act) and its
    // lease runs out (the revoker may act) after its step late_at and
    // expires_at, each drawn by rl::rand (kSteps: once it is done). Plain
    // harness memory: it orders nothing.
    unsigned step = 0, late_at = kSteps, expires_at = kSteps;
    bool late = false, expired = false;

    void tick() {
        ++step;
        if (step >= late_at) late = true;
        if (step >= expires_at) expired = true;
    }

    void before() { in.word.store(kLeased, std::memory_order_relaxed); }

    void thread(unsigned index) {
        if (index == 0)
            own();
        else if (index == 1)
            resolve();
        else if (index == 2)
            expire();
        else
            read();
    }

    // --- the owner (shmq::Transaction) ------------------------------------

    bool prepared[2] = {};
    bool frozen = false;

    void own() {
        late_at = 1 + rl::rand(kSteps);
        expires_at = 1 + rl::rand(kSteps);
        steps();
        late = expired = true;
    }

    void steps() {
        for (unsigned i = 0; i < 2; ++i) {
            uint64_t limit = 0;
            RL_ASSERT(claim(out[i], kOwner, limit) == kOut);  // the real try_claim
        }
        tick();
        uint64_t seq = 0;
        RL_ASSERT(tx::begin(c, seq) && seq == kSeq);
        tick();
        for (unsigned i = 0; i < 2; ++i) RL_ASSERT(tx::begin(q[i], seq) && seq == kSeq);
        tick();
        // (T2): the payload, then the claim word prepared(o, P) (release).
        for (unsigned i = 0; i < 2; ++i) {
            out[i].slot(kOut).payload($) = kPayload[i];
            out[i].ref().claim(kOut).store(ring::slot_state(kOut, SlotKind::prepared, kOwner),
                                           std::memory_order_release);
        }
        tick();
        if (g_mistake == Mistake::commit_first) {
            // (b) the mistake: freeze and commit, then prepare the outputs.
            if (!ring::lease_freeze(in, kLeased)) return abort_tx(Owner::input_lost);
            frozen = true;
            tick();
            if (!tx::commit_point(c, kSeq)) return abort_tx(Owner::c_aborted);
            tick();
            for (unsigned i = 0; i < 2; ++i) {
                prepared[i] = tx::prepare_output(q[i], kSeq);
                tick();
            }
            return finish_committed();
        }
        for (unsigned i = 0; i < 2; ++i) {  // (T2)
            if (!tx::prepare_output(q[i], kSeq)) return abort_tx(Owner::output_aborted);
            prepared[i] = true;
            tick();
        }
        if (g_mistake != Mistake::no_freeze) {  // (T4); (a) the mistake: no freeze
            if (!ring::lease_freeze(in, kLeased)) return abort_tx(Owner::input_lost);
            frozen = true;
            tick();
        }
        if (!tx::commit_point(c, kSeq)) return abort_tx(Owner::c_aborted);  // (T3)
        tick();
        finish_committed();
    }

    void finish_committed() {
        owner_result = Owner::committed;
        if (frozen) {
            // (T4): only the decision unfreezes, so the word is still frozen
            // and the owner's ACK is a store.
            RL_ASSERT(in.word.load(std::memory_order_acquire) == ring::frozen_word(kLeased));
            ring::lease_ack_frozen_owned(in, kIn);
        } else {
            (void)ring::lease_ack(in, kIn, kLeased);  // (a): may have lost the lease already
        }
        tick();
        for (unsigned i = 0; i < 2; ++i) {
            // (T2): after the commit point every output record is prepared (or
            // a resolver committed it already).
            const uint64_t qw = q[i].load(std::memory_order_acquire);
            RL_ASSERT(qw == tx::tx_word(kSeq, TxState::prepared) || qw == tx::tx_word(kSeq, TxState::committed));
            tx::commit_output(q[i], kSeq);
            // (T1) commit_protocol.hpp (3); false: the resolver committed it.
            if (!ring::commit(out[i].ref(), kOut))
                RL_ASSERT(state_of(i) == ring::slot_state(kOut, SlotKind::committed));
            tick();
        }
        RL_ASSERT(c.load(std::memory_order_acquire) == tx::tx_word(kSeq, TxState::committed));
        tx::mark_done(c, kSeq);  // (T5): every output committed
    }

    void abort_tx(Owner why) {
        owner_result = why;
        if (!tx::abort_open(c, kSeq))  // a peer aborted it first
            RL_ASSERT(c.load(std::memory_order_acquire) == tx::tx_word(kSeq, TxState::aborted));
        tick();
        for (unsigned i = 0; i < 2; ++i) {
            const bool mine = prepared[i] ? tx::move(q[i], kSeq, TxState::prepared, TxState::aborted)
                                          : tx::abort_open(q[i], kSeq);
            if (!mine) RL_ASSERT(q[i].load(std::memory_order_acquire) == tx::tx_word(kSeq, TxState::aborted));
            // commit_protocol.hpp (4); false: the resolver aborted it.
            if (!ring::finish_claim(out[i].ref(), kOut, SlotKind::aborted))
                RL_ASSERT(state_of(i) == ring::slot_state(kOut, SlotKind::aborted));
            tick();
        }
        // The input goes back: a frozen one first to the owner's lease
        // (may lose to the resolver's thaw to retry), then a nack (may lose to
        // the resolver or to expiry).
        if (frozen) (void)ring::lease_thaw(in, kLeased, kLeased, kLate);
        tick();
        (void)ring::lease_revoke(in, kLeased, ring::retry_word(kIn, kLeased, ring::RetryReason::nacked), kLate);
    }

    uint64_t state_of(unsigned i) { return out[i].ref().state(kOut).load(std::memory_order_acquire); }

    // --- the resolver (a peer; the owner is past its deadline) ---------------

    void resolve() {
        while (!late) rl::yield(1, $);
        // It finds the transaction by its coordinator record, once opened.
        while (tx::tx_state(c.load(std::memory_order_acquire)) == TxState::idle) rl::yield(1, $);
        resolver_aborted_c = tx::abort_open(c, kSeq);  // (T3)
        for (unsigned i = 0; i < 2; ++i)
            if (tx::abort_open(q[i], kSeq)) resolver_aborted_q = true;  // (T2): only an open one
        for (unsigned i = 0; i < 2; ++i) settle(i);
        if (tx::coordinator_outcome(c.load(std::memory_order_acquire), kSeq) == tx::Outcome::aborted) {
            // (T4) aborted(S): a frozen input goes back to retry.
            const uint64_t w = in.word.load(std::memory_order_acquire);
            if (w == ring::frozen_word(kLeased))
                resolver_thawed = ring::lease_thaw(
                    in, kLeased, ring::retry_word(kIn, kLeased, ring::RetryReason::lease_expired), kLate);
        }
    }

    // One output: a prepared record decided by the coordinator (T5), then
    // its slot finished as the record says (T1).
    void settle(unsigned i) {
        uint64_t w = q[i].load(std::memory_order_acquire);
        if (w == tx::tx_word(kSeq, TxState::prepared)) {
            resolver_settled = true;
            if (g_mistake == Mistake::blind_abort) {
                (void)tx::move(q[i], kSeq, TxState::prepared, TxState::aborted);  // (c) the mistake
            } else {
                switch (tx::coordinator_outcome(c.load(std::memory_order_acquire), kSeq)) {
                    case tx::Outcome::committed:
                        (void)tx::move(q[i], kSeq, TxState::prepared, TxState::committed);
                        break;
                    case tx::Outcome::aborted:
                        (void)tx::move(q[i], kSeq, TxState::prepared, TxState::aborted);
                        break;
                    case tx::Outcome::undecided:
                        RL_ASSERT(false);  // C is decided once the resolver's abort of it failed or won
                        break;
                }
            }
            w = q[i].load(std::memory_order_acquire);
        }
        const uint64_t claimed = out[i].ref().claim(kOut).load(std::memory_order_acquire);
        const bool prepared_slot = claimed == ring::slot_state(kOut, SlotKind::prepared, kOwner);
        if (w == tx::tx_word(kSeq, TxState::committed)) {
            // (T2): the record was prepared after the claim word, so the
            // acquire of the record shows it.
            RL_ASSERT(prepared_slot);
            if (ring::commit(out[i].ref(), kOut)) resolver_committed_slot = true;
        } else if (w == tx::tx_word(kSeq, TxState::aborted) && prepared_slot) {
            (void)ring::finish_claim(out[i].ref(), kOut, SlotKind::aborted);
        }
        // open (or not begun when it tried): the owner, alive, finishes it.
    }

    // --- the revoker (shmqd's expire_leases; the lease ran out) ---------------

    void expire() {
        while (!expired) rl::yield(1, $);
        for (;;) {
            const uint64_t w = in.word.load(std::memory_order_acquire);
            if (ring::lease_kind(w) == LeaseKind::leased && ring::lease_is(w, kIn)) {
                if (ring::lease_revoke(in, w, ring::retry_word(kIn, w, ring::RetryReason::lease_expired), kLate))
                    revoked = true;
                continue;
            }
            if (!ring::lease_frozen_is(w, kIn)) return;  // acked or retry: settled
            rl::yield(1, $);  // frozen: passed over until the decision settles it
        }
    }

    // --- a consumer of Q1 and of Q2 ---------------------------------------

    void read() {
        for (unsigned i = 0; i < 2; ++i) {
            Found f;
            while ((f = look(out[i], kOut)) == Found::nothing_yet) rl::yield(1, $);
            if (f == Found::message) {
                RL_ASSERT(out[i].slot(kOut).payload($) == kPayload[i]);
                delivered[i] = true;
            }
        }
    }

    void after() {
        const uint64_t input = in.word.load(std::memory_order_relaxed);
        const bool acked = input == lease_word(LeaseKind::acked, kIn);
        bool committed[2], aborted[2];
        for (unsigned i = 0; i < 2; ++i) {
            const uint64_t s = out[i].ref().state(kOut).load(std::memory_order_relaxed);
            committed[i] = s == ring::slot_state(kOut, SlotKind::committed);
            aborted[i] = s == ring::slot_state(kOut, SlotKind::aborted);
            RL_ASSERT(committed[i] || aborted[i]);  // every output finished
        }
        RL_ASSERT(committed[0] == committed[1]);  // never one slot committed and the other aborted
        RL_ASSERT(!(acked && (aborted[0] || aborted[1])));  // never the input acked while a slot is aborted
        RL_ASSERT(acked == committed[0]);  // input acked exactly when the outputs commit
        if (!acked) RL_ASSERT(ring::lease_kind(input) == LeaseKind::retry && ring::lease_is(input, kIn));
        const TxState decided = committed[0] ? TxState::committed : TxState::aborted;
        RL_ASSERT(c.load(std::memory_order_relaxed) ==
                  tx::tx_word(kSeq, committed[0] ? TxState::done : TxState::aborted));
        for (unsigned i = 0; i < 2; ++i) {
            RL_ASSERT(q[i].load(std::memory_order_relaxed) == tx::tx_word(kSeq, decided));
            RL_ASSERT(delivered[i] == committed[i]);  // read exactly the committed payloads
        }
        RL_ASSERT((owner_result == Owner::committed) == committed[0]);
        ++g_owner[static_cast<unsigned>(owner_result)];
        g_resolver_aborted_c += resolver_aborted_c;
        g_resolver_aborted_q += resolver_aborted_q;
        g_resolver_settled += resolver_settled;
        g_resolver_committed_slot += resolver_committed_slot;
        g_resolver_thawed += resolver_thawed;
        g_revoked += revoked;
    }

    static inline unsigned long g_owner[static_cast<unsigned>(Owner::count) + 1] = {};
    static inline unsigned long g_resolver_aborted_c = 0, g_resolver_aborted_q = 0, g_resolver_settled = 0,
                                g_resolver_committed_slot = 0, g_resolver_thawed = 0, g_revoked = 0;
    static void report() {
        std::cout << "   committed: " << g_owner[0] << "; aborted: by the resolver's abort of C "
                  << g_owner[1] << ", the input lost to expiry before the freeze " << g_owner[2]
                  << ", an output aborted by the resolver before its prepare " << g_owner[3] << '\n'
                  << "   resolver: aborted C " << g_resolver_aborted_c << ", aborted an open output "
                  << g_resolver_aborted_q << ", settled a prepared output " << g_resolver_settled
                  << ", committed a slot " << g_resolver_committed_slot << ", thawed the input to retry "
                  << g_resolver_thawed << "; revoker: expired the lease " << g_revoked << '\n';
    }
};

// --- reuse: a resolver's late abort of transaction 1 races the owner's next ---

// The owner's steps of transaction 1 after which its deadline may pass.
constexpr unsigned kReuseSteps = 6;
const uint64_t kLeasedIn[2] = {lease_word(LeaseKind::leased, 0, kOwner, 1),
                                lease_word(LeaseKind::leased, 1, kOwner, 1)};

struct TxReuse : rl::test_suite<TxReuse, 3> {
    ModelAtomic c{tx::tx_word(0, TxState::idle)};  // the coordinator record (IN's TxEntry of the consumer)
    ModelAtomic q{tx::tx_word(0, TxState::idle)};  // the output record (Q's TxEntry of the producer)
    ModelLeaseEntry in[2];  // the inputs' lease entries, offsets 0 and 1 of IN, both leased to the owner
    Ring out;               // Q's ring: transaction t's output is its offset t

    // Harness memory.
    bool committed[2] = {}, ran[2] = {}, delivered[2] = {};
    unsigned step = 0, late_at = kReuseSteps;
    bool late = false;
    bool resolver_aborted_c = false, resolver_aborted_q = false, resolver_aborted_slot = false,
         resolver_thawed = false, stopped_claim = false, stopped_lease = false;

    void before() {
        for (unsigned t = 0; t < 2; ++t) in[t].word.store(kLeasedIn[t], std::memory_order_relaxed);
    }

    void thread(unsigned index) {
        if (index == 0)
            own();
        else if (index == 1)
            resolve();
        else
            read();
    }

    void tick() {
        if (++step >= late_at) late = true;
    }

    // --- the owner: transaction 1, late; if it fails, transaction 2 (deadline far) on the same records

    void own() {
        late_at = 1 + rl::rand(kReuseSteps);
        if (!run(0)) (void)run(1);
        late = true;
    }

    // Transaction t + 1: input offset t, output offset t. true: committed.
    bool run(unsigned t) {
        ran[t] = true;
        const uint64_t leased = kLeasedIn[t];
        uint64_t seq = 0;
        RL_ASSERT(tx::begin(c, seq) && seq == t + 1);
        tick();
        // (T6): the output record opens before the claim for this transaction.
        RL_ASSERT(tx::begin(q, seq) && seq == t + 1);
        tick();
        uint64_t limit = 0;
        RL_ASSERT(claim(out, kOwner, limit) == t);  // the real try_claim
        out.slot(t).payload($) = kPayload[t];
        out.ref().claim(t).store(ring::slot_state(t, SlotKind::prepared, kOwner), std::memory_order_release);  // (T2)
        tick();
        if (!tx::prepare_output(q, seq)) return abort_tx(t, false, false);
        tick();
        // (T4), (T6): after begin(C). Nobody revokes here: no expiry in this test.
        RL_ASSERT(ring::lease_freeze(in[t], leased));
        tick();
        if (!tx::commit_point(c, seq)) return abort_tx(t, true, true);  // (T3)
        tick();
        // (d): a resolver thawed it to retry; else still frozen, and the ACK a store.
        RL_ASSERT(in[t].word.load(std::memory_order_acquire) == ring::frozen_word(leased));
        ring::lease_ack_frozen_owned(in[t], t);
        const uint64_t qw = q.load(std::memory_order_acquire);
        RL_ASSERT(qw == tx::tx_word(seq, TxState::prepared) || qw == tx::tx_word(seq, TxState::committed));
        tx::commit_output(q, seq);
        // (T1); false: a resolver committed it, or (d) aborted it.
        if (!ring::commit(out.ref(), t)) RL_ASSERT(state_of(t) == ring::slot_state(t, SlotKind::committed));
        RL_ASSERT(c.load(std::memory_order_acquire) == tx::tx_word(seq, TxState::committed));
        tx::mark_done(c, seq);  // (T5)
        committed[t] = true;
        return true;
    }

    // As TxCommit's abort_tx, for the one output and input.
    bool abort_tx(unsigned t, bool prepared, bool frozen) {
        const uint64_t seq = t + 1, leased = kLeasedIn[t];
        if (!tx::abort_open(c, seq))
            RL_ASSERT(c.load(std::memory_order_acquire) == tx::tx_word(seq, TxState::aborted));
        const bool mine = prepared ? tx::move(q, seq, TxState::prepared, TxState::aborted) : tx::abort_open(q, seq);
        if (!mine) RL_ASSERT(q.load(std::memory_order_acquire) == tx::tx_word(seq, TxState::aborted));
        if (!ring::finish_claim(out.ref(), t, SlotKind::aborted))
            RL_ASSERT(state_of(t) == ring::slot_state(t, SlotKind::aborted));
        if (frozen) (void)ring::lease_thaw(in[t], leased, leased, kLate);
        (void)ring::lease_revoke(in[t], leased, ring::retry_word(t, leased, ring::RetryReason::nacked), kLate);
        return false;
    }

    uint64_t state_of(uint64_t o) { return out.ref().state(o).load(std::memory_order_acquire); }

    // --- the resolver: late for transaction 1 only (resolve_coordinator, decide_output) ---------

    void resolve() {
        while (!late) rl::yield(1, $);
        while (tx::tx_state(c.load(std::memory_order_acquire)) == TxState::idle) rl::yield(1, $);
        if (rl::rand(2) == 0) {
            resolve_coordinator();
            resolve_output();
        } else {
            resolve_output();
            resolve_coordinator();
        }
    }

    // resolve_coordinator: abort an open(1); an aborted(1) settles its frozen inputs.
    void resolve_coordinator() {
        uint64_t w = c.load(std::memory_order_acquire);
        if (w == tx::tx_word(1, TxState::open)) {
            if (tx::abort_open(c, 1)) {
                resolver_aborted_c = true;
                w = tx::tx_word(1, TxState::aborted);
            } else {
                w = c.load(std::memory_order_acquire);
            }
        }
        // committed(1): its live owner finishes it; seq 2: not late.
        if (w == tx::tx_word(1, TxState::aborted)) settle_frozen_inputs(w);
    }

    // tx_resolver.cpp settle_frozen_inputs, the window [0, 2) of IN.
    void settle_frozen_inputs(uint64_t decided) {
        for (uint64_t o = 0; o < 2; ++o) {
            const uint64_t w = in[o].word.load(std::memory_order_acquire);
            if (!ring::lease_frozen_is(w, o) || ring::lease_owner(w) != kOwner) continue;
            if (!tx::still_decided(c, decided)) {  // (T6)
                stopped_lease = true;
                if (g_mistake != Mistake::no_recheck) return;  // (d) the mistake: thaws it all the same
            }
            const uint64_t leased = ring::frozen_word(w);  // the xor back
            if (ring::lease_thaw(in[o], leased, ring::retry_word(o, leased, ring::RetryReason::lease_expired), kLate))
                resolver_thawed = true;
        }
    }

    // decide_output, late only for seq 1; then finish_prepared_claims.
    void resolve_output() {
        for (int round = 0; round < 4; ++round) {
            const uint64_t w = q.load(std::memory_order_acquire);
            const uint64_t seq = tx::tx_seq(w);
            switch (tx::tx_state(w)) {
                case TxState::idle:
                case TxState::aborted:
                case TxState::committed:
                case TxState::done:
                    return finish_prepared_claims(w);
                case TxState::open:
                    if (seq != 1) return;  // transaction 2: not late
                    if (tx::abort_open(q, 1)) {
                        resolver_aborted_q = true;
                        return finish_prepared_claims(tx::tx_word(1, TxState::aborted));
                    }
                    continue;
                case TxState::prepared: {
                    if (seq != 1) return;
                    // ask_coordinator: an open(1) coordinator of the late owner is aborted.
                    tx::Outcome o = tx::coordinator_outcome(c.load(std::memory_order_acquire), 1);
                    if (o == tx::Outcome::undecided) {
                        if (tx::abort_open(c, 1)) {
                            resolver_aborted_c = true;
                            o = tx::Outcome::aborted;
                        } else {
                            o = tx::coordinator_outcome(c.load(std::memory_order_acquire), 1);
                        }
                    }
                    RL_ASSERT(o != tx::Outcome::undecided);
                    const TxState to = o == tx::Outcome::committed ? TxState::committed : TxState::aborted;
                    if (tx::move(q, 1, TxState::prepared, to)) return finish_prepared_claims(tx::tx_word(1, to));
                    continue;
                }
            }
        }
    }

    // tx_resolver.cpp finish_prepared_claims: the owner's prepared claims in [head, head + 2).
    void finish_prepared_claims(uint64_t decided) {
        const bool commit = tx::tx_state(decided) == TxState::committed;
        for (uint64_t o = 0; o < 2; ++o) {
            const uint64_t w = out.ref().claim(o).load(std::memory_order_acquire);
            if (!ring::slot_is(w, o) || ring::slot_kind(w) != SlotKind::prepared || ring::slot_owner(w) != kOwner)
                continue;
            if (!tx::still_decided(q, decided)) {  // (T6)
                stopped_claim = true;
                if (g_mistake != Mistake::no_recheck) return;  // (d) the mistake: finishes it all the same
            }
            if (ring::finish_claim(out.ref(), o, commit ? SlotKind::committed : SlotKind::aborted) && !commit)
                resolver_aborted_slot = true;
        }
    }

    // --- a consumer of Q: offset 0, and offset 1 after an aborted 0 (transaction 2 follows) ---

    void read() {
        for (uint64_t o = 0; o < 2; ++o) {
            Found f;
            while ((f = look(out, o)) == Found::nothing_yet) rl::yield(1, $);
            if (f == Found::message) {
                RL_ASSERT(out.slot(o).payload($) == kPayload[o]);
                delivered[o] = true;
                return;
            }
        }
    }

    void after() {
        const uint64_t s0 = out.ref().state(0).load(std::memory_order_relaxed);
        const uint64_t s1 = out.ref().state(1).load(std::memory_order_relaxed);
        const uint64_t i0 = in[0].word.load(std::memory_order_relaxed);
        const uint64_t i1 = in[1].word.load(std::memory_order_relaxed);
        if (committed[0]) {
            RL_ASSERT(!ran[1]);
            RL_ASSERT(s0 == ring::slot_state(0, SlotKind::committed) && delivered[0]);
            RL_ASSERT(i0 == lease_word(LeaseKind::acked, 0) && i1 == kLeasedIn[1]);
            RL_ASSERT(c.load(std::memory_order_relaxed) == tx::tx_word(1, TxState::done));
            RL_ASSERT(q.load(std::memory_order_relaxed) == tx::tx_word(1, TxState::committed));
        } else {
            // Transaction 1 aborted; the resolver never aborts transaction 2, so it committed.
            RL_ASSERT(ran[1] && committed[1]);
            RL_ASSERT(s0 == ring::slot_state(0, SlotKind::aborted) && !delivered[0]);
            RL_ASSERT(s1 == ring::slot_state(1, SlotKind::committed) && delivered[1]);
            RL_ASSERT(ring::lease_kind(i0) == LeaseKind::retry && ring::lease_is(i0, 0));
            RL_ASSERT(i1 == lease_word(LeaseKind::acked, 1));
            RL_ASSERT(c.load(std::memory_order_relaxed) == tx::tx_word(2, TxState::done));
            RL_ASSERT(q.load(std::memory_order_relaxed) == tx::tx_word(2, TxState::committed));
        }
        ++g_committed[committed[0] ? 0 : 1];
        g_aborted_c += resolver_aborted_c;
        g_aborted_q += resolver_aborted_q;
        g_aborted_slot += resolver_aborted_slot;
        g_thawed += resolver_thawed;
        g_stopped_claim += stopped_claim;
        g_stopped_lease += stopped_lease;
    }

    static inline unsigned long g_committed[2] = {}, g_aborted_c = 0, g_aborted_q = 0, g_aborted_slot = 0,
                                g_thawed = 0, g_stopped_claim = 0, g_stopped_lease = 0;
    static void report() {
        std::cout << "   transaction 1 committed: " << g_committed[0] << "; aborted, transaction 2 committed: "
                  << g_committed[1] << '\n'
                  << "   resolver: aborted C " << g_aborted_c << ", aborted an open Q " << g_aborted_q
                  << ", aborted transaction 1's slot " << g_aborted_slot << ", thawed its input " << g_thawed
                  << "; the (T6) re-check found the record moved on at a prepared claim " << g_stopped_claim
                  << ", at a frozen input " << g_stopped_lease << '\n';
    }
};

struct Variant {
    const char* name;
    Mistake mistake;
    const char* what;
    bool reuse;  // the reuse test, else the commit test
};
const Variant kVariants[] = {
    {"a", Mistake::no_freeze, "(a) weakened: no freeze, a plain lease_ack after the commit point", false},
    {"b", Mistake::commit_first, "(b) weakened: the commit point before the outputs are prepared", false},
    {"c", Mistake::blind_abort, "(c) weakened: the resolver aborts a prepared output without the coordinator", false},
    {"d", Mistake::no_recheck,
     "(d) weakened: the resolver finishes claims and frozen inputs without re-reading the record", true},
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
#ifdef SHMQ_MODEL_WEAKEN
    const char* only = argc > 2 ? argv[2] : "a";
    const Variant* chosen = nullptr;
    for (const Variant& v : kVariants)
        if (std::strcmp(only, v.name) == 0) chosen = &v;
    if (chosen == nullptr) {
        std::cerr << "usage: shmq_tx_model_weakened <iterations> <a|b|c|d>\n";
        return 2;
    }
    g_mistake = chosen->mistake;
    const bool ok = chosen->reuse ? run_model<TxReuse>(chosen->what, iterations)
                                  : run_model<TxCommit>(chosen->what, iterations);
#else
    (void)kVariants;
    const char* only = argc > 2 ? argv[2] : "all";
    const bool all = std::strcmp(only, "all") == 0;
    if (!all && std::strcmp(only, "commit") != 0 && std::strcmp(only, "reuse") != 0) {
        std::cerr << "usage: shmq_tx_model [iterations] [commit|reuse|all]\n";
        return 2;
    }
    bool ok = true;
    if (all || std::strcmp(only, "commit") == 0)
        ok = run_model<TxCommit>(
                 "commit: a transaction's commit races a resolver (owner late), lease expiry and a reader",
                 iterations) &&
             ok;
    if (all || std::strcmp(only, "reuse") == 0)
        ok = run_model<TxReuse>(
                 "reuse: a resolver's abort of a late transaction races the owner's next, on the same records",
                 iterations) &&
             ok;
#endif
    std::cout << (ok ? "tx model: all passed" : "tx model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
