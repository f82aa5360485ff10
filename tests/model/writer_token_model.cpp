// Model check of the automatic writer token's handover
// (shmq/internal/writer_token.hpp (9)-(14)) with relacy: the real take_auto,
// holder_enter/holder_leave, holder_give_back, request_handover,
// holder_quiet and contender_give_back, around the real claim_contested,
// claim_exclusive, try_claim and publish of commit_protocol.hpp, on a ring
// of four slots (model_ring.hpp). What the library does around them is
// mirrored: ProducerCore::contend's loop (its liveness checks become the
// reaper thread, its timeout a bounded patience), the reaper's scan
// (reaper.cpp reap_participant). Ownership of each offset is harness
// memory: a second owner is an assertion, and so is a publisher whose
// offset's claim word names someone else.
//
// The holder takes the role and sends two messages, each through (10): H1,
// the compiler barrier, H2, then (7)'s stores and H3, or, once asked, the
// give-back (11) and the shared protocol. A contender sends one message:
// try_claim; busy: ask (C1), membarrier (C2), wait until the holder is
// quiet (C3), give the role back for it (11), claim again. A consumer reads
// every offset. membarrier(GLOBAL_EXPEDITED) is modelled as in
// commit_barrier_model.cpp: a fence on the caller at both ends, and in
// between one on the holder's CPU at whatever point of its program it is
// (each of its steps, and the compiler barrier inside holder_enter, serves
// a pending request). A holder that stopped or died is off the CPU: a
// membarrier does not wait for it (its stores were made visible when it
// left the CPU: a fence).
//
// Built with SHMQ_MODEL_WEAKEN, the contender's membarrier is a fence of
// its own only (nothing on the holder's CPU): relacy must catch the holder
// claiming with plain stores after the contender gave its role back (two
// owners of an offset) (ctest writer_token_model_weakened).
//
// Usage: shmq_writer_token_model [iterations per test]
#include <csetjmp>
#include <cstdint>
#include <iostream>

#include "shmq/internal/writer_token.hpp"
#include "model_ring.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

constexpr uint32_t kHolder = 1;
constexpr uint32_t kContender = 2;
constexpr uint64_t kHolderToken = uint64_t{1} << 16 | kHolder;  // layout::owner_token(id, generation 1)
constexpr uint64_t kContenderToken = uint64_t{1} << 16 | kContender;
constexpr uint64_t message_of(uint32_t owner, uint64_t offset) { return uint64_t{owner} << 8 | (offset + 1); }

using Ring = BasicModelRing<4, Ordering::as_written>;
constexpr uint64_t kSlots = Ring::capacity;

enum class Fate { lives, stops, dies };
enum : uint64_t { running = 0, finished = 1, stopped = 2, died = 3 };

// Steps of the holder at which it may stop or die (each serves a pending
// membarrier first); kSteps: it never does.
constexpr unsigned kSteps = 16;

template <Fate F>
struct Handover : rl::test_suite<Handover<F>, F == Fate::dies ? 4 : 3> {
    Ring r;
    ModelAtomic writer{0};         // PartitionControl::writer
    ModelAtomic sending{0};        // PartitionControl::writer_sending
    ModelAtomic commit_fence{0};   // RegionHeader::commit_fence
    ModelAtomic holder_fate{running};  // death is a release the reaper acquires (the kernel drops the lock)
    ModelAtomic done{0};           // claiming parties finished (acq_rel)
    std::jmp_buf halt;
    // Harness memory (relacy's threads are fibers of one OS thread).
    bool pending = false;     // a membarrier's barrier not yet run on the holder's CPU
    bool on_cpu = true;       // the holder runs (not stopped, not dead)
    bool contender_done = false;
    unsigned steps = 0, halt_at = kSteps;
    uint32_t owner[kSlots] = {};
    bool published[kSlots] = {};
    Found seen[kSlots] = {};
    uint64_t received[kSlots] = {};
    uint64_t scanned = 0;
    bool gave_up = false;       // the contender's patience ran out (only behind a stopped holder)
    bool holder_gave_back = false, contender_gave_back = false, holder_took = false;

