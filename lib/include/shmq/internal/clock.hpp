// Clocks. Lease deadlines and heartbeats use CLOCK_MONOTONIC (shared by all
// processes of a boot); the coarse variant (~4 ms resolution, a few ns to
// read) is plenty for deadlines measured in milliseconds to minutes.
// Message timestamps are wall-clock (CLOCK_REALTIME_COARSE) so that they
// mean something to a human and across restarts.
#pragma once

#include <cstdint>
#include <ctime>

namespace shmq::sys {

inline uint64_t read_clock(clockid_t id) noexcept {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
inline uint64_t monotonic_ns() noexcept { return read_clock(CLOCK_MONOTONIC); }
inline uint64_t coarse_monotonic_ns() noexcept { return read_clock(CLOCK_MONOTONIC_COARSE); }
inline uint64_t coarse_unix_ns() noexcept { return read_clock(CLOCK_REALTIME_COARSE); }
// How far the coarse clock may lag the precise one: a tick in theory, more
// on a VM whose timekeeping vCPU is descheduled (6.7 ms seen on a 2-vCPU VM
// with 4 ms ticks). A lease deadline stamped from the coarse clock adds this
// (two ticks, at least 10 ms) so that it does not come early.
inline uint64_t coarse_margin_ns() noexcept {
    static const uint64_t margin = [] {
        timespec ts{};
        ::clock_getres(CLOCK_MONOTONIC_COARSE, &ts);
        const uint64_t tick = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
        return tick * 2 > 10'000'000 ? tick * 2 : uint64_t{10'000'000};
    }();
    return margin;
}
inline uint64_t unix_ns() noexcept { return read_clock(CLOCK_REALTIME); }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace shmq::sys
