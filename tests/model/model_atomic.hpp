// The ring's 64-bit atomic word for the model check: an rl::atomic<uint64_t>
// behind the std::atomic member functions the protocol calls (load, store,
// compare_exchange_*), so ring::BasicRingRef<ModelAtomic> runs the real
// try_claim / finish_claim / help_forward of shmq/internal/commit_protocol.hpp under
// relacy's scheduler and memory model. Each std::memory_order maps to its
// rl::mo_*; relacy's `$` (the operation's place in its report) is the
// caller's std::source_location, so a report names commit_protocol.hpp lines.
//
// The weakened variant (docs/RELIABILITY.md, "Model check") gives a word Ordering::without_release: each store or read-modify-write on it loses
// its release half (seq_cst/acq_rel -> acquire, release -> relaxed). The
// protocol code is untouched; only the slots' state words are built so.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>

#include "relacy_last.hpp"  // last: relacy #defines new, delete and assert

namespace shmq::model {

enum class Ordering { as_written, without_release };

class ModelAtomic {
public:
    using Where = std::source_location;

    explicit ModelAtomic(uint64_t initial, Ordering ordering = Ordering::as_written, Where at = Where::current())
        : ordering_(ordering) {
        word_.store(initial, rl::mo_relaxed, info(at));
    }

    uint64_t load(std::memory_order mo, Where at = Where::current()) const { return word_.load(map(mo), info(at)); }
    void store(uint64_t v, std::memory_order mo, Where at = Where::current()) {
        word_.store(v, weaken(map(mo)), info(at));
    }
    bool compare_exchange_strong(uint64_t& expected, uint64_t desired, std::memory_order success,
                                 std::memory_order failure, Where at = Where::current()) {
        const rl::memory_order s = weaken(map(success));
        return word_.compare_exchange_strong(expected, desired, s, info(at), failure_order(s, map(failure)), info(at));
    }
    bool compare_exchange_weak(uint64_t& expected, uint64_t desired, std::memory_order success,
                               std::memory_order failure, Where at = Where::current()) {
        const rl::memory_order s = weaken(map(success));
        return word_.compare_exchange_weak(expected, desired, s, info(at), failure_order(s, map(failure)), info(at));
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
    // relacy (like C++11) wants the failure order no stronger than the
    // success order; only a weakened success order can break that.
    static rl::memory_order failure_order(rl::memory_order success, rl::memory_order failure) {
        if (success == rl::mo_relaxed) return rl::mo_relaxed;
        if (success == rl::mo_acquire && failure == rl::mo_seq_cst) return rl::mo_acquire;
        return failure;
    }

    rl::atomic<uint64_t> word_;
    Ordering ordering_;
};

}  // namespace shmq::model
