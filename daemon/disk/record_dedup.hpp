// A record's dedup id and attributes: the daemon's meaning of
// RecordHeader::flags (record_format.hpp, docs/DISK.md). A record of a
// message sent with a dedup id stores key ++ id in its key bytes (key_len =
// both) and says so in flags. Segment version 2:
//   bit 15     kRecordAttributes: the payload begins with the message's
//              attribute block (layout.hpp, "Attribute block"): the slot's
//              kSlotAttributes, its payload_len bytes stored as they are
//   bit 8      kRecordDedupId: the key bytes end with a dedup id
//   bits 0-7   the id's length, 1..kMaxRecordDedupIdBytes
//   bits 9-14  how often `shmq dlq redrive` re-published the message
//              (SlotExtension::redrives), saturated at 63
// Without bit 8, bits 0-14 are zero. Version 1 (no attributes): bits 9-15
// held the redrives, saturated at 127; the reader turns a version-1 record's
// flags into version 2's (flags_of_version, redrives clamped to 63) before
// anyone sees them, so old segments stay valid. Read back, flags and
// lengths are untrusted: split_key refuses a record whose id length is 0,
// above the limit, or longer than its key bytes; the attribute block is
// checked by whoever reads the message (shmq/internal/attributes.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace shmq::disk {

constexpr uint16_t kRecordDedupId = 0x100;
constexpr uint16_t kRecordDedupIdLenMask = 0xff;
constexpr unsigned kRecordRedrivesShift = 9;
constexpr uint16_t kMaxRecordRedrives = 0x3f;
constexpr uint16_t kRecordAttributes = 0x8000;
constexpr uint16_t kMaxRecordRedrivesV1 = 0x7f;  // version 1: bits 9-15
static_assert((kMaxRecordRedrives << kRecordRedrivesShift & kRecordAttributes) == 0, "redrives end below the attributes bit");
constexpr std::size_t kMaxRecordDedupIdBytes = 128;  // layout::kMaxDedupIdBytes
static_assert(kMaxRecordDedupIdBytes <= kRecordDedupIdLenMask, "an id's length fits flags' low byte");

// flags for a record whose key bytes end with an id of `id_len` bytes (0: none).
constexpr uint16_t dedup_flags(std::size_t id_len, uint32_t redrives = 0) noexcept {
    if (id_len == 0) return 0;
    const uint32_t r = redrives < kMaxRecordRedrives ? redrives : kMaxRecordRedrives;
    return static_cast<uint16_t>(r << kRecordRedrivesShift | kRecordDedupId | (id_len & kRecordDedupIdLenMask));
}

// flags of a record: its dedup id's (dedup_flags) and, when `attributes`, kRecordAttributes.
constexpr uint16_t record_flags(std::size_t id_len, uint32_t redrives, bool attributes) noexcept {
    return static_cast<uint16_t>(dedup_flags(id_len, redrives) | (attributes ? kRecordAttributes : 0));
}

// A record's flags as read from a segment of `version` (1 or 2), in version
// 2's terms: a version-1 record has no attributes, its redrives clamped.
constexpr uint16_t flags_of_version(uint32_t version, uint16_t flags) noexcept {
    if (version >= 2) return flags;
    if ((flags & kRecordDedupId) == 0) return 0;
    const uint32_t r = (flags >> kRecordRedrivesShift) & kMaxRecordRedrivesV1;
    return dedup_flags(flags & kRecordDedupIdLenMask, r);
}
static_assert(flags_of_version(1, 0xff00 | 5) == (kMaxRecordRedrives << kRecordRedrivesShift | kRecordDedupId | 5));
static_assert(flags_of_version(1, 0x8000) == 0 && flags_of_version(2, 0x8000) == kRecordAttributes);

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
