// Model check of the fast ACK (shmq/internal/fast_ack.hpp) with relacy: the
// real fast_ack_enter / fast_ack_valid / lease_ack_owned / fast_ack_leave of
// a holder, and the real revocation_begin / holder_outside_ack of a revoker,
// around the real lease_ack and lease_revoke CASes of lease_protocol.hpp, on
// model atomics for the entry word, GroupPartition::revocations,
// ParticipantEntry::acking and RegionHeader::commit_fence.
//
// The holder was delivered offset 0 (lease word `kHeld`, revocations 0 at
// delivery, fast_ack.hpp L0) and ACKs it; the revoker loaded that word before
// its round began (fast_ack.hpp (b)), begins the round, waits for the
// holder, and CASes it to retry (expiry), or, as a new owner's handoff,
// then redelivers it to itself. Whatever the interleaving and the memory
// model allow: the holder's ACK and the revocation never both succeed, and
// a revocation that succeeded is never overwritten by the holder's store.
//
// membarrier(GLOBAL_EXPEDITED) is modelled as in commit_barrier_model.cpp:
// a full barrier on the caller at entry and return, and one on the holder's
// CPU at whatever program point it is at (it serves a pending request at
// each: before S1, at B, after L2, after S3, after S4, and while it idles).
//
// The same handshake guards a transaction's slot commits (tx_protocol.hpp
// (T7)): test (f) runs the owner's commit_slots (L0 when the output record
// opened, the claim word prepared, then S1, B, L2 and the state's release
// store, else the commit CAS) against a resolver that loads the prepared
// claim word, runs its round (S5, barrier, L6), commits the slot by CAS and,
// the message consumed, lets the next lap's producer publish over it. The
// owner's store must never land on that new lap.
//
// Built with SHMQ_MODEL_WEAKEN, the revoker's barrier is a seq_cst fence of
// its own and no membarrier: relacy must catch the holder's store landing
// over the revocation (ctest fast_ack_model_weakened).
//
// Usage: shmq_fast_ack_model [iterations per test]
#include <cstdint>
#include <iostream>

#include "model_tags.hpp"

#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/slot_state.hpp"

#include "model_lease.hpp"
#include "model_ring.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

constexpr uint64_t kOffset = 0;
constexpr uint32_t kHolder = 1;   // participant ids
constexpr uint32_t kNewOwner = 2;
const uint64_t kHeld = lease_word(LeaseKind::leased, kOffset, kHolder, 1);

enum class Revoker {
    expiry,   // leased -> retry(lease_expired)
    handoff,  // leased -> retry(handoff), then redelivered to the new owner
    killed,   // SIGKILLed after the round began (crash point after_revocation_begin): no CAS
};
enum class Flag { membarrier, fence };  // commit_fence 0, or 1 (the fallback: both sides fence)

// The instructions of fast_ack.hpp's barriers on the model
// (detail::HardwareBarriers in the library).
template <class Test>
struct ModelBarriers {
    Test* t;
    bool holder;

    void fence() const { seq_cst_fence(); }
    void compiler_barrier() const {  // the holder's B: where the membarrier may land
        if (holder) t->serve();
    }
    bool membarrier() const {
#ifdef SHMQ_MODEL_WEAKEN
        seq_cst_fence();  // the mistake: a fence of our own, nothing on the holder's CPU
        return true;
#else
        seq_cst_fence();  // the caller's barrier on entry
        t->pending = true;
        while (t->pending) rl::yield(1, $);
        seq_cst_fence();  // and on return
        return true;
#endif
    }
    void drain() const {}
};

template <Revoker Who, Flag F, bool Batch>
struct FastAckRacesRevoker : rl::test_suite<FastAckRacesRevoker<Who, F, Batch>, 2> {
    ModelLeaseEntry entries[2];                            // offsets 0 and 1 (Batch: the holder ACKs both)
    ModelAtomic revocations{0};                            // GroupPartition::revocations
    ModelAtomic acking{0};                                 // ParticipantEntry::acking of the holder
    ModelAtomic commit_fence{F == Flag::fence ? 1u : 0u};  // RegionHeader::commit_fence
    // Harness memory (relacy's threads are fibers of one OS thread).
    bool pending = false;  // a membarrier's barrier not yet run on the holder's CPU
    bool revoker_done = false;
    bool holder_ok = false;
    bool revoked = false;