    // The holder's CPU runs a pending membarrier's barrier here.
    void serve() {
        if (!pending) return;
        seq_cst_fence();
        pending = false;
    }
    // One step of the holder: serve, then maybe stop or die here.
    void point() {
        serve();
        if (F == Fate::lives || ++steps != halt_at) return;
        seq_cst_fence();  // leaving the CPU: a full barrier
        on_cpu = false;
        holder_fate.store(F == Fate::dies ? died : stopped, std::memory_order_release);
        if (F == Fate::stops) done.fetch_add(1, std::memory_order_acq_rel);  // it does nothing more
        std::longjmp(halt, 1);
    }
    struct HolderBarriers {
        Handover* t;
        void compiler_barrier() const { t->point(); }  // where another CPU's membarrier may land
    };
    void membarrier() {
#ifdef SHMQ_MODEL_WEAKEN
        seq_cst_fence();  // the mistake: a fence of our own, nothing on the holder's CPU
#else
        seq_cst_fence();
        pending = true;
        while (pending && on_cpu) rl::yield(1, $);
        pending = false;
        seq_cst_fence();
#endif
    }

    void own(uint64_t o, uint32_t id) {
        RL_ASSERT(o < kSlots);
        RL_ASSERT(owner[o] == 0);  // one claimer per offset
        owner[o] = id;
    }
    void fill_and_publish(uint64_t o, uint32_t id) {
        r.slot(o).payload($) = message_of(id, o);
        const uint64_t c = r.ref().claim(o).load(std::memory_order_relaxed);
        RL_ASSERT(ring::slot_is(c, o) && ring::slot_owner(c) == id);
        ring::publish(r.ref(), o);
        published[o] = true;
    }

    void thread(unsigned index) {
        if (index == 0)
            hold();
        else if (index == 1)
            contend();
        else if (index == 2)
            consume();
        else
            reap();
    }

    // ---- the holder (ProducerCore: take_auto at open, then claim_once per send)
    bool holding = false, contested = true;
    uint64_t next = 0, limit = 0;

    void hold() {
        if constexpr (F != Fate::lives) halt_at = 1 + rl::rand(kSteps);  // kSteps: never
        if (setjmp(halt) == 0) {
            run();
            holder_fate.store(finished, std::memory_order_release);
            done.fetch_add(1, std::memory_order_acq_rel);
            while (!contender_done) {  // still running: a membarrier reaches this CPU too
                serve();
                rl::yield(1, $);
            }
        }
    }

    void run() {
        point();
        uint64_t first = 0;
        holding = holder_took = ring::take_auto(r.ref(), writer, kHolderToken, first);  // (9)
        next = first;
        for (int i = 0; i < 2; ++i) send();
    }

    void send() {
        point();
        if (holding) {
            if (!ring::holder_enter(sending, writer, ring::auto_writer(kHolderToken), commit_fence, HolderBarriers{this})) {
                point();
                holding = false;  // (11): asked; give back unless the contender did
                holder_gave_back = ring::holder_give_back(r.ref(), writer, kHolderToken, next, [this] { point(); });
                point();
                ring::holder_leave(sending);
            } else {
                point();
                uint64_t o = 0;
                bool have = false;
                if (contested) {  // (6): the first offset, which the contender may have claimed before the bit
                    contested = false;
                    const ring::ClaimResult rc = ring::claim_contested(r.ref(), kHolder, next, limit);
                    RL_ASSERT(rc == ring::ClaimResult::claimed || rc == ring::ClaimResult::busy);
                    if (rc == ring::ClaimResult::claimed) {
                        own(next, kHolder);
                        o = next;
                        have = true;
                    }
                    ++next;
                }
                if (!have) {
                    own(next, kHolder);  // (7): the claim word's plain store makes it ours
                    RL_ASSERT(ring::claim_exclusive(r.ref(), kHolder, next, limit, 1, [this] { point(); }) == 1);
                    o = next - 1;
                }
                point();
                ring::holder_leave(sending);  // H3
                point();
                fill_and_publish(o, kHolder);
                return;
            }
        }
        for (;;) {  // the shared protocol (a busy tail: the contender is mid-handover)
            uint64_t o = 0;
            uint64_t shared_limit = 0;
            const ring::ClaimResult rc = ring::try_claim(r.ref(), kHolder, shared_limit, o);
            if (rc == ring::ClaimResult::claimed) {
                own(o, kHolder);
                point();
                fill_and_publish(o, kHolder);
                return;
            }
            RL_ASSERT(rc == ring::ClaimResult::busy);
            point();
            rl::yield(1, $);
        }
    }

