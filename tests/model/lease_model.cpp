// Model check of the lease protocol (shmq/internal/lease_protocol.hpp, the steps of
// delivery.hpp's ordering argument (1)-(6)) with relacy: five races of a
// holder's ack, three threads each, under relacy's random scheduler and
// C++ memory model. relacy fails a test on a data race on a payload (an
// rl::var), an RL_ASSERT, a deadlock or a livelock.
//
// Built with SHMQ_MODEL_WEAKEN, it runs one test with one operation's
// release or acquire dropped (model_atomic.hpp set_weakening), and must fail.
//
// Each test takes the offset it starts at (`Start`: next and floor; the
// entries hold the lap before). `wrap` runs (a)-(e) at 2^36, whose entry goes
// from acked(2^36 - 2) (tag 2^36 - 2) to leased(2^36) (tag 0); `laps` runs
// (f), two laps of both entries across 2^36 - 2 .. 2^36 + 1 (model_tags.hpp).
// Built with SHMQ_MODEL_WEAKEN_TAGS (the tags compared unmasked) both must
// fail.
//
// Usage: shmq_lease_model [iterations per test] [test: a..e, all, wrap or laps]
//        shmq_lease_model_weakened <iterations> <test> [site release|acquire]
//        (a site and half of your own instead of the test's: e.g.
//        lease_move_begin acquire, to see what relacy makes of it)
#include <algorithm>
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

// The holder of offset o (the test's first): delivered fresh (real
// deliver), reads the payload, then its lease runs out (model time), then
// it acks late. Returns whether its ack won.
bool hold_and_ack_late(ModelPartition& p, uint64_t o, uint64_t& word) {
    RL_ASSERT(deliver_fresh(p, kHolder, word) == o);
    RL_ASSERT(p.payload(o)($) == kPayload);
    rl::yield(1, $);  // time passes (lets a scanner stamp the lease before it runs out)
    p.lease_ran_out.store(1, std::memory_order_release);
    rl::yield(1, $);  // the ack comes late
    return ack(p, o, word) == Settle::ok;
}

// Another consumer: redelivers a retry of o (reads it, acks it) and, as the
// next lap's producer, writes o's slot once the floor passed o. It reads the
// floor before the lease word, so a reuse rests on the floor's ordering.
void redeliver_then_reuse(ModelPartition& p, uint64_t o, bool& redelivered) {
    for (;;) {
        if (reuse_if_released(p, o, kNextLap)) return;
        uint64_t word = 0;
        if (deliver_retry(p, kOther, false, word) == o) {
            RL_ASSERT(!redelivered);  // once
            RL_ASSERT(p.payload(o)($) == kPayload);  // a redelivery after a revoke sees the payload
            redelivered = true;
            RL_ASSERT(ack(p, o, word) == Settle::ok);
            continue;
        }
        rl::yield(1, $);
    }
}

// (a) The holder's ack races expiry: a scanner stamps the delivery at first
// sight, and revokes it once the lease ran out; a second consumer redelivers
// the retry and, as the producer, reuses the slot after the floor.
template <uint64_t Start>
struct AckRacesExpiry : rl::test_suite<AckRacesExpiry<Start>, 3> {
    ModelPartition p{Start};
    uint64_t word = 0;
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(Start)($) = kPayload;
        p.published = Start + 1;
    }

    void thread(unsigned index) {
        if (index == 0) {
            acked = hold_and_ack_late(p, Start, word);
        } else if (index == 1) {
            ScannerClock clock;
            for (;;) {  // the scanner runs until the delivery is settled either way
                revoked += expire_leases(p, clock.now(p));
                const uint64_t w = p.entry(Start).word.load(std::memory_order_relaxed);
                if (revoked != 0 || acked_for(w, Start)) return;
                rl::yield(1, $);
            }
        } else {
            redeliver_then_reuse(p, Start, redelivered);
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));  // exactly one of ack and revoke won
        ++g_won[acked ? 0 : 1];
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + 1);
    }
};

// (b) The holder's ack races the reaper: the holder dies before or after its
// ack (its death is a release the reaper acquires: the kernel dropping its
// probe lock), the reaper revokes what it still held (owner_died), a second
// consumer redelivers and reuses as in (a).
template <uint64_t Start>
struct AckRacesReaper : rl::test_suite<AckRacesReaper<Start>, 3> {
    ModelPartition p{Start};
    ModelAtomic died{0};
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(Start)($) = kPayload;
        p.published = Start + 1;
    }

    void thread(unsigned index) {
        if (index == 0) {
            uint64_t word = 0;
            RL_ASSERT(deliver_fresh(p, kHolder, word) == Start);
            RL_ASSERT(p.payload(Start)($) == kPayload);
            if (rl::rand(2) == 0) acked = ack(p, Start, word) == Settle::ok;  // SIGKILL before or after the ack
            died.store(1, std::memory_order_release);
        } else if (index == 1) {
            while (died.load(std::memory_order_acquire) == 0) rl::yield(1, $);
            revoked = reap_leases(p, kHolder);
        } else {
            redeliver_then_reuse(p, Start, redelivered);
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + 1);
        ++g_won[acked ? 0 : 1];
    }
};

