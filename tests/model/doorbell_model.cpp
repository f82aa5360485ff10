// Model check of the asked-for doorbell (shmq/internal/daemon_doorbell.hpp)
// with relacy: the real ask_for_ring and take_ring_request on relacy's
// atomics (model_atomic.hpp). A producer commits (a seq_cst RMW of a slot's
// state word) and then takes a request; shmqd asks and then re-reads that
// state word. Whatever the interleaving and the memory model allow, shmqd
// sees the commit or the producer rings: nobody sleeps on a message.
// Built with SHMQ_MODEL_WEAKEN, shmqd's re-check is an acquire load instead
// of recheck()'s seq_cst one, and relacy must catch the lost ring (ctest
// doorbell_model_weakened).
//
// Usage: shmq_doorbell_model [iterations per test]
#include <cstdint>
#include <iostream>

#include "shmq/internal/daemon_doorbell.hpp"
#include "model_atomic.hpp"  // last: it includes relacy

namespace shmq::model {

namespace {

constexpr uint64_t kOldLap = 0;
constexpr uint64_t kCommitted = 1;

// (a) One producer commits and takes a request while shmqd asks and looks.
// (b) Two producers: one ring is enough, and at most one takes the request.
template <unsigned Producers>
struct AskRacesCommits : rl::test_suite<AskRacesCommits<Producers>, Producers + 1> {
    ModelAtomic wanted{0};
    ModelAtomic state[2]{ModelAtomic{kOldLap}, ModelAtomic{kOldLap}};  // each producer's slot at shmqd's positions
    // Harness bookkeeping (plain memory: relacy's threads are fibers of one OS thread).
    unsigned rings = 0;
    bool saw_all = false;

    void thread(unsigned index) {
        if (index < Producers) {
            uint64_t expected = kOldLap;
            RL_ASSERT(state[index].compare_exchange_strong(expected, kCommitted, std::memory_order_seq_cst));
            if (detail::take_ring_request(wanted)) ++rings;
            return;
        }
        detail::ask_for_ring(wanted);
        bool all = true;
        for (unsigned p = 0; p < Producers; ++p) {
#ifdef SHMQ_MODEL_WEAKEN
            const uint64_t s = state[p].load(std::memory_order_acquire);  // the mistake: not seq_cst
#else
            const uint64_t s = detail::recheck(state[p]);
#endif
            all = all && s == kCommitted;
        }
        saw_all = all;
    }

    void after() {
        RL_ASSERT(saw_all || rings > 0);  // shmqd sees every commit, or it is rung
        RL_ASSERT(rings <= 1);            // one ask, one ring
    }
};

}  // namespace
}  // namespace shmq::model

int main(int argc, char** argv) {
    using namespace shmq::model;
    const rl::iteration_t iterations = iterations_arg(argc, argv);
    bool ok = run_model<AskRacesCommits<1>>("(a) shmqd's ask races a commit", iterations);
    ok = run_model<AskRacesCommits<2>>("(b) shmqd's ask races two commits", iterations) && ok;
    std::cout << (ok ? "doorbell model: all passed" : "doorbell model: FAILED") << std::endl;
    return ok ? 0 : 1;
}
