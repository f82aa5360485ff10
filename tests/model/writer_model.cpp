// Model check of the exclusive writer (shmq/internal/commit_protocol.hpp
// arguments (6)-(8), tail bit 63) with relacy: the real take_exclusive,
// claim_contested, claim_exclusive, publish, release_exclusive and
// clear_exclusive, and the shared claimers' real try_claim, on a ring of four
// slots (BasicModelRing<4>, model_ring.hpp). What the library does around
// them is mirrored: the writer word's CAS is left out (one exclusive
// candidate per test), the reaper's scan (reaper.cpp abort_claims: the
// mirrored abort_dead_claim over [head, head + capacity)), the consumer's
// acquire load of the state (look). Ownership of each offset is tracked in
// harness memory: a second owner of an offset is an assertion, and so is a
// publisher whose offset's claim word names someone else.
//
// Built with SHMQ_MODEL_WEAKEN, the writer claims its first offset with the
// exclusive writer's plain claim-word store (claim_exclusive from `first`)
// instead of claim_contested's CAS: the one offset a shared claimer that
// loaded the tail before the bit may still win. relacy must catch the
// double ownership (ctest writer_model_weakened).
//
// Usage: shmq_writer_model [iterations per test]
#include <csetjmp>
#include <cstdint>
#include <iostream>

#include "model_ring.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

constexpr uint32_t kWriter = 1;  // the exclusive writer's participant id
constexpr uint32_t kShared = 2;  // a shared producer's
constexpr uint64_t message_of(uint32_t owner, uint64_t offset) { return uint64_t{owner} << 8 | (offset + 1); }

using Ring = BasicModelRing<4, Ordering::as_written>;
constexpr uint64_t kSlots = Ring::capacity;  // no test wraps: every offset is < kSlots

// What every test keeps: the ring, who owns each offset, what the consumer
// found. `done` counts the claiming parties that finished (acq_rel): when
// it reaches `parties`, everything they wrote happens before the consumer's
// last look.
struct Bench {
    Ring r;
    ModelAtomic done{0};
    // Harness memory (relacy's threads are fibers of one OS thread).
    uint32_t owner[kSlots] = {};
    bool published[kSlots] = {};
    Found seen[kSlots] = {};
    uint64_t received[kSlots] = {};
    uint64_t scanned = 0;  // the consumer looked at [0, scanned)

    void own(uint64_t o, uint32_t id) {
        RL_ASSERT(o < kSlots);
        RL_ASSERT(owner[o] == 0);  // one claimer per offset
        owner[o] = id;
    }
    // The owner's payload, then the commit of a claimer within its call
    // (commit_protocol.hpp (5)). Its claim word must still name it.
    void fill_and_publish(uint64_t o, uint32_t id) {
        fill(o, id);
        publish(o, id);
    }
    void fill(uint64_t o, uint32_t id) { r.slot(o).payload($) = message_of(id, o); }
    void publish(uint64_t o, uint32_t id) {
        const uint64_t c = r.ref().claim(o).load(std::memory_order_relaxed);  // its own store, or a later one
        RL_ASSERT(ring::slot_is(c, o) && ring::slot_owner(c) == id);
        ring::publish(r.ref(), o);
        published[o] = true;
    }
    void finish() { done.fetch_add(1, std::memory_order_acq_rel); }

    // One consumer reads the ring from 0 (delivery.hpp: acquire load of the
    // state at its cursor): each offset it waits at must become committed
    // or aborted. Once every party is done, an offset that is neither must
    // not be claimed either (it is past every claim, and past the tail):
    // an open claim nobody will finish is a stuck consumer.
    void consume(uint64_t parties) {
        for (uint64_t o = 0; o < kSlots; ++o) {
            Found f;
            while ((f = look(r, o)) == Found::nothing_yet) {
                if (done.load(std::memory_order_acquire) == parties) {
                    if ((f = look(r, o)) != Found::nothing_yet) break;
                    const uint64_t c = r.ref().claim(o).load(std::memory_order_acquire);
                    RL_ASSERT(!ring::slot_is(c, o));                                  // stuck: claimed, never finished
                    RL_ASSERT(o >= ring::load_tail(*r.ref().tail));                  // nothing open below the tail
                    scanned = o;
                    return;
                }
                rl::yield(1, $);
            }
            seen[o] = f;
            if (f == Found::message) received[o] = r.slot(o).payload($);
        }
        scanned = kSlots;
    }

