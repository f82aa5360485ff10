// Model check of the ring's claim/commit/consume/abort protocol
// (shmq/internal/commit_protocol.hpp) with relacy: each test runs its threads under
// relacy's random scheduler and C++ memory model for many iterations; relacy
// fails a test on a data race on a slot's payload (an rl::var), an
// RL_ASSERT, a deadlock, or a livelock (a thread that never gets anywhere).
// Built with SHMQ_MODEL_WEAKEN it must fail (model_ring.hpp).
//
// Each test takes the offset it starts at (`Start`: the tail, head and
// floor; the slots hold the lap before it): 0, a fresh region, or, with the
// argument `wrap`, 2^48 - 2, so that every slot's tag wraps from 2^48 - 2 or
// 2^48 - 1 to 0 or 1 while the 64-bit offsets go on (model_tags.hpp). Built
// with SHMQ_MODEL_WEAKEN_TAGS (the tags compared unmasked) the wrap tests
// must fail.
//
// Usage: shmq_ring_model [iterations per test] [wrap]
#include <cstdint>
#include <cstring>
#include <iostream>

#include "model_ring.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

constexpr uint64_t message_of(uint32_t producer, uint64_t seq) { return uint64_t{producer} << 8 | (seq + 1); }

// (a) Two producers claim, write the payload and commit two messages each;
// one consumer acquire-loads each state word, reads the payload, acks
// (floor), and the producers reclaim (head) when full: four messages through
// two slots, so each slot is reused once (a wrap-around) while the other
// producer may still be claiming or writing.
template <uint64_t Start>
struct TwoProducersOneConsumer : rl::test_suite<TwoProducersOneConsumer<Start>, 3> {
    static constexpr uint64_t kPerProducer = 2;
    static constexpr uint64_t kMessages = 2 * kPerProducer;

    ModelRing r{Start};
    // Harness bookkeeping by offset - Start (plain memory: relacy's threads are
    // fibers of one OS thread, and these are no part of the protocol).
    uint64_t committed[kMessages] = {};
    uint64_t received[kMessages] = {};

    void thread(unsigned index) {
        if (index < 2)
            produce(index + 1);
        else
            consume();
    }

    void produce(uint32_t id) {
        uint64_t limit = 0;  // the producer's cached head + capacity (ProducerCore::limits)
        for (uint64_t seq = 0; seq < kPerProducer; ++seq) {
            const uint64_t o = claim(r, id, limit);
            RL_ASSERT(o - Start < kMessages);
            r.slot(o).payload($) = message_of(id, seq);
            const bool published = ring::commit(r.ref(), o);
            RL_ASSERT(published);  // nobody aborts here
            committed[o - Start] = message_of(id, seq);
        }
    }

    void consume() {
        for (uint64_t o = Start; o - Start < kMessages; ++o) {
            Found f;
            while ((f = look(r, o)) == Found::nothing_yet) rl::yield(1, $);
            RL_ASSERT(f == Found::message);
            received[o - Start] = r.slot(o).payload($);
            finished(r, o);
        }
    }

    void after() {
        // Every offset read once (the consumer reads each once), with the
        // payload committed there, and every message at exactly one offset.
        for (uint64_t i = 0; i < kMessages; ++i) RL_ASSERT(received[i] != 0 && received[i] == committed[i]);
        RL_ASSERT(r.floor.load(std::memory_order_relaxed) == Start + kMessages);
        for (uint32_t id = 1; id <= 2; ++id)
            for (uint64_t seq = 0; seq < kPerProducer; ++seq) {
                int copies = 0;
                for (uint64_t i = 0; i < kMessages; ++i) copies += received[i] == message_of(id, seq);
                RL_ASSERT(copies == 1);
            }
    }
};

// (b) A producer sends three messages, aborting the second itself (abort_claim)
// while a reaper, taking it for dead, scans [head, head + capacity) twice
// and aborts its open claims (repair/reaper.cpp abort_claims) and a consumer
// reads. Each commit races the reaper's abort: exactly one wins; the
// consumer skips aborted slots and never reads their payload.
template <uint64_t Start>
struct ReaperRacesCommit : rl::test_suite<ReaperRacesCommit<Start>, 3> {
    static constexpr uint64_t kMessages = 3;
    static constexpr uint32_t kProducer = 1;
    enum class Outcome { none, committed, commit_lost, self_aborted };

    ModelRing r{Start};
    // By offset - Start:
    Outcome outcome[kMessages] = {};
    bool reaped[kMessages + kCapacity] = {};  // the reaper's scan reaches head + capacity - 1
    Found seen[kMessages] = {};
    uint64_t received[kMessages] = {};

    void thread(unsigned index) {
        if (index == 0)
            produce();
        else if (index == 1)
            reap();
        else
            consume();
    }

    void produce() {
        uint64_t limit = 0;
        for (uint64_t seq = 0; seq < kMessages; ++seq) {
            const uint64_t o = claim(r, kProducer, limit);
            RL_ASSERT(o == Start + seq);  // one producer: offsets in order, aborted or not
            r.slot(o).payload($) = message_of(kProducer, seq);
            if (seq == 1) {
                ring::abort_claim(r.ref(), o);  // as dead_letter.cpp / Claim::abort
                outcome[seq] = Outcome::self_aborted;
            } else {
                outcome[seq] = ring::commit(r.ref(), o) ? Outcome::committed : Outcome::commit_lost;
            }
        }
    }

    void reap() {
        for (int pass = 0; pass < 2; ++pass) {
            const uint64_t head = r.head.load(std::memory_order_acquire);  // reaper.cpp reap_participant
            for (uint64_t o = head; o < head + kCapacity; ++o)
                if (abort_dead_claim(r, o, kProducer)) reaped[o - Start] = true;
        }
    }

