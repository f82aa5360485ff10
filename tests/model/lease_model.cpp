// Model check of the lease protocol (shmq/internal/lease_protocol.hpp, the steps of
// delivery.hpp's ordering argument (1)-(6)) with relacy: five races of a
// holder's ack, three threads each, under relacy's random scheduler and
// C++ memory model. relacy fails a test on a data race on a payload (an
// rl::var), an RL_ASSERT, a deadlock or a livelock.
//
// Built with SHMQ_MODEL_WEAKEN, it runs one test with one operation's
// release or acquire dropped (model_atomic.hpp set_weakening), and must fail.
//
// Usage: shmq_lease_model [iterations per test] [test: a..e, or all]
//        shmq_lease_model_weakened <iterations> <test> [site release|acquire]
//        (a site and half of your own instead of the test's: e.g.
//        lease_move_begin acquire, to see what relacy makes of it)
#include <cstdint>
#include <cstring>
#include <iostream>

#include "model_lease.hpp"  // last: it includes relacy

namespace shmq::model {
namespace {

constexpr uint32_t kHolder = 1;  // participant ids
constexpr uint32_t kOther = 2;
constexpr uint32_t kMover = 3;
constexpr uint64_t kPayload = 42;
constexpr uint64_t kNextLap = 43;

// How often each side of a test's race won over its iterations (harness
// bookkeeping, printed after each test: both must have been explored).
uint64_t g_won[2];
const char* g_sides[2];

// The holder of offset 0: delivered fresh (real deliver), reads the
// payload, then its lease runs out (model time), then it acks late.
// Returns whether its ack won.
bool hold_and_ack_late(ModelPartition& p, uint64_t& word) {
    RL_ASSERT(deliver_fresh(p, kHolder, word) == 0);
    RL_ASSERT(p.payload(0)($) == kPayload);
    rl::yield(1, $);  // time passes (lets a scanner stamp the lease before it runs out)
    p.lease_ran_out.store(1, std::memory_order_release);
    rl::yield(1, $);  // the ack comes late
    return ack(p, 0, word) == Settle::ok;
}

// Another consumer: redelivers a retry of 0 (reads it, acks it) and, as the
// next lap's producer, writes slot 0 once the floor passed 0. It reads the
// floor before the lease word, so a reuse rests on the floor's ordering.
void redeliver_then_reuse(ModelPartition& p, bool& redelivered) {
    for (;;) {
        if (reuse_if_released(p, 0, kNextLap)) return;
        uint64_t word = 0;
        if (deliver_retry(p, kOther, false, word) == 0) {
            RL_ASSERT(!redelivered);  // once
            RL_ASSERT(p.payload(0)($) == kPayload);  // a redelivery after a revoke sees the payload
            redelivered = true;
            RL_ASSERT(ack(p, 0, word) == Settle::ok);
            continue;
        }
        rl::yield(1, $);
    }
}

// (a) The holder's ack races expiry: a scanner stamps the delivery at first
// sight, and revokes it once the lease ran out; a second consumer redelivers
// the retry and, as the producer, reuses the slot after the floor.
struct AckRacesExpiry : rl::test_suite<AckRacesExpiry, 3> {
    ModelPartition p;
    uint64_t word = 0;
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(0)($) = kPayload;
        p.published = 1;
    }

    void thread(unsigned index) {
        if (index == 0) {
            acked = hold_and_ack_late(p, word);
        } else if (index == 1) {
            ScannerClock clock;
            for (;;) {  // the scanner runs until the delivery is settled either way
                revoked += expire_leases(p, clock.now(p));
                const uint64_t w = p.entry(0).word.load(std::memory_order_relaxed);
                if (revoked != 0 || (ring::lease_kind(w) == LeaseKind::acked && ring::lease_is(w, 0))) return;
                rl::yield(1, $);
            }
        } else {
            redeliver_then_reuse(p, redelivered);
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));  // exactly one of ack and revoke won
        ++g_won[acked ? 0 : 1];
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == 1);
    }
};

// (b) The holder's ack races the reaper: the holder dies before or after its
// ack (its death is a release the reaper acquires: the kernel dropping its
// probe lock), the reaper revokes what it still held (owner_died), a second
// consumer redelivers and reuses as in (a).
struct AckRacesReaper : rl::test_suite<AckRacesReaper, 3> {
    ModelPartition p;
    ModelAtomic died{0};
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(0)($) = kPayload;
        p.published = 1;
    }

    void thread(unsigned index) {
        if (index == 0) {
            uint64_t word = 0;
            RL_ASSERT(deliver_fresh(p, kHolder, word) == 0);
            RL_ASSERT(p.payload(0)($) == kPayload);
            if (rl::rand(2) == 0) acked = ack(p, 0, word) == Settle::ok;  // SIGKILL before or after the ack
            died.store(1, std::memory_order_release);
        } else if (index == 1) {
            while (died.load(std::memory_order_acquire) == 0) rl::yield(1, $);
            revoked = reap_leases(p, kHolder);
        } else {
            redeliver_then_reuse(p, redelivered);
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == 1);
        ++g_won[acked ? 0 : 1];
    }
};

