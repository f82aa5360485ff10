// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// on-disk record and segment header. crc32c() picks the SSE4.2 instruction
// when the CPU has it (checked once at run time) and the portable
// slicing-by-8 path otherwise; both give identical results and both are tested.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmq::disk {

// CRC of `n` bytes continuing from a previous result (0 to start):
// crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b).
[[nodiscard]] uint32_t crc32c(const void* data, std::size_t n, uint32_t crc = 0) noexcept;

// The two implementations, exposed so tests can compare them.
[[nodiscard]] uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc = 0) noexcept;
// Only call when crc32c_hw_available(); falls back to portable otherwise.
[[nodiscard]] uint32_t crc32c_hw(const void* data, std::size_t n, uint32_t crc = 0) noexcept;
[[nodiscard]] bool crc32c_hw_available() noexcept;

}  // namespace shmq::disk