    // ---- the contender (ProducerCore::contend, then the shared claim)
    void contend() {
        uint64_t limit_c = 0;
        for (;;) {
            uint64_t o = 0;
            const ring::ClaimResult rc = ring::try_claim(r.ref(), kContender, limit_c, o);
            if (rc == ring::ClaimResult::claimed) {
                own(o, kContender);
                fill_and_publish(o, kContender);
                break;
            }
            RL_ASSERT(rc == ring::ClaimResult::busy);
            if (!handover()) {
                gave_up = true;  // its send's timeout
                break;
            }
        }
        contender_done = true;
        done.fetch_add(1, std::memory_order_acq_rel);
    }

    // A stopped holder blocks us only inside a claim (sending == 1) or
    // inside its own give-back: the send's timeout. A running holder
    // finishes, a dead one is reaped: waiting on them (relacy reports a
    // livelock if a wait never ends).
    bool out_of_patience(unsigned& spins) {
        if (F != Fate::stops || on_cpu) return false;
        return ++spins >= 8;
    }

    bool handover() {
        unsigned spins = 0;
        for (;;) {
            if (!ring::tail_exclusive(r.tail.load(std::memory_order_acquire))) return true;
            uint64_t w = writer.load(std::memory_order_acquire);
            // The bit after a writer word of 0 (both acquire): no writer holds it
            // (a give-back clears the bit, then the word; nobody takes again
            // here). ProducerCore::writer_state calls that damage.
            if (w == 0) RL_ASSERT(!ring::tail_exclusive(r.tail.load(std::memory_order_acquire)));
            if (w == 0 || ring::writer_in_handover(w) || holder_fate.load(std::memory_order_acquire) == died) {
                // a give-back between its two stores, or a dead holder the reaper clears (13)
                if (out_of_patience(spins)) return false;
                rl::yield(1, $);
                continue;
            }
            RL_ASSERT(ring::writer_is_auto(w) && ring::writer_token(w) == kHolderToken);
            if (!ring::request_handover(writer, w, kContender)) continue;  // C1
            membarrier();                                                  // C2
            bool quiet = false;
            for (;;) {  // C3
                if ((quiet = ring::holder_quiet(sending))) break;
                if (writer.load(std::memory_order_acquire) != w) break;
                if (out_of_patience(spins)) return false;
                rl::yield(1, $);
            }
            if (quiet && ring::contender_give_back(r.ref(), writer, w, kContenderToken)) {
                contender_gave_back = true;
                return true;
            }
        }
    }

