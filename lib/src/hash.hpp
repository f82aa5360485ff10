// Key -> partition: FNV-1a 64 over the key bytes, modulo the partition count.
// Stable across versions, hosts and languages (documented in README/ARCHITECTURE).
#pragma once

#include <cstdint>
#include <string_view>

namespace shmq::detail {

constexpr uint64_t fnv1a64(std::string_view bytes) noexcept {
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}
static_assert(fnv1a64("") == 0xcbf29ce484222325ull);
static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cull);

}  // namespace shmq::detail