    // Every claimed offset was reached; published ones read with their
    // owner's payload; unpublished ones aborted (by the reaper).
    void check() const {
        for (uint64_t o = 0; o < kSlots; ++o) {
            if (owner[o] == 0) continue;
            RL_ASSERT(o < scanned);
            if (published[o])
                RL_ASSERT(seen[o] == Found::message && received[o] == message_of(owner[o], o));
            else
                RL_ASSERT(seen[o] == Found::aborted);
        }
    }
};

// The exclusive writer's first claim after take_exclusive (producer_core.hpp
// claim_once): claim_contested for `first`; busy: a shared claimer has it,
// ours go on at first + 1. Returns the writer's cursor (own_next).
inline uint64_t claim_first(Bench& b, uint64_t first, uint64_t& limit, bool& got_first) {
#ifdef SHMQ_MODEL_WEAKEN
    // The mistake: "after the take, every offset is mine": a plain claim-word
    // store for `first` too, as for the offsets above it.
    uint64_t next = first;
    b.own(first, kWriter);
    const uint32_t n = ring::claim_exclusive(b.r.ref(), kWriter, next, limit, 1);
    RL_ASSERT(n == 1);
    got_first = true;
    return next;
#else
    const ring::ClaimResult rc = ring::claim_contested(b.r.ref(), kWriter, first, limit);
    RL_ASSERT(rc == ring::ClaimResult::claimed || rc == ring::ClaimResult::busy);
    got_first = rc == ring::ClaimResult::claimed;
    if (got_first) b.own(first, kWriter);
    return first + 1;
#endif
}

// A shared producer's one claim (producer.cpp send: try_claim, the payload,
// publish). busy: an exclusive writer holds the ring (Errc::writer_busy).
inline bool shared_send(Bench& b, uint64_t& offset) {
    uint64_t limit = 0;
    const ring::ClaimResult rc = ring::try_claim(b.r.ref(), kShared, limit, offset);
    if (rc == ring::ClaimResult::busy) return false;
    RL_ASSERT(rc == ring::ClaimResult::claimed);  // never full: no test claims more than kSlots
    b.own(offset, kShared);
    b.fill_and_publish(offset, kShared);
    return true;
}

// Tests (a) and (c): one exclusive writer (thread 0, the test's write()),
// one shared producer's single try_claim racing it (thread 1), one consumer
// reading everything (thread 2).
template <class Test>
struct WriterVsSharedClaimer : rl::test_suite<Test, 3> {
    Bench b;
    uint64_t first = 0;
    uint64_t writer_next = 0;
    bool shared_claimed = false;
    uint64_t shared_offset = 0;

    void thread(unsigned index) {
        if (index == 0)
            static_cast<Test*>(this)->write();
        else if (index == 1)
            share();
        else
            b.consume(2);
    }

    void share() {
        shared_claimed = shared_send(b, shared_offset);
        b.finish();
    }
};

// (a) Take-over races a shared claimer. The writer takes the tail's bit,
// claims `first` (contested) and 1-2 more offsets (claim_exclusive, one
// batch), writes and publishes each; a shared producer's try_claim races it
// (claimed before the bit, at `first` against the writer's CAS, or busy); a
// consumer reads everything. No offset has two owners; each is read with its
// owner's payload; the shared claimer's offset is never above `first`.
struct TakeoverRacesSharedClaim : WriterVsSharedClaimer<TakeoverRacesSharedClaim> {
    void write() {
        const auto ring = b.r.ref();
        RL_ASSERT(ring::take_exclusive(ring, first));  // the only exclusive candidate
        uint64_t limit = 0;
        bool got_first = false;
        uint64_t next = claim_first(b, first, limit, got_first);
        if (got_first) b.fill_and_publish(first, kWriter);
        const uint32_t want = 1 + rl::rand(2);
        const uint64_t from = next;
        for (uint64_t o = from; o < from + want; ++o) b.own(o, kWriter);
        RL_ASSERT(ring::claim_exclusive(ring, kWriter, next, limit, want) == want);
        for (uint64_t o = from; o < next; ++o) b.fill(o, kWriter);
        for (uint64_t o = from; o < next; ++o) b.publish(o, kWriter);
        writer_next = next;
        b.finish();
    }

