// SHMQ_TEST_SCALE (default 1) shrinks message counts in sanitizer builds,
// which run 5-20x slower; a scaled count never drops below `floor`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace shmq::test {

inline double test_scale() {
    const char* s = std::getenv("SHMQ_TEST_SCALE");
    double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

inline uint64_t scaled(uint64_t n, uint64_t floor = 1000) {
    return std::max<uint64_t>(std::min(n, floor), static_cast<uint64_t>(static_cast<double>(n) * test_scale()));
}

}  // namespace shmq::test