// (c) The holder's late ack races the DLQ mover: it holds 0's last allowed
// delivery (a redelivery, counted 3 of max_deliveries 3), which expires;
// shmqd's DLQ pass moves the exhausted retry (move-lease, copy, acked). The
// holder's process then produces the next lap, reusing the slot once the
// floor passed 0: after the mover's copy, in another thread.
struct AckRacesDeadLetter : rl::test_suite<AckRacesDeadLetter, 3> {
    ModelPartition p;
    rl::var<uint64_t> dlq_copy;
    uint64_t word = 0;
    bool acked = false;
    uint32_t revoked = 0;
    bool moved = false;

    void before() {
        p.payload(0)($) = kPayload;
        p.published = 1;
        dlq_copy($) = 0;
        // 0 was nacked on its second-to-last allowed delivery.
        p.entry(0).word.store(ring::retry_word(0, lease_word(LeaseKind::leased, 0, kOther, kMaxDeliveries - 1),
                                               ring::RetryReason::nacked),
                              std::memory_order_relaxed);
        p.next.store(1, std::memory_order_relaxed);
    }

    void thread(unsigned index) {
        if (index == 0) {
            RL_ASSERT(deliver_retry(p, kHolder, false, word) == 0);  // its last allowed delivery
            RL_ASSERT(ring::lease_counted(word) == kMaxDeliveries);
            RL_ASSERT(p.payload(0)($) == kPayload);
            rl::yield(1, $);  // time passes
            p.lease_ran_out.store(1, std::memory_order_release);
            rl::yield(1, $);  // the ack comes late
            acked = ack(p, 0, word) == Settle::ok;
            while (!reuse_if_released(p, 0, kNextLap)) rl::yield(1, $);
        } else if (index == 1) {
            ScannerClock clock;
            for (;;) {
                revoked += expire_leases(p, clock.now(p));
                const uint64_t w = p.entry(0).word.load(std::memory_order_relaxed);
                if (revoked != 0 || (ring::lease_kind(w) == LeaseKind::acked && ring::lease_is(w, 0))) return;
                rl::yield(1, $);
            }
        } else {
            for (;;) {  // shmqd's DLQ pass, until 0 is moved or acked
                if (dead_letter_pass(p, 0, kMover, dlq_copy)) {
                    moved = true;
                    RL_ASSERT(dlq_copy($) == kPayload);
                    return;
                }
                const uint64_t w = p.entry(0).word.load(std::memory_order_relaxed);
                if (ring::lease_kind(w) == LeaseKind::acked && ring::lease_is(w, 0)) return;
                rl::yield(1, $);
            }
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));  // a late ack loses to the expiry
        RL_ASSERT(moved == (revoked == 1));
        ++g_won[acked ? 0 : 1];
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == 1);
    }
};

// (d) Out-of-order acks with the floor moving: two consumers hold 0 and 1
// and ack 1 then 0 in any interleaving (each ack advances the floor as far
// as it can); a third advances the floor too and, as the producer, reuses
// each slot once the floor passed it.
struct OutOfOrderAcks : rl::test_suite<OutOfOrderAcks, 3> {
    ModelPartition p;
    uint64_t first_ack = UINT64_MAX;

    void before() {
        p.payload(0)($) = kPayload;
        p.payload(1)($) = kPayload + 1;
        p.published = 2;
    }

    void thread(unsigned index) {
        if (index < 2) {
            uint64_t word = 0;
            const uint64_t o = deliver_fresh(p, kHolder + index, word);  // one each: 0 and 1, either way round
            RL_ASSERT(o < 2);
            RL_ASSERT(p.payload(o)($) == kPayload + o);
            RL_ASSERT(ack(p, o, word) == Settle::ok);
            if (first_ack == UINT64_MAX) first_ack = o;  // harness: relacy runs one thread at a time
        } else {
            uint64_t reused = 0;
            while (reused < 2) {
                advance_floor(p);
                while (reused < 2 && reuse_if_released(p, reused, kNextLap + reused)) ++reused;
                if (reused < 2) rl::yield(1, $);
            }
        }
    }

    void after() {
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == 2);
        ++g_won[first_ack == 1 ? 0 : 1];
    }
};