    // ---- the reaper of a dead holder (reaper.cpp reap_participant)
    void reap() {
        uint64_t f;
        while ((f = holder_fate.load(std::memory_order_acquire)) == running) rl::yield(1, $);
        if (f != died) return;
        const uint64_t head = r.head.load(std::memory_order_acquire);
        uint64_t end = 0;
        for (uint64_t o = head; o < head + kSlots; ++o) {
            (void)abort_dead_claim(r, o, kHolder);
            const uint64_t c = r.ref().claim(o).load(std::memory_order_acquire);
            if (ring::slot_is(c, o) && ring::slot_owner(c) == kHolder) end = o + 1;
        }
        uint64_t w = writer.load(std::memory_order_acquire);
        if (w != 0 && ring::writer_token(w) == kHolderToken) {
            ring::clear_exclusive(r.ref(), end);
            if (ring::writer_is_auto(w)) sending.store(0, std::memory_order_release);
            while (ring::writer_token(w) == kHolderToken &&
                   !writer.compare_exchange_weak(w, 0, std::memory_order_acq_rel, std::memory_order_acquire)) {
            }
        }
        done.fetch_add(1, std::memory_order_acq_rel);
    }

    // ---- the consumer (delivery.hpp: acquire load of the state at its cursor)
    void consume() {
        for (uint64_t o = 0; o < kSlots; ++o) {
            Found f;
            bool open = false;  // a stopped holder's claim: stays open (the partition stalls there)
            while ((f = look(r, o)) == Found::nothing_yet) {
                if (done.load(std::memory_order_acquire) == 2) {
                    if ((f = look(r, o)) != Found::nothing_yet) break;
                    const uint64_t c = r.ref().claim(o).load(std::memory_order_acquire);
                    if (F == Fate::stops && ring::slot_is(c, o) && ring::slot_owner(c) == kHolder) {
                        open = true;  // look past it, for the check
                        break;
                    }
                    RL_ASSERT(!ring::slot_is(c, o));                  // stuck: claimed, never finished
                    RL_ASSERT(o >= ring::load_tail(*r.ref().tail));  // nothing open below the tail
                    scanned = o;
                    return;
                }
                rl::yield(1, $);
            }
            if (open) continue;
            seen[o] = f;
            if (f == Found::message) received[o] = r.slot(o).payload($);
        }
        scanned = kSlots;
    }

    void after() {
        for (uint64_t o = 0; o < kSlots; ++o) {
            if (owner[o] == 0) continue;
            if (published[o]) {
                RL_ASSERT(o < scanned && seen[o] == Found::message && received[o] == message_of(owner[o], o));
            } else if (F == Fate::dies) {
                RL_ASSERT(o < scanned && seen[o] == Found::aborted);  // the reaper aborted it
            } else {
                RL_ASSERT(F == Fate::stops && owner[o] == kHolder);  // only a stopped holder leaves one open
            }
        }
        if (F == Fate::lives) RL_ASSERT(!gave_up);
        const uint64_t f = holder_fate.load(std::memory_order_relaxed);
        if (!gave_up) {
            bool contender_sent = false;
            for (uint64_t o = 0; o < kSlots; ++o) contender_sent |= owner[o] == kContender && published[o];
            RL_ASSERT(contender_sent);
        }
        ++outcomes[!holder_took ? 0 : contender_gave_back ? 1 : holder_gave_back ? 2 : gave_up ? 3 : 4];
        ++fates[f];
    }

    static inline unsigned long outcomes[5] = {};
    static inline unsigned long fates[4] = {};
    static void report() {
        std::cout << "   took no role (the contender first): " << outcomes[0] << "; the contender gave it back: "
                  << outcomes[1] << "; the holder did: " << outcomes[2] << "; the contender timed out: " << outcomes[3]
                  << "; never asked (claimed before the take), or reaped: " << outcomes[4] << "\n   holder finished / stopped / died: "
                  << fates[finished] << " / " << fates[stopped] << " / " << fates[died] << '\n';
    }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    bool ok = run_model<Handover<Fate::lives>>("(a) a contender takes the role back from a sending holder", iterations);
    ok = run_model<Handover<Fate::stops>>("(b) the holder stops at any step (SIGSTOP)", iterations) && ok;
    ok = run_model<Handover<Fate::dies>>("(c) the holder dies at any step; the reaper clears", iterations) && ok;
    std::cout << (ok ? "writer_token model: all passed" : "writer_token model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
