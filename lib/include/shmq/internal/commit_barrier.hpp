// Ordering a commit that is a plain release store (commit_protocol.hpp (5))
// before the committer's loads of the waiters words that follow it
// (RegionHeader::consumer_waiters / consumer_wanted, daemon_wanted): the
// store-buffering pattern, where the committer's store and a sleeper's
// announcement must not both miss the other.
//
// The sleeper pays (an asymmetric barrier, as in the Linux kernel's RCU and
// folly's asymmetricHeavyBarrier):
//   committer: S: publish (release store); compiler barrier; L: load waiters.
//   sleeper:   W: announce (waiters++ / wanted / ask, seq_cst);
//              membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED); R: re-check.
// The membarrier returns only after every CPU running a thread of a
// registered process has executed a full barrier, and is one itself for the
// caller. That barrier falls somewhere in the committer's program: after S
// (S is then visible to R) or before L (L then sees W). The compiler barrier
// keeps L after S in the instruction stream, so "between" is never a case.
// GLOBAL_EXPEDITED reaches only processes registered for it
// (PRIVATE_EXPEDITED would reach the caller's own process only), so every
// participant registers when it attaches.
//
// Fallback: a participant that cannot register (an old kernel, a seccomp
// filter), or a sleeper whose membarrier fails, sets
// RegionHeader::commit_fence, and from then on every committer runs a
// seq_cst fence between S and L: the fence-fence form of the same argument.
// A committer that loaded the flag just before it was set may miss one
// sleeper once; that sleeper's wait is bounded by its sleep slice (every
// sleeper here waits with a timeout), so a message is late, never lost.
// Modelled by tests/model/commit_barrier_model.cpp.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace shmq::sys {
// Registers this process for MEMBARRIER_CMD_GLOBAL_EXPEDITED. Idempotent.
bool membarrier_register() noexcept;
// A full barrier on every CPU running a registered process, and the caller.
bool membarrier_global() noexcept;
}  // namespace shmq::sys

namespace shmq::detail {

// The instructions the two barriers are made of. A template parameter only
// so that tests/model/commit_barrier_model.cpp can run the two functions
// below on relacy's fences and a modelled membarrier; the library always
// uses this one (the same instructions as the functions had before).
struct HardwareBarriers {
#if defined(__SANITIZE_THREAD__)
    // TSan does not take fences: a seq_cst RMW of a word of our own is the
    // same full barrier on x86 (a locked instruction), and TSan takes it.
    static void fence() noexcept {
        static std::atomic<uint32_t> word{0};
        word.fetch_add(0, std::memory_order_seq_cst);
    }
#else
    static void fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
#endif
    static void compiler_barrier() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
    static bool membarrier() noexcept { return sys::membarrier_global(); }
    // fast_ack.hpp's fallback: long enough for every CPU's store buffer to drain.
    static void drain() noexcept {
        timespec ts{0, 1'000'000};
        ::nanosleep(&ts, nullptr);
    }
};

// Committer: between its release-store commit and its waiters loads.
// `Flag`: std::atomic<uint32_t> (RegionHeader::commit_fence), or a model's word.
template <class Flag, class Barriers = HardwareBarriers>
inline void commit_barrier(const Flag& commit_fence, Barriers barriers = {}) noexcept {
    if (commit_fence.load(std::memory_order_relaxed) != 0)
        barriers.fence();
    else
        barriers.compiler_barrier();  // the sleeper's membarrier orders it
}

// Sleeper: between its announcement and its re-check.
template <class Flag, class Barriers = HardwareBarriers>
inline void sleeper_barrier(Flag& commit_fence, Barriers barriers = {}) noexcept {
    if (commit_fence.load(std::memory_order_relaxed) == 0) {
        if (barriers.membarrier()) return;
        commit_fence.store(1, std::memory_order_seq_cst);  // committers fence from now on
    }
    barriers.fence();
}

// An attacher: registers, or makes every committer fence.
inline void register_committer(std::atomic<uint32_t>& commit_fence) noexcept {
    if (!sys::membarrier_register()) commit_fence.store(1, std::memory_order_seq_cst);
}

}  // namespace shmq::detail
