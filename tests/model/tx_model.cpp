// Model check of the transaction commit protocol (shmq/internal/tx_protocol.hpp
// (T1)-(T5)) with relacy: the real tx::begin, prepare_output, commit_point,
// abort_open, move and coordinator_outcome on the records' words, the real
// lease_freeze / lease_ack_frozen / lease_thaw / lease_revoke / lease_ack of
// lease_protocol.hpp on the input's lease entry, and the real try_claim and
// finish_claim (commit_protocol.hpp (2)-(4)) on the two output slots, all on
// model atomics.
//
// One transaction: an input (offset 0 of IN, leased to the owner), two
// outputs (offset 0 of Q1 and of Q2, claimed by the owner). Its words: the
// coordinator record C (IN's TxEntry of the consumer), the output records
// Q1 and Q2 (each queue's TxEntry of the producer), the input's lease
// entry L, and per output its slot (state and claim words, an rl::var
// payload). Four threads:
//   - the owner: claims both slots; begin(C), begin(Q1), begin(Q2); writes
//     both payloads and stores each claim word prepared(0, P) (release);
//     prepare_output(Q1), prepare_output(Q2); lease_freeze(L); commit_point(C);
//     then lease_ack_frozen(L), move(Qi, prepared -> committed) and commit
//     slot i, move(C, committed -> done). On any failure before its commit
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
//       consulting the coordinator.
//
// Usage: shmq_tx_model [iterations]
//        shmq_tx_model_weakened <iterations> <a|b|c>
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
enum class Mistake { none, no_freeze, commit_first, blind_abort };
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
        if (frozen)
            RL_ASSERT(ring::lease_ack_frozen(in, kIn, kLeased));  // (T4): only the decision unfreezes
        else
            (void)ring::lease_ack(in, kIn, kLeased);  // (a): may have lost the lease already
        tick();
        for (unsigned i = 0; i < 2; ++i) {
            // (T2): after the commit point every output record is prepared (or
            // a resolver committed it already).
            if (!tx::move(q[i], kSeq, TxState::prepared, TxState::committed))
                RL_ASSERT(q[i].load(std::memory_order_acquire) == tx::tx_word(kSeq, TxState::committed));
            // (T1) commit_protocol.hpp (3); false: the resolver committed it.
            if (!ring::commit(out[i].ref(), kOut))
                RL_ASSERT(state_of(i) == ring::slot_state(kOut, SlotKind::committed));
            tick();
        }
        RL_ASSERT(tx::move(c, kSeq, TxState::committed, TxState::done));  // (T5): every output committed
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

struct Variant {
    const char* name;
    Mistake mistake;
    const char* what;
};
const Variant kVariants[] = {
    {"a", Mistake::no_freeze, "(a) weakened: no freeze, a plain lease_ack after the commit point"},
    {"b", Mistake::commit_first, "(b) weakened: the commit point before the outputs are prepared"},
    {"c", Mistake::blind_abort, "(c) weakened: the resolver aborts a prepared output without the coordinator"},
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
        std::cerr << "usage: shmq_tx_model_weakened <iterations> <a|b|c>\n";
        return 2;
    }
    g_mistake = chosen->mistake;
    const bool ok = run_model<TxCommit>(chosen->what, iterations);
#else
    (void)kVariants;
    const bool ok = run_model<TxCommit>(
        "a transaction's commit races a resolver (owner late), lease expiry and a reader", iterations);
#endif
    std::cout << (ok ? "tx model: all passed" : "tx model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
