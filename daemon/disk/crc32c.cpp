#include "crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace shmq::disk {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // Castagnoli, bit-reversed

// table[k][b]: CRC of byte b followed by k zero bytes (slicing-by-8).
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
        t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
        for (std::size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    return t;
}

constexpr auto kTables = make_tables();

}  // namespace

uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);  // little-endian host (static_assert in record_format.hpp)
        w ^= c;
        c = kTables[7][w & 0xFF] ^ kTables[6][(w >> 8) & 0xFF] ^ kTables[5][(w >> 16) & 0xFF] ^
            kTables[4][(w >> 24) & 0xFF] ^ kTables[3][(w >> 32) & 0xFF] ^ kTables[2][(w >> 40) & 0xFF] ^
            kTables[1][(w >> 48) & 0xFF] ^ kTables[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const unsigned char* p, std::size_t n,
                                                                uint32_t crc) noexcept {
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<uint32_t>(c);
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

bool crc32c_hw_available() noexcept {
    static const bool has = __builtin_cpu_supports("sse4.2");
    return has;
}

uint32_t crc32c_hw(const void* data, std::size_t n, uint32_t crc) noexcept {
    if (!crc32c_hw_available()) return crc32c_portable(data, n, crc);
    return crc32c_sse42(static_cast<const unsigned char*>(data), n, crc);
}
#else
bool crc32c_hw_available() noexcept { return false; }
uint32_t crc32c_hw(const void* data, std::size_t n, uint32_t crc) noexcept {
    return crc32c_portable(data, n, crc);
}
#endif

uint32_t crc32c(const void* data, std::size_t n, uint32_t crc) noexcept {
    return crc32c_hw_available() ? crc32c_hw(data, n, crc) : crc32c_portable(data, n, crc);
}

}  // namespace shmq::disk
