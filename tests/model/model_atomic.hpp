// The ring's 64-bit atomic word for the model check: an rl::atomic<uint64_t>
// behind the std::atomic member functions the protocol calls (load, store,
// compare_exchange_*, fetch_add), so ring::BasicRingRef<ModelAtomic> runs the real
// try_claim / finish_claim / help_forward of shmq/internal/commit_protocol.hpp under
// relacy's scheduler and memory model. Each std::memory_order maps to its
// rl::mo_*; relacy's `$` (the operation's place in its report) is the
// caller's std::source_location, so a report names commit_protocol.hpp lines.
//
// The weakened variant (docs/RELIABILITY.md, "Model check") gives a word Ordering::without_release: each store or read-modify-write on it loses
// its release half (seq_cst/acq_rel -> acquire, release -> relaxed). The
// protocol code is untouched; only the slots' state words are built so.
//
// The lease model's weakened variants (built with SHMQ_MODEL_WEAKEN too)
// weaken one operation instead of a word: set_weakening(site, what) drops
// the release (or acquire) half of every atomic operation written in a
// function whose name contains `site` (e.g. "lease_ack("), whichever word it
// is on: the caller's std::source_location says where it was written.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <source_location>

#include "relacy_last.hpp"  // last: relacy #defines new, delete and assert

namespace shmq::model {

enum class Ordering { as_written, without_release };

enum class Drop { nothing, release, acquire };
struct Weakening {
    const char* site = nullptr;  // part of a function's name (std::source_location::function_name)
    Drop drop = Drop::nothing;
};
#ifdef SHMQ_MODEL_WEAKEN
inline Weakening g_weakening;  // set by the weakened model before it runs a test
inline void set_weakening(const char* site, Drop drop) { g_weakening = Weakening{site, drop}; }
#endif

class ModelAtomic {
public:
    using Where = std::source_location;

    explicit ModelAtomic(uint64_t initial, Ordering ordering = Ordering::as_written, Where at = Where::current())
        : ordering_(ordering) {
        word_.store(initial, rl::mo_relaxed, info(at));
    }

