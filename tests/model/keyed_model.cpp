// Model check of a keyed group's unparking race (shmq/internal/keyed_lane.hpp,
// K3-K4) with relacy. A holder parks message s behind its key's previous
// message o: it stores successor[o] = s, parks s, then (K4) reads o's lease
// word with an RMW. A finisher ACKs o (an RMW of the same word) and then
// reads successor[o]. The two steps are written as keyed_delivery.cpp
// does them (the same orders). Whatever the interleaving and the memory
// model allow, one of the two queues s: no parked message waits for a
// finish that already happened. Built with SHMQ_MODEL_WEAKEN, (K4) is a
// plain acquire load instead of the RMW, and relacy must catch the lost
// wake-up (ctest keyed_model_weakened).
//
// Usage: shmq_keyed_model [iterations per test]
#include <cstdint>
#include <iostream>

#include "model_atomic.hpp"  // last: it includes relacy

namespace shmq::model {

namespace {

constexpr uint64_t kLeased = 1;  // o's lease word while its holder has it
constexpr uint64_t kAcked = 2;   // ... once ACKed
constexpr uint64_t kFresh = 0;   // s's lease word before it is indexed
constexpr uint64_t kParked = 3;  // ... parked behind o
constexpr uint64_t kS = 7;       // the offset of s

struct FinishRacesPark : rl::test_suite<FinishRacesPark, 2> {
    ModelAtomic pred_word{kLeased};
    ModelAtomic successor{0};
    ModelAtomic parked_word{kFresh};
    // Harness bookkeeping (plain memory: relacy's threads are fibers of one OS thread).
    bool queued_by_holder = false;
    bool queued_by_finisher = false;

    void thread(unsigned index) {
        if (index == 0) {  // the holder, under the lane lock, after (K1) found o unfinished
            successor.store(kS, std::memory_order_relaxed);
            uint64_t fresh = kFresh;
            RL_ASSERT(parked_word.compare_exchange_strong(fresh, kParked, std::memory_order_acq_rel));
#ifdef SHMQ_MODEL_WEAKEN
            const uint64_t now_pred = pred_word.load(std::memory_order_acquire);  // the mistake: no RMW
#else
            const uint64_t now_pred = pred_word.fetch_add(0, std::memory_order_acq_rel);  // (K4)
#endif
            if (now_pred == kAcked) queued_by_holder = true;
            return;
        }
        // The finisher: the ACK's CAS, then the look at successor[o].
        uint64_t leased = kLeased;
        RL_ASSERT(pred_word.compare_exchange_strong(leased, kAcked, std::memory_order_acq_rel));
        if (successor.load(std::memory_order_relaxed) == kS) queued_by_finisher = true;
    }

    void after() { RL_ASSERT(queued_by_holder || queued_by_finisher); }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    const bool ok = run_model<FinishRacesPark>("a finish races a park behind it", iterations);
    std::cout << (ok ? "keyed model: all passed" : "keyed model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
