// Wall-clock nanoseconds (CLOCK_REALTIME), comparable across processes.
#pragma once

#include <cstdint>
#include <ctime>

namespace photo_pipeline {

inline uint64_t unix_ns() noexcept {
    timespec t{};
    ::clock_gettime(CLOCK_REALTIME, &t);
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(t.tv_nsec);
}

}  // namespace photo_pipeline