// (c) The holder's late ack races the DLQ mover: it holds 0's last allowed
// delivery (a redelivery, counted 3 of max_deliveries 3), which expires;
// shmqd's DLQ pass moves the exhausted retry (move-lease, copy, acked). The
// holder's process then produces the next lap, reusing the slot once the
// floor passed 0: after the mover's copy, in another thread.
template <uint64_t Start>
struct AckRacesDeadLetter : rl::test_suite<AckRacesDeadLetter<Start>, 3> {
    ModelPartition p{Start};
    rl::var<uint64_t> dlq_copy;
    uint64_t word = 0;
    bool acked = false;
    uint32_t revoked = 0;
    bool moved = false;

    void before() {
        p.payload(Start)($) = kPayload;
        p.published = Start + 1;
        dlq_copy($) = 0;
        // Start was nacked on its second-to-last allowed delivery.
        p.entry(Start).word.store(
            ring::retry_word(Start, lease_word(LeaseKind::leased, Start, kOther, kMaxDeliveries - 1),
                             ring::RetryReason::nacked),
            std::memory_order_relaxed);
        p.next.store(Start + 1, std::memory_order_relaxed);
    }

    void thread(unsigned index) {
        if (index == 0) {
            RL_ASSERT(deliver_retry(p, kHolder, false, word) == Start);  // its last allowed delivery
            RL_ASSERT(ring::lease_counted(word) == kMaxDeliveries);
            RL_ASSERT(p.payload(Start)($) == kPayload);
            rl::yield(1, $);  // time passes
            p.lease_ran_out.store(1, std::memory_order_release);
            rl::yield(1, $);  // the ack comes late
            acked = ack(p, Start, word) == Settle::ok;
            while (!reuse_if_released(p, Start, kNextLap)) rl::yield(1, $);
        } else if (index == 1) {
            ScannerClock clock;
            for (;;) {
                revoked += expire_leases(p, clock.now(p));
                const uint64_t w = p.entry(Start).word.load(std::memory_order_relaxed);
                if (revoked != 0 || acked_for(w, Start)) return;
                rl::yield(1, $);
            }
        } else {
            for (;;) {  // shmqd's DLQ pass, until Start is moved or acked
                if (dead_letter_pass(p, Start, kMover, dlq_copy)) {
                    moved = true;
                    RL_ASSERT(dlq_copy($) == kPayload);
                    return;
                }
                const uint64_t w = p.entry(Start).word.load(std::memory_order_relaxed);
                if (acked_for(w, Start)) return;
                rl::yield(1, $);
            }
        }
    }

    void after() {
        RL_ASSERT(acked != (revoked == 1));  // a late ack loses to the expiry
        RL_ASSERT(moved == (revoked == 1));
        ++g_won[acked ? 0 : 1];
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + 1);
    }
};

// (d) Out-of-order acks with the floor moving: two consumers hold 0 and 1
// and ack 1 then 0 in any interleaving (each ack advances the floor as far
// as it can); a third advances the floor too and, as the producer, reuses
// each slot once the floor passed it.
template <uint64_t Start>
struct OutOfOrderAcks : rl::test_suite<OutOfOrderAcks<Start>, 3> {
    ModelPartition p{Start};
    uint64_t first_ack = UINT64_MAX;

    void before() {
        p.payload(Start)($) = kPayload;
        p.payload(Start + 1)($) = kPayload + 1;
        p.published = Start + 2;
    }

    void thread(unsigned index) {
        if (index < 2) {
            uint64_t word = 0;
            const uint64_t o = deliver_fresh(p, kHolder + index, word);  // one each: Start and Start + 1
            RL_ASSERT(o - Start < 2);
            RL_ASSERT(p.payload(o)($) == kPayload + (o - Start));
            RL_ASSERT(ack(p, o, word) == Settle::ok);
            if (first_ack == UINT64_MAX) first_ack = o - Start;  // harness: relacy runs one thread at a time
        } else {
            uint64_t reused = 0;
            while (reused < 2) {
                advance_floor(p);
                while (reused < 2 && reuse_if_released(p, Start + reused, kNextLap + reused)) ++reused;
                if (reused < 2) rl::yield(1, $);
            }
        }
    }

    void after() {
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + 2);
        ++g_won[first_ack == 1 ? 0 : 1];
    }
};