// (e) The exclusive handoff: the old owner read its message, hands the
// partition over (its grace ran out) and acks late; the new owner claims the
// partition, takes over (revokes [floor, next) as a handoff) and delivers
// from the floor; the producer reuses the slot after the floor.
struct HandoffRacesAck : rl::test_suite<HandoffRacesAck, 3> {
    ModelPartition p;
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(0)($) = kPayload;
        p.published = 1;
        p.owner.store(kHolder, std::memory_order_relaxed);  // the old owner's partition
    }

    void thread(unsigned index) {
        if (index == 0) {
            // The old owner's exclusive fresh delivery (delivery.hpp (1')).
            const uint64_t w = p.entry(0).word.load(std::memory_order_acquire);
            RL_ASSERT(ring::lease_deliverable(w, 0));
            const uint64_t word = lease_word(LeaseKind::leased, 0, kHolder, 1);
            ring::lease_start(p.entry(0), 0);
            ring::lease_deliver_owned(p.next, p.entry(0), 0, word);
            RL_ASSERT(p.payload(0)($) == kPayload);
            release_partition(p, kHolder);  // handed over after the grace period, with 0 still held
            rl::yield(1, $);                 // the ack comes late
            acked = ack(p, 0, word) == Settle::ok;
        } else if (index == 1) {
            while (!acquire_partition(p, kOther)) rl::yield(1, $);
            revoked = take_over(p);
            uint64_t word = 0;
            if (deliver_retry(p, kOther, true, word) == 0) {
                redelivered = true;
                RL_ASSERT(p.payload(0)($) == kPayload);
                RL_ASSERT(ack(p, 0, word) == Settle::ok);
            }
        } else {
            while (!reuse_if_released(p, 0, kNextLap)) rl::yield(1, $);
        }
    }

    void after() {
        // Never both, never neither: the old owner's ack won, or the new
        // owner revoked 0 and delivered it again first.
        RL_ASSERT(acked != (revoked == 1));
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == 1);
        ++g_won[acked ? 0 : 1];
    }
};

template <class Test>
bool check(const char* what, rl::iteration_t iterations) {
    rl::test_params params;
    params.iteration_count = iterations;
    params.search_type = rl::random_scheduler_type;
    params.execution_depth_limit = 20000;  // scheduling points before relacy calls it a livelock
    std::cout << "== " << what << ", " << iterations << " iterations\n";
    g_won[0] = g_won[1] = 0;
    const bool ok = rl::simulate<Test>(params);
    std::cout << g_sides[0] << ": " << g_won[0] << ", " << g_sides[1] << ": " << g_won[1] << "\n";
    return ok;
}

struct Case {
    const char* name;
    const char* what;
    const char* sides[2];
    bool (*run)(const char*, rl::iteration_t);
    const char* site;  // the weakened variant: the operations written in this function lose...
    Drop drop;         // ...this half of their order
};

const Case kCases[] = {
    {"a", "(a) an ack races expiry (stamp, revoke), a redelivery", {"ack won", "expiry won"}, &check<AckRacesExpiry>,
     "lease_revoke(", Drop::release},  // the revoke CAS's release
    {"b", "(b) an ack races the reaper (owner_died), a redelivery", {"ack won", "reaper won"}, &check<AckRacesReaper>,
     "lease_advance_floor", Drop::release},  // the floor CAS's release
    {"c", "(c) a late ack races the DLQ mover", {"ack won", "expiry and DLQ won"}, &check<AckRacesDeadLetter>,
     "lease_advance_floor", Drop::release},  // the floor CAS's release, after the mover's copy
    {"d", "(d) out-of-order acks, the floor moving, reuse", {"1 acked first", "0 acked first"}, &check<OutOfOrderAcks>,
     "lease_ack", Drop::release},  // the ack CAS's release
    {"e", "(e) the old owner's ack races a take-over", {"old owner's ack won", "take-over won"}, &check<HandoffRacesAck>,
     "acquire_partition", Drop::acquire},  // the owner CAS's acquire
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    const char* only = argc > 2 ? argv[2] : "all";
    bool ok = true;
    for (const Case& c : kCases) {
        if (std::strcmp(only, "all") != 0 && std::strcmp(only, c.name) != 0) continue;
#ifdef SHMQ_MODEL_WEAKEN
        if (argc > 4)
            set_weakening(argv[3], std::strcmp(argv[4], "acquire") == 0 ? Drop::acquire : Drop::release);
        else
            set_weakening(c.site, c.drop);
        const Weakening& weakened = g_weakening;
        std::cout << "weakened: " << weakened.site << " loses its "
                  << (weakened.drop == Drop::release ? "release" : "acquire") << "\n";
#endif
        g_sides[0] = c.sides[0];
        g_sides[1] = c.sides[1];
        ok = c.run(c.what, iterations) && ok;
    }
    std::cout << (ok ? "lease model: all passed" : "lease model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
