// A record's dedup id: the daemon's meaning of RecordHeader::flags
// (record_format.hpp, docs/DISK.md). A record of a message sent with a dedup
// id stores key ++ id in its key bytes (key_len = both) and says so in flags:
//   bit 8      kRecordDedupId: the key bytes end with a dedup id
//   bits 0-7   the id's length, 1..kMaxRecordDedupIdBytes
//   bits 9-15  how often `shmq dlq redrive` re-published the message
//              (SlotExtension::redrives), saturated at 127
// Without bit 8 all other bits are zero. A record without bit 8 is a plain key, as before: old
// segments stay valid. Read back, flags and lengths are untrusted: split_key
// refuses a record whose id length is 0, above the limit, or longer than its
// key bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace shmq::disk {

constexpr uint16_t kRecordDedupId = 0x100;
constexpr uint16_t kRecordDedupIdLenMask = 0xff;
constexpr unsigned kRecordRedrivesShift = 9;
constexpr uint16_t kMaxRecordRedrives = 0x7f;
constexpr std::size_t kMaxRecordDedupIdBytes = 128;  // layout::kMaxDedupIdBytes
static_assert(kMaxRecordDedupIdBytes <= kRecordDedupIdLenMask, "an id's length fits flags' low byte");

// flags for a record whose key bytes end with an id of `id_len` bytes (0: none).
constexpr uint16_t dedup_flags(std::size_t id_len, uint32_t redrives = 0) noexcept {
    if (id_len == 0) return 0;
    const uint32_t r = redrives < kMaxRecordRedrives ? redrives : kMaxRecordRedrives;
    return static_cast<uint16_t>(r << kRecordRedrivesShift | kRecordDedupId | (id_len & kRecordDedupIdLenMask));
}

struct KeyAndId {
    std::span<const std::byte> key;
    std::span<const std::byte> id;  // empty: the record carries none
    uint16_t redrives = 0;
};

// Splits a record's key bytes per its flags; nullopt when they disagree.
std::optional<KeyAndId> split_key(uint16_t flags, std::span<const std::byte> key_bytes) noexcept;

// key ++ id into `out` (which holds at least key.size() + id.size() bytes).
std::span<const std::byte> join_key(std::span<std::byte> out, std::span<const std::byte> key,
                                    std::span<const std::byte> id) noexcept;

}  // namespace shmq::disk