// (e) The exclusive handoff: the old owner read its message, hands the
// partition over (its grace ran out) and acks late; the new owner claims the
// partition, takes over (revokes [floor, next) as a handoff) and delivers
// from the floor; the producer reuses the slot after the floor.
template <uint64_t Start>
struct HandoffRacesAck : rl::test_suite<HandoffRacesAck<Start>, 3> {
    ModelPartition p{Start};
    bool acked = false;
    uint32_t revoked = 0;
    bool redelivered = false;

    void before() {
        p.payload(Start)($) = kPayload;
        p.published = Start + 1;
        p.owner.store(kHolder, std::memory_order_relaxed);  // the old owner's partition
    }

    void thread(unsigned index) {
        if (index == 0) {
            // The old owner's exclusive fresh delivery (delivery.hpp (1')).
            const uint64_t w = p.entry(Start).word.load(std::memory_order_acquire);
            RL_ASSERT(ring::lease_deliverable(w, Start));
            const uint64_t word = lease_word(LeaseKind::leased, Start, kHolder, 1);
            ring::lease_start(p.entry(Start), 0);
            ring::lease_deliver_owned(p.next, p.entry(Start), Start, word);
            RL_ASSERT(p.payload(Start)($) == kPayload);
            release_partition(p, kHolder);  // handed over after the grace period, with Start still held
            rl::yield(1, $);                 // the ack comes late
            acked = ack(p, Start, word) == Settle::ok;
        } else if (index == 1) {
            while (!acquire_partition(p, kOther)) rl::yield(1, $);
            revoked = take_over(p);
            uint64_t word = 0;
            if (deliver_retry(p, kOther, true, word) == Start) {
                redelivered = true;
                RL_ASSERT(p.payload(Start)($) == kPayload);
                RL_ASSERT(ack(p, Start, word) == Settle::ok);
            }
        } else {
            while (!reuse_if_released(p, Start, kNextLap)) rl::yield(1, $);
        }
    }

    void after() {
        // Never both, never neither: the old owner's ack won, or the new
        // owner revoked 0 and delivered it again first.
        RL_ASSERT(acked != (revoked == 1));
        RL_ASSERT(redelivered == (revoked == 1));
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + 1);
        ++g_won[acked ? 0 : 1];
    }
};

// (f) Two laps of both entries across the tag's wrap: offsets 2^36 - 2 ..
// 2^36 + 1 (Start = 2^36 - 2). Two consumers deliver fresh and ack (each ack
// advances the floor as far as it can); the producer writes each slot's next
// lap once the floor passed its last, then publishes it (`produced`, a
// release store: the commit, ring_model's business, as one word); while it
// waits it advances the floor too, as the library's later callers do (a
// consumer's next receive or its close, consumer.cpp: "what the last acks
// did not publish": two acks' advances may each miss the other's ack), and
// at the end until the floor passed every offset. So an
// entry goes acked(2^36 - 4) -> leased/acked(2^36 - 2) -> leased/acked(2^36),
// tag 0: at 2^36, lease_deliverable must take acked(2^36 - 2) for an earlier
// lap, and a consumer whose `next` is stale (loaded before a peer delivered,
// acked and the slot was reused) finds its entry a lap ahead, acked or leased
// for o + 2, which it must not take for an earlier lap. So that it does, in
// half the iterations the second consumer is preempted once between its load
// of next and of the entry until the other consumer acked o + 2 (a harness
// pause, deliver_fresh's `pause`). The floor, a 64-bit offset, ends at
// 2^36 + 2.
template <uint64_t Start>
struct LapsAcrossTheWrap : rl::test_suite<LapsAcrossTheWrap<Start>, 3> {
    static constexpr uint64_t kOffsets = 2 * kLap;
    static constexpr uint64_t value(uint64_t o) { return kPayload + (o - Start); }

    ModelPartition p{Start};
    ModelAtomic produced{0};  // offsets below it are committed
    // Harness bookkeeping (relacy runs one thread at a time), by offset - Start.
    uint32_t delivered[kOffsets] = {};
    uint64_t acks = 0;
    uint32_t ahead = 0;  // deliveries that found their entry a lap ahead of a stale next

    void before() {
        for (uint64_t o = Start; o < Start + kLap; ++o) p.payload(o)($) = value(o);
        produced.store(Start + kLap, std::memory_order_relaxed);
    }