    void after() {
        b.check();
        if (shared_claimed) RL_ASSERT(shared_offset <= first && b.owner[shared_offset] == kShared);
        for (uint64_t o = first + 1; o < writer_next; ++o) RL_ASSERT(b.owner[o] == kWriter);
        ++outcomes[!shared_claimed ? 0 : shared_offset < first ? 1 : 2];
    }

    static inline unsigned long outcomes[3] = {};
    static void report() {
        std::cout << "   shared claimer busy: " << outcomes[0] << "; claimed before the bit: " << outcomes[1]
                  << "; won `first` (the writer's CAS lost): " << outcomes[2] << '\n';
    }
};

// (b) A batch claim by a writer that dies. The writer claims `first`,
// publishes it, claims a batch of 2 with claim_exclusive and dies at a point
// chosen by rl::rand: after the claim-word stores (claim_exclusive's crash
// point, before the tail store), after the tail store, after the payloads,
// after publishing one of the two, or never (it publishes both and gives the
// ring back, release_exclusive). Death is a release the reaper acquires (as
// in the ring model: the kernel drops the dead process's lock). The reaper
// then aborts every open claim naming the writer in [head, head + capacity)
// and clears the bit (reaper.cpp reap_participant). A shared producer, come
// after the death, retries try_claim while busy: it must claim a fresh
// offset; the consumer finds every offset committed or aborted, none stuck.
struct DeadBatchClaimer : rl::test_suite<DeadBatchClaimer, 4> {
    enum Fate : uint64_t { alive = 0, died = 1, gave_back = 2 };
    enum Death : unsigned { after_claim_words, after_tail, after_payload, after_one_publish, never, kDeaths };

    Bench b;
    ModelAtomic fate{alive};
    std::jmp_buf death;
    Death dies_at = never;
    uint64_t batch = 0;  // the batch's first offset
    bool reaped[kSlots] = {};
    uint64_t shared_offset = 0;
    bool shared_busy = false;

    void thread(unsigned index) {
        if (index == 0)
            write();
        else if (index == 1)
            reap();
        else if (index == 2)
            share();
        else
            b.consume(2);  // the reaper and the shared producer
    }

    // SIGKILL: the thread stops where it is (a longjmp out of the real
    // claim_exclusive at its crash point: no destructor to skip).
    [[noreturn]] void die() {
        fate.store(died, std::memory_order_release);
        std::longjmp(death, 1);
    }

    void write() {
        dies_at = static_cast<Death>(rl::rand(kDeaths));
        if (setjmp(death) == 0) write_until_death();
    }

    void write_until_death() {
        const auto ring = b.r.ref();
        uint64_t first = 0;
        RL_ASSERT(ring::take_exclusive(ring, first));
        uint64_t limit = 0;
        bool got_first = false;
        uint64_t next = claim_first(b, first, limit, got_first);
        RL_ASSERT(got_first);  // the shared producer comes after the death
        b.fill_and_publish(first, kWriter);
        batch = next;
        for (uint64_t o = batch; o < batch + 2; ++o) b.own(o, kWriter);
        const uint32_t n = ring::claim_exclusive(ring, kWriter, next, limit, 2, [this] {
            if (dies_at == after_claim_words) die();  // producer.cpp: crash_point(after_claim_word)
        });
        RL_ASSERT(n == 2);
        if (dies_at == after_tail) die();
        b.fill(batch, kWriter);
        b.fill(batch + 1, kWriter);
        if (dies_at == after_payload) die();
        b.publish(batch, kWriter);
        if (dies_at == after_one_publish) die();
        b.publish(batch + 1, kWriter);
        ring::release_exclusive(ring, next);  // (8) the give-back (ProducerCore::give_back_exclusive)
        fate.store(gave_back, std::memory_order_release);
    }

