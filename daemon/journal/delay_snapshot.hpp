// DATA/journal/<queue>/delayed: shmqd's snapshot of a journaled queue's
// delay store (shmq/internal/delay_store.hpp), from which a queue restored
// from its journal gets its delayed messages back (docs/DISK.md).
//
//   0  magic "SHMQDLY1"   8 queue epoch   16 count
//  24  records: due_unix_ns u64, sent_unix_ns u64, flags u16, reserved u16,
//      partition u32 (explicit + 1; 0: none), payload_len u32, key_len u16,
//      id_len u16, then payload, key and id bytes
//  end crc32c u32 of everything before it
//
// Little-endian. Replaced whole and atomically (disk::replace_file).
// Untrusted when read: every length is checked against the bytes left and
// the queue's limits, and the checksum against the contents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shmq/internal/region.hpp"

namespace shmq::daemon {

inline constexpr const char* kDelayedFile = "delayed";

std::string encode_delayed(uint64_t epoch, const std::vector<detail::RestoredDelayed>& messages);
// false and `error` when the bytes are not a snapshot of this epoch within
// these limits; `out` then holds nothing.
bool decode_delayed(std::string_view bytes, uint64_t epoch, uint32_t max_message, uint32_t partitions,
                    std::vector<detail::RestoredDelayed>& out, std::string& error);

}  // namespace shmq::daemon