    void before() {
        entries[0].word.store(kHeld, std::memory_order_relaxed);
        entries[1].word.store(lease_word(LeaseKind::leased, 1, kHolder, 1), std::memory_order_relaxed);
    }

    void serve() {
        if (!pending) return;
        seq_cst_fence();
        pending = false;
    }

    void thread(unsigned index) {
        if (index == 0)
            ack();
        else
            revoke();
    }

    // consumer.cpp ConsumerCore::fast_ack (Batch: ack_all's run of two).
    void ack() {
        serve();
        ring::fast_ack_enter(acking, commit_fence, ModelBarriers<FastAckRacesRevoker>{this, true});  // S1, B
        bool valid = ring::fast_ack_valid(revocations, 0);  // L2
        serve();
        if (valid) {
            ring::lease_ack_owned(entries[0], kOffset);  // S3
            if constexpr (Batch) ring::lease_ack_owned(entries[1], 1);
        }
        serve();
        ring::fast_ack_leave(acking);  // S4
        serve();
        holder_ok = valid || ring::lease_ack(entries[0], kOffset, kHeld);  // else (3)'s CAS
        while (!revoker_done) {  // still running: a membarrier reaches this CPU too
            serve();
            rl::yield(1, $);
        }
    }

    // delivery.cpp expire_leases / revoke_handoffs: the word first, then the round.
    void revoke() {
        const uint64_t w = entries[0].word.load(std::memory_order_acquire);
        if (ring::lease_kind(w) == LeaseKind::leased) {
            ring::revocation_begin(revocations, commit_fence, ModelBarriers<FastAckRacesRevoker>{this, false});  // S5, barrier
            if constexpr (Who != Revoker::killed) {
                while (!ring::holder_outside_ack(acking)) rl::yield(1, $);  // L6
                const auto why = Who == Revoker::expiry ? ring::RetryReason::lease_expired : ring::RetryReason::handoff;
                const uint64_t retry = ring::retry_word(kOffset, w, why);
                revoked = ring::lease_revoke(entries[0], w, retry, 1);
                if (revoked && Who == Revoker::handoff) {
                    uint64_t expected = retry;
                    RL_ASSERT(ring::lease_redeliver(entries[0], expected,
                                                    ring::redelivery_word(retry, kOffset, LeaseKind::leased, kNewOwner),
                                                    kLater));
                }
            }
        }
        revoker_done = true;
    }

    void after() {
        const uint64_t w = entries[0].word.load(std::memory_order_relaxed);
        RL_ASSERT(!(holder_ok && revoked));  // one of the two settles the delivery
        if (revoked) RL_ASSERT(ring::lease_kind(w) != LeaseKind::acked);  // not overwritten by the holder's store
        if (holder_ok) RL_ASSERT(w == lease_word(LeaseKind::acked, kOffset));
        if constexpr (Who == Revoker::killed) RL_ASSERT(holder_ok);  // a round alone takes nothing away
        ++outcomes[holder_ok][revoked];
    }

    static inline unsigned long outcomes[2][2] = {};
    static void report() {
        std::cout << "   holder's ACK won: " << outcomes[1][0] << "; revocation won: " << outcomes[0][1] << '\n';
    }
};

// (f) tx_protocol.hpp (T7): transaction.cpp TxCore::commit_slots against
// tx_resolver.cpp finish_prepared_claims' round for a late owner.
template <Flag F>
struct SlotCommitRacesResolver : rl::test_suite<SlotCommitRacesResolver<F>, 2> {
    using Barriers = ModelBarriers<SlotCommitRacesResolver>;
    using Ring = BasicModelRing<2, Ordering::as_written>;
    static constexpr uint64_t kSlot = 0;
    static constexpr uint64_t kNextLap = kSlot + Ring::capacity;

    Ring out;
    ModelAtomic resolutions{0};                            // TxEntry::resolutions of the output record
    ModelAtomic acking{0};                                 // ParticipantEntry::acking of the producer
    ModelAtomic commit_fence{F == Flag::fence ? 1u : 0u};  // RegionHeader::commit_fence
    bool pending = false;
    bool resolver_done = false;
    bool owner_stored = false;
    bool resolver_committed = false;