    void reap() {
        uint64_t f;
        while ((f = fate.load(std::memory_order_acquire)) == alive) rl::yield(1, $);
        if (f == died) {
            const uint64_t head = b.r.head.load(std::memory_order_acquire);  // reaper.cpp reap_participant
            uint64_t end = 0;  // one past its last claim of this lap (reaper.cpp claims_end)
            for (uint64_t o = head; o < head + kSlots; ++o) {
                if (abort_dead_claim(b.r, o, kWriter)) reaped[o] = true;  // abort_claims (1)
                const uint64_t c = b.r.ref().claim(o).load(std::memory_order_acquire);
                if (ring::slot_is(c, o) && ring::slot_owner(c) == kWriter) end = o + 1;
            }
            ring::clear_exclusive(b.r.ref(), end);  // then the bit, the tail past them (8)
            // (6): a next exclusive holder takes the ring at the tail and owns
            // everything above it, so no claim of the dead one may lie there.
            RL_ASSERT(ring::load_tail(b.r.tail) >= end);
        }
        b.finish();
    }

    void share() {
        while (fate.load(std::memory_order_acquire) == alive) rl::yield(1, $);
        while (!shared_send(b, shared_offset)) {  // busy until the reaper cleared the bit
            shared_busy = true;
            rl::yield(1, $);
        }
        b.finish();
    }

    void after() {
        b.check();
        RL_ASSERT(b.owner[shared_offset] == kShared && shared_offset >= batch + 2);  // fresh
        for (uint64_t o = 0; o < kSlots; ++o)
            RL_ASSERT(reaped[o] == (b.owner[o] == kWriter && !b.published[o]));  // exactly its open claims
        if (dies_at == never) RL_ASSERT(b.published[batch] && b.published[batch + 1]);
        ++deaths[dies_at];
        busy_seen += shared_busy;
    }

    static inline unsigned long deaths[kDeaths] = {};
    static inline unsigned long busy_seen = 0;
    static void report() {
        std::cout << "   died after the claim words / the tail / the payloads / one publish, or never:";
        for (unsigned long d : deaths) std::cout << ' ' << d;
        std::cout << "; the shared producer found the ring busy first: " << busy_seen << '\n';
    }
};

// (c) The give-back races a shared claimer. The writer takes the ring,
// claims `first` (contested) and one more, publishes them and gives the
// ring back at its cursor (release_exclusive); a shared producer's one
// try_claim races all of it: it is busy, or claims `first` before the
// writer's CAS (the writer then goes on at first + 1), an offset below
// `first` (before the bit), or one at or above the writer's cursor, never
// one the writer used.
struct GiveBackRacesSharedClaim : WriterVsSharedClaimer<GiveBackRacesSharedClaim> {
    void write() {
        const auto ring = b.r.ref();
        RL_ASSERT(ring::take_exclusive(ring, first));
        uint64_t limit = 0;
        bool got_first = false;
        uint64_t next = claim_first(b, first, limit, got_first);
        if (got_first) b.fill_and_publish(first, kWriter);
        b.own(next, kWriter);
        RL_ASSERT(ring::claim_exclusive(ring, kWriter, next, limit, 1) == 1);
        b.fill_and_publish(next - 1, kWriter);
        ring::release_exclusive(ring, next);  // (8)
        writer_next = next;
        b.finish();
    }

    void after() {
        b.check();
        if (shared_claimed) RL_ASSERT(shared_offset <= first || shared_offset >= writer_next);
        ++outcomes[!shared_claimed ? 0 : shared_offset <= first ? 1 : 2];
    }

    static inline unsigned long outcomes[3] = {};
    static void report() {
        std::cout << "   shared claimer busy: " << outcomes[0] << "; claimed at or below `first`: " << outcomes[1]
                  << "; claimed after the give-back: " << outcomes[2] << '\n';
    }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    bool ok = run_model<TakeoverRacesSharedClaim>("(a) take-over races a shared claimer", iterations);
    ok = run_model<DeadBatchClaimer>("(b) a batch claimer dies; the reaper aborts and clears", iterations) && ok;
    ok = run_model<GiveBackRacesSharedClaim>("(c) the give-back races a shared claimer", iterations) && ok;
    std::cout << (ok ? "writer model: all passed" : "writer model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