    void consume() {
        for (uint64_t i = 0; i < kMessages; ++i) {
            const uint64_t o = Start + i;
            while ((seen[i] = look(r, o)) == Found::nothing_yet) rl::yield(1, $);
            if (seen[i] == Found::message) received[i] = r.slot(o).payload($);
            finished(r, o);
        }
    }

    void after() {
        for (uint64_t i = 0; i < kMessages; ++i) {
            switch (outcome[i]) {
                case Outcome::committed:  // the commit won: not reaped, read with its payload
                    RL_ASSERT(!reaped[i] && seen[i] == Found::message && received[i] == message_of(kProducer, i));
                    break;
                case Outcome::commit_lost:  // the reaper's abort won: skipped
                    RL_ASSERT(reaped[i] && seen[i] == Found::aborted);
                    break;
                case Outcome::self_aborted:  // by the producer or the reaper: skipped either way
                    RL_ASSERT(seen[i] == Found::aborted);
                    break;
                case Outcome::none: RL_ASSERT(!"every offset claimed"); break;
            }
        }
        for (uint64_t i = kMessages; i < kMessages + kCapacity; ++i) RL_ASSERT(!reaped[i]);
    }
};

// (c) A producer claims, writes half a message and dies; another producer
// sends two messages; the consumer, finding a dead producer's open claim
// at its cursor, aborts it (consumer.cpp maintenance -> reap_participant ->
// abort_dead_claim) and moves on. Nobody stalls (else: livelock), the dead
// claim's payload is never read, the live producer's messages all are.
// Death is a release the consumer acquires (`died`): the kernel drops the
// dead process's probe lock byte, and the consumer's liveness check
// (participants.cpp entry_liveness, a fcntl) sees that, so everything the
// process did happens before its reaping. Without it relacy rightly reports
// the dead producer's payload store racing the live producer's store into
// the same slot a lap later: only a participant that is really dead may be
// reaped.
template <uint64_t Start>
struct ConsumerReapsDeadClaimer : rl::test_suite<ConsumerReapsDeadClaimer<Start>, 3> {
    static constexpr uint64_t kMessages = 3;
    static constexpr uint32_t kDead = 1;
    static constexpr uint32_t kLive = 2;

    ModelRing r{Start};
    ModelAtomic died{0};
    uint64_t dead_offset = UINT64_MAX;  // and the arrays below: by offset - Start
    uint64_t committed[kMessages] = {};
    Found seen[kMessages] = {};
    bool reaped[kMessages] = {};
    uint64_t received[kMessages] = {};

    void thread(unsigned index) {
        if (index == 0)
            die_after_claim();
        else if (index == 1)
            produce();
        else
            consume();
    }

    void die_after_claim() {
        uint64_t limit = 0;
        const uint64_t o = claim(r, kDead, limit);
        dead_offset = o - Start;
        r.slot(o).payload($) = message_of(kDead, 0);  // then SIGKILL: no commit
        died.store(1, std::memory_order_release);
    }

    void produce() {
        uint64_t limit = 0;
        for (uint64_t seq = 0; seq < 2; ++seq) {
            const uint64_t o = claim(r, kLive, limit);
            RL_ASSERT(o - Start < kMessages);
            r.slot(o).payload($) = message_of(kLive, seq);
            const bool published = ring::commit(r.ref(), o);
            RL_ASSERT(published);  // only the dead producer's claim is ever aborted
            committed[o - Start] = message_of(kLive, seq);
        }
    }

    void consume() {
        for (uint64_t i = 0; i < kMessages; ++i) {
            const uint64_t o = Start + i;
            while ((seen[i] = look(r, o)) == Found::nothing_yet) {
                if (died.load(std::memory_order_acquire) == 1 && abort_dead_claim(r, o, kDead))
                    reaped[i] = true;
                else
                    rl::yield(1, $);
            }
            if (seen[i] == Found::message) received[i] = r.slot(o).payload($);
            finished(r, o);
        }
    }

    void after() {
        RL_ASSERT(dead_offset < kMessages);
        for (uint64_t i = 0; i < kMessages; ++i) {
            if (i == dead_offset)
                RL_ASSERT(reaped[i] && seen[i] == Found::aborted);
            else
                RL_ASSERT(!reaped[i] && seen[i] == Found::message && received[i] == committed[i] && committed[i] != 0);
        }
    }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    bool ok = true;
    if (argc > 2 && std::strcmp(argv[2], "wrap") == 0) {
        // Offsets 2^48 - 2 .. 2^48 + 1: the tags wrap in the middle (model_tags.hpp).
        constexpr uint64_t s = kSlotWrapStart;
        ok = run_model<TwoProducersOneConsumer<s>>("(a) at 2^48 - 2: two producers, one consumer", iterations);
        ok = run_model<ReaperRacesCommit<s>>("(b) at 2^48 - 2: a reaper's abort races the commit", iterations) && ok;
        ok = run_model<ConsumerReapsDeadClaimer<s>>("(c) at 2^48 - 2: the consumer aborts a dead claim", iterations) &&
             ok;
    } else {
        ok = run_model<TwoProducersOneConsumer<0>>("(a) two producers, one consumer, wrap-around", iterations);
        ok = run_model<ReaperRacesCommit<0>>("(b) a reaper's abort races the commit", iterations) && ok;
        ok = run_model<ConsumerReapsDeadClaimer<0>>("(c) the consumer aborts a dead producer's claim", iterations) &&
             ok;
    }
    std::cout << (ok ? "ring model: all passed" : "ring model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
