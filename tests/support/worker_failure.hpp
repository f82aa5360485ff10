// What the test's worker programs (support/worker.cpp, chaos/chaos_worker.cpp)
// share: a failure is one line on stderr and exit status 2; flag values are
// parsed strictly.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace shmq::test::worker {

constexpr int kExitError = 2;

// Thrown by fail(); main() prints its message as the one line.
struct Failure {
    std::string message;
};

[[noreturn]] inline void fail(std::string message) { throw Failure{std::move(message)}; }

inline uint64_t parse_u64(std::string_view flag, std::string_view text) {
    uint64_t v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || ptr != end)
        fail(std::string(flag) + " expects a non-negative integer, got '" + std::string(text) + "'");
    return v;
}

}  // namespace shmq::test::worker