    void thread(unsigned index) {
        if (index == 2) {  // the producer: the next lap of each slot, once the floor passed the last
            for (uint64_t o = Start + kLap; o < Start + kOffsets; ++o) {
                while (!reuse_if_released(p, o - kLap, value(o))) {
                    advance_floor(p);
                    rl::yield(1, $);
                }
                produced.store(o + 1, std::memory_order_release);  // the commit of o
            }
            while (p.floor.load(std::memory_order_relaxed) != Start + kOffsets) {
                advance_floor(p);
                rl::yield(1, $);
            }
            return;
        }
        const uint32_t me = kHolder + index;
        bool stall = index == 1 && rl::rand(2) == 0;
        auto pause = [&](uint64_t o) {
            if (!stall) return;
            stall = false;
            while (acks < std::min(o - Start + kLap + 1, kOffsets)) rl::yield(1, $);  // o + 2 acked (or all)
        };
        while (acks < kOffsets) {
            uint64_t word = 0;
            const uint64_t o = deliver_fresh(p, me, word, produced.load(std::memory_order_acquire), &ahead, pause);
            if (o == UINT64_MAX) {
                rl::yield(1, $);
                continue;
            }
            RL_ASSERT(o - Start < kOffsets);
            RL_ASSERT(word == lease_word(LeaseKind::leased, o, me, 1));
            ++delivered[o - Start];
            RL_ASSERT(delivered[o - Start] == 1);  // delivered once
            RL_ASSERT(p.payload(o)($) == value(o));  // this lap's message, not the last's or the next's
            RL_ASSERT(ack(p, o, word) == Settle::ok);
            ++acks;
        }
        advance_floor(p);  // the consumer's close (consumer.cpp ~ConsumerCore)
    }

    void after() {
        for (uint64_t i = 0; i < kOffsets; ++i) RL_ASSERT(delivered[i] == 1);
        RL_ASSERT(p.floor.load(std::memory_order_relaxed) == Start + kOffsets);
        RL_ASSERT(p.next.load(std::memory_order_relaxed) == Start + kOffsets);
        for (uint64_t o = Start + kOffsets - kLap; o < Start + kOffsets; ++o)
            RL_ASSERT(acked_for(p.entry(o).word.load(std::memory_order_relaxed), o));
        ++g_won[ahead != 0 ? 0 : 1];
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
    {"a", "(a) an ack races expiry (stamp, revoke), a redelivery", {"ack won", "expiry won"},
     &check<AckRacesExpiry<0>>, "lease_revoke(", Drop::release},  // the revoke CAS's release
    {"b", "(b) an ack races the reaper (owner_died), a redelivery", {"ack won", "reaper won"},
     &check<AckRacesReaper<0>>, "lease_advance_floor", Drop::release},  // the floor CAS's release
    // (c): the floor CAS's release, after the mover's copy
    {"c", "(c) a late ack races the DLQ mover", {"ack won", "expiry and DLQ won"},
     &check<AckRacesDeadLetter<0>>, "lease_advance_floor", Drop::release},
    {"d", "(d) out-of-order acks, the floor moving, reuse", {"1 acked first", "0 acked first"},
     &check<OutOfOrderAcks<0>>, "lease_ack", Drop::release},  // the ack CAS's release
    {"e", "(e) the old owner's ack races a take-over", {"old owner's ack won", "take-over won"},
     &check<HandoffRacesAck<0>>, "acquire_partition", Drop::acquire},  // the owner CAS's acquire
};

// `wrap`: (a)-(e) at 2^36 (their entry's tag goes from 2^36 - 2 to 0, the
// floor from 2^36 to 2^36 + 1, or + 2 in (d)); `laps`: (f) from 2^36 - 2.
struct WrapCase {
    const char* group;
    const char* what;
    const char* sides[2];
    bool (*run)(const char*, rl::iteration_t);
};
constexpr uint64_t kWrap = kLeaseWrap;
const WrapCase kWrapCases[] = {
    {"wrap", "(a) at 2^36: an ack races expiry, a redelivery", {"ack won", "expiry won"},
     &check<AckRacesExpiry<kWrap>>},
    {"wrap", "(b) at 2^36: an ack races the reaper, a redelivery", {"ack won", "reaper won"},
     &check<AckRacesReaper<kWrap>>},
    {"wrap", "(c) at 2^36: a late ack races the DLQ mover", {"ack won", "expiry and DLQ won"},
     &check<AckRacesDeadLetter<kWrap>>},
    {"wrap", "(d) at 2^36: out-of-order acks, the floor moving, reuse", {"2^36 + 1 acked first", "2^36 acked first"},
     &check<OutOfOrderAcks<kWrap>>},
    {"wrap", "(e) at 2^36: the old owner's ack races a take-over", {"old owner's ack won", "take-over won"},
     &check<HandoffRacesAck<kWrap>>},
    {"laps", "(f) 2^36 - 2 .. 2^36 + 1: two consumers, the producer lapping both entries",
     {"a stale next found its entry a lap ahead", "never"}, &check<LapsAcrossTheWrap<kWrap - 2>>},
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    const char* only = argc > 2 ? argv[2] : "all";
    bool ok = true;
    for (const WrapCase& c : kWrapCases) {
        if (std::strcmp(only, c.group) == 0) {
            g_sides[0] = c.sides[0];
            g_sides[1] = c.sides[1];
            ok = c.run(c.what, iterations) && ok;
        }
    }
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
