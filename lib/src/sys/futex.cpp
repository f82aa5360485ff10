#include "shmq/internal/futex.hpp"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmq::sys {

void futex_wait(const std::atomic<uint32_t>& word, uint32_t expected, int64_t timeout_ns) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
        tsp = &ts;
    }
    ::syscall(SYS_futex, const_cast<std::atomic<uint32_t>*>(&word), FUTEX_WAIT, expected, tsp, nullptr, 0);
}

void futex_wake_all(const std::atomic<uint32_t>& word) noexcept {
    ::syscall(SYS_futex, const_cast<std::atomic<uint32_t>*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace shmq::sys