    uint64_t load(std::memory_order mo, Where at = Where::current()) const {
        return word_.load(at_site(map(mo), at), info(at));
    }
    void store(uint64_t v, std::memory_order mo, Where at = Where::current()) {
        word_.store(v, at_site(weaken(map(mo)), at), info(at));
    }
    bool compare_exchange_strong(uint64_t& expected, uint64_t desired, std::memory_order success,
                                 std::memory_order failure, Where at = Where::current()) {
        const rl::memory_order s = at_site(weaken(map(success)), at);
        return word_.compare_exchange_strong(expected, desired, s, info(at),
                                             failure_order(s, at_site(map(failure), at)), info(at));
    }
    // The single-order form: the failure order as C++ derives it.
    bool compare_exchange_strong(uint64_t& expected, uint64_t desired, std::memory_order mo,
                                 Where at = Where::current()) {
        const std::memory_order failure = mo == std::memory_order_acq_rel   ? std::memory_order_acquire
                                          : mo == std::memory_order_release ? std::memory_order_relaxed
                                                                            : mo;
        return compare_exchange_strong(expected, desired, mo, failure, at);
    }
    uint64_t fetch_add(uint64_t v, std::memory_order mo, Where at = Where::current()) {
        return word_.rmw(rl::rmw_type_t<rl::rmw_type_add>(), v, at_site(weaken(map(mo)), at), info(at));
    }
    bool compare_exchange_weak(uint64_t& expected, uint64_t desired, std::memory_order success,
                               std::memory_order failure, Where at = Where::current()) {
        const rl::memory_order s = at_site(weaken(map(success)), at);
        return word_.compare_exchange_weak(expected, desired, s, info(at), failure_order(s, at_site(map(failure), at)),
                                           info(at));
    }

private:
    static rl::debug_info info(const Where& at) {
        return rl::debug_info(at.function_name(), at.file_name(), static_cast<unsigned>(at.line()));
    }
    static rl::memory_order map(std::memory_order mo) {
        switch (mo) {
            case std::memory_order_relaxed: return rl::mo_relaxed;
            case std::memory_order_consume: return rl::mo_consume;
            case std::memory_order_acquire: return rl::mo_acquire;
            case std::memory_order_release: return rl::mo_release;
            case std::memory_order_acq_rel: return rl::mo_acq_rel;
            case std::memory_order_seq_cst: return rl::mo_seq_cst;
        }
        return rl::mo_seq_cst;
    }
    // The weakened variant: drop the release half of a write's order.
    rl::memory_order weaken(rl::memory_order mo) const {
        if (ordering_ == Ordering::as_written) return mo;
        if (mo == rl::mo_release) return rl::mo_relaxed;
        if (mo == rl::mo_acq_rel || mo == rl::mo_seq_cst) return rl::mo_acquire;
        return mo;
    }
    // The lease model's weakened variants: one site loses one half.
    static rl::memory_order at_site(rl::memory_order mo, [[maybe_unused]] const Where& at) {
#ifdef SHMQ_MODEL_WEAKEN
        const Weakening& w = g_weakening;
        if (w.drop == Drop::nothing || std::strstr(at.function_name(), w.site) == nullptr) return mo;
        if (w.drop == Drop::release) {
            if (mo == rl::mo_release) return rl::mo_relaxed;
            if (mo == rl::mo_acq_rel || mo == rl::mo_seq_cst) return rl::mo_acquire;
        } else {
            if (mo == rl::mo_acquire || mo == rl::mo_consume) return rl::mo_relaxed;
            if (mo == rl::mo_acq_rel || mo == rl::mo_seq_cst) return rl::mo_release;
        }
#endif
        return mo;
    }
    // relacy (like C++11) wants the failure order no stronger than the
    // success order; only a weakened success order can break that.
    static rl::memory_order failure_order(rl::memory_order success, rl::memory_order failure) {
        if (success == rl::mo_relaxed || success == rl::mo_release) return rl::mo_relaxed;
        if (success == rl::mo_acquire && failure == rl::mo_seq_cst) return rl::mo_acquire;
        return failure;
    }

    rl::atomic<uint64_t> word_;
    Ordering ordering_;
};

// std::atomic_thread_fence(seq_cst) on relacy's model, reported at the
// caller's line (the commit-barrier model's fences and modelled membarrier).
inline void seq_cst_fence(std::source_location at = std::source_location::current()) {
    rl::atomic_thread_fence(rl::mo_seq_cst,
                            rl::debug_info(at.function_name(), at.file_name(), static_cast<unsigned>(at.line())));
}

// Runs relacy's random scheduler over `Test` for `iterations` and says what
// it checks (the ring, doorbell, writer and commit-barrier models; the lease
// model counts more). A test with a static report() (the writer and
// commit-barrier models) then prints how often each branch was taken: both
// sides of each race explored.
template <class Test>
bool run_model(const char* what, rl::iteration_t iterations) {
    rl::test_params params;
    params.iteration_count = iterations;
    params.search_type = rl::random_scheduler_type;
    // Scheduling points per iteration before relacy calls it a livelock; the
    // waits yield; an iteration takes about a hundred.
    params.execution_depth_limit = 20000;
    std::cout << "== " << what << ", " << iterations << " iterations\n";
    const bool ok = rl::simulate<Test>(params);
    if constexpr (requires { Test::report(); }) Test::report();
    return ok;
}

// A model's first argument: iterations per test (100 000 if not given).
inline rl::iteration_t iterations_arg(int argc, char** argv) {
    return argc > 1 ? static_cast<rl::iteration_t>(std::strtoull(argv[1], nullptr, 10)) : 100000;
}

}  // namespace shmq::model
