#include "futex_waitv.hpp"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // x86-64, arm64 and the other generic tables
#endif

namespace shmq::python {

namespace {
timespec to_timespec(uint64_t ns) noexcept {
    return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}
}  // namespace

uint64_t monotonic_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

bool futex_waitv(const std::vector<FutexWaiter>& waiters, uint64_t deadline_ns) noexcept {
    struct futex_waitv v[kMaxWaiters] = {};
    const std::size_t n = waiters.size() < kMaxWaiters ? waiters.size() : kMaxWaiters;
    for (std::size_t i = 0; i < n; ++i) {
        v[i].val = waiters[i].expected;
        v[i].uaddr = reinterpret_cast<uintptr_t>(waiters[i].word);
        v[i].flags = FUTEX_32 | (waiters[i].shared ? 0 : FUTEX_PRIVATE_FLAG);
    }
    const timespec abs = to_timespec(deadline_ns);
    const long rc = ::syscall(SYS_futex_waitv, v, static_cast<unsigned>(n), 0u, &abs, CLOCK_MONOTONIC);
    return !(rc < 0 && errno == ENOSYS);
}

void futex_wait_private(const std::atomic<uint32_t>& word, uint32_t expected, uint64_t deadline_ns) noexcept {
    const uint64_t now = monotonic_ns();
    if (now >= deadline_ns) return;
    const timespec rel = to_timespec(deadline_ns - now);
    ::syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, expected, &rel, nullptr, 0);
}

void futex_wake_private(const std::atomic<uint32_t>& word) noexcept {
    ::syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace shmq::python
