// futex_waitv(2) (Linux >= 5.16; glibc 2.36 has no wrapper): sleep until
// any of up to 128 futex words differs from its expected value or is woken.
#pragma once

#include <linux/futex.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace shmq::python {

struct FutexWaiter {
    const std::atomic<uint32_t>* word;
    uint32_t expected;
    bool shared;  // a word of a shared mapping (another process wakes it)
};

inline constexpr std::size_t kMaxWaiters = FUTEX_WAITV_MAX;

// Waits until a word changes or is woken, or until CLOCK_MONOTONIC reaches
// deadline_ns. False when the kernel has no futex_waitv (ENOSYS); otherwise
// true, whatever woke it (callers re-check everything).
bool futex_waitv(const std::vector<FutexWaiter>& waiters, uint64_t deadline_ns) noexcept;

// FUTEX_WAIT/FUTEX_WAKE on a word of this process only.
void futex_wait_private(const std::atomic<uint32_t>& word, uint32_t expected, uint64_t deadline_ns) noexcept;
void futex_wake_private(const std::atomic<uint32_t>& word) noexcept;

uint64_t monotonic_ns() noexcept;

}  // namespace shmq::python