    void serve() {
        if (!pending) return;
        seq_cst_fence();
        pending = false;
    }

    void thread(unsigned index) {
        if (index == 0)
            owner();
        else
            resolver();
    }

    void owner() {
        const uint64_t r0 = resolutions.load(std::memory_order_relaxed);  // L0: the output record opens
        uint64_t limit = 0;
        RL_ASSERT(claim(out, kHolder, limit) == kSlot);
        serve();
        ring::mark_prepared(out.ref(), kSlot, kHolder);  // (T2), then the commit point
        serve();
        ring::fast_ack_enter(acking, commit_fence, Barriers{this, true});  // S1, B
        const bool fast = ring::fast_ack_valid(resolutions, r0);          // L2
        serve();
        if (fast) {
            ring::publish(out.ref(), kSlot);  // S3
            owner_stored = true;
        }
        serve();
        ring::fast_ack_leave(acking);  // S4
        serve();
        if (!fast) (void)ring::commit(out.ref(), kSlot);
        while (!resolver_done) {
            serve();
            rl::yield(1, $);
        }
    }

    void resolver() {
        // It finds the prepared claim (the owner late: its deadline passed).
        uint64_t c = 0;
        while (!ring::slot_is(c = out.ref().claim(kSlot).load(std::memory_order_acquire), kSlot) ||
               ring::slot_kind(c) != ring::SlotKind::prepared)
            rl::yield(1, $);
        {
            ring::revocation_begin(resolutions, commit_fence, Barriers{this, false});  // S5, barrier
            while (!ring::holder_outside_ack(acking)) rl::yield(1, $);                // L6
            if (ring::commit(out.ref(), kSlot)) {
                resolver_committed = true;
                // Consumed and reclaimed: the next lap's producer publishes there.
                out.ref().state(kSlot).store(ring::slot_state(kNextLap, ring::SlotKind::committed),
                                             std::memory_order_release);
            }
        }
        resolver_done = true;
    }

    void after() {
        const uint64_t st = out.ref().state(kSlot).load(std::memory_order_relaxed);
        RL_ASSERT(!(owner_stored && resolver_committed));  // one of the two commits it
        if (resolver_committed) RL_ASSERT(st == ring::slot_state(kNextLap, ring::SlotKind::committed));  // not overwritten
        else RL_ASSERT(st == ring::slot_state(kSlot, ring::SlotKind::committed));
        ++outcomes[owner_stored][resolver_committed];
    }

    static inline unsigned long outcomes[2][2] = {};
    static void report() {
        std::cout << "   owner's store: " << outcomes[1][0] << "; owner's CAS or resolver's commit: "
                  << outcomes[0][0] + outcomes[0][1] << " (resolver's: " << outcomes[0][1] << ")\n";
    }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    bool ok = run_model<FastAckRacesRevoker<Revoker::expiry, Flag::membarrier, false>>(
        "(a) a fast ACK races a lease expiry", iterations);
    ok = run_model<FastAckRacesRevoker<Revoker::handoff, Flag::membarrier, false>>(
             "(b) a fast ACK races a handoff that redelivers", iterations) &&
         ok;
    ok = run_model<FastAckRacesRevoker<Revoker::expiry, Flag::membarrier, true>>(
             "(c) ack_all's run of two races an expiry", iterations) &&
         ok;
    ok = run_model<FastAckRacesRevoker<Revoker::killed, Flag::membarrier, false>>(
             "(d) the revoker killed after its round began", iterations) &&
         ok;
    ok = run_model<FastAckRacesRevoker<Revoker::handoff, Flag::fence, false>>(
             "(e) fallback (commit_fence set): fence against fence", iterations) &&
         ok;
    ok = run_model<SlotCommitRacesResolver<Flag::membarrier>>(
             "(f) a transaction's slot commit races a resolver's round (tx_protocol.hpp (T7))", iterations) &&
         ok;
    ok = run_model<SlotCommitRacesResolver<Flag::fence>>("(g) (f) with commit_fence set", iterations) && ok;
    std::cout << (ok ? "fast_ack model: all passed" : "fast_ack model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
