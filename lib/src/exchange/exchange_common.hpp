// What the exchange files share: failing with a sentence, how those
// sentences name an exchange and say what to do about a damaged one, and
// the memory orders' short names.
#pragma once

#include <atomic>
#include <cstring>
#include <string>
#include <string_view>

#include "shmq/internal/exchange_table.hpp"

namespace shmq::detail::exchange {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr auto kAcquire = std::memory_order_acquire;
constexpr auto kRelease = std::memory_order_release;

[[noreturn]] inline void fail(Errc code, const std::string& what) { throw Error(code, what); }

inline std::string errno_text(int e) { return std::strerror(e); }

// Bytes of a checked length from shared memory, as a string.
inline std::string text_of(const char* bytes, std::size_t len) { return std::string(bytes, len); }

// "exchange 'x' (/dev/shm/shmq-x.x)"
inline std::string where(std::string_view name) {
    return "exchange '" + std::string(name) + "' (" + exchange_object_path(name) + ")";
}

// What to do about a damaged exchange.
inline std::string fix(std::string_view name) {
    return "; delete it with `shmq exchange delete " + std::string(name) + "` and create it again";
}

}  // namespace shmq::detail::exchange
