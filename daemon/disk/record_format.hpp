// The on-disk bytes of a segment: the one place they are defined.
// docs/DISK.md mirrors these tables; change both together.
//
// A partition's segments live in DATA/<queue>/p<partition>/, one file per
// segment named `<first_offset as 20 decimal digits>.seg`. A file is one
// SegmentHeader followed by records, each starting on an 8-byte boundary:
//
// SegmentHeader (64 bytes)
//   0  magic[8]        "SHMQSEG1"
//   8  version u32     kSegmentVersion
//   12 partition u32
//   16 queue_epoch u64 the queue incarnation that wrote the file
//   24 first_offset u64  equals the number in the file name
//   32 reserved[28]    zero
//   60 crc u32         CRC32C of bytes [0, 60)
//
// RecordHeader (32 bytes), then key_len key bytes, then length payload bytes,
// then zero padding to the next multiple of 8 (not covered by the CRC):
//   0  magic u32       kRecordMagic
//   4  crc u32         CRC32C of bytes [8, 32 + key_len + length)
//   8  length u32      payload bytes
//   12 key_len u16
//   14 flags u16       opaque to the store; the daemon's meaning (shmqd's,
//                      record_dedup.hpp: a dedup id at the end of the key
//                      bytes; version 2: bit 15, the payload begins with the
//                      message's attribute block, its routing key and headers)
//   16 offset u64      partition offset; strictly increasing within a partition
//   24 publish_unix_ns u64
//
// All integers little-endian. Everything read back is untrusted: lengths are
// checked against the bytes available and kMaxRecordBytes before use
// (record_codec.hpp).
//
// Versioning: bump kSegmentVersion on any change here; a reader accepts
// kMinSegmentVersion..kSegmentVersion and refuses other versions' headers
// (its records still self-validate by magic and CRC). Writers write only
// kSegmentVersion, each segment a new file (never appended to an older one).
//   1  the first format
//   2  RecordHeader::flags bit 15 (kRecordAttributes, record_dedup.hpp): the
//      redrive count lost its top bit (bits 9-14, at most 63). Records are
//      otherwise the same; a version-1 record's flags are read as version
//      2's (flags_of_version) by the scan, so no reader sees the difference.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace shmq::disk {

static_assert(std::endian::native == std::endian::little, "the disk format is little-endian");

constexpr char kSegmentMagic[8] = {'S', 'H', 'M', 'Q', 'S', 'E', 'G', '1'};
constexpr uint32_t kSegmentVersion = 2;
constexpr uint32_t kMinSegmentVersion = 1;  // still read
constexpr uint32_t kRecordMagic = 0x31524d53u;  // "SMR1" little-endian
constexpr std::size_t kRecordAlign = 8;
// Largest key + payload accepted by default (the region's limits: 64 B key
// and a 128 B dedup id in the key bytes, 16 MiB message).
constexpr std::size_t kMaxKeyBytes = 0xFFFF;
constexpr std::size_t kDefaultMaxRecordBytes = (16u << 20) + 64 + 128 + 32;

struct SegmentHeader {
    char magic[8];
    uint32_t version;
    uint32_t partition;
    uint64_t queue_epoch;
    uint64_t first_offset;
    uint8_t reserved[28];
    uint32_t crc;
};
static_assert(sizeof(SegmentHeader) == 64, "the first record starts at byte 64");
static_assert(alignof(SegmentHeader) == 8);
static_assert(offsetof(SegmentHeader, version) == 8);
static_assert(offsetof(SegmentHeader, partition) == 12);
static_assert(offsetof(SegmentHeader, queue_epoch) == 16);
static_assert(offsetof(SegmentHeader, first_offset) == 24);
static_assert(offsetof(SegmentHeader, crc) == 60, "the CRC covers [0, 60)");

struct RecordHeader {
    uint32_t magic;
    uint32_t crc;
    uint32_t length;
    uint16_t key_len;
    uint16_t flags;
    uint64_t offset;
    uint64_t publish_unix_ns;
};
static_assert(sizeof(RecordHeader) == 32, "records are 8-aligned: header size is a multiple of 8");
static_assert(offsetof(RecordHeader, crc) == 4);
static_assert(offsetof(RecordHeader, length) == 8, "the CRC covers from byte 8 on");
static_assert(offsetof(RecordHeader, key_len) == 12);
static_assert(offsetof(RecordHeader, flags) == 14);
static_assert(offsetof(RecordHeader, offset) == 16);
static_assert(offsetof(RecordHeader, publish_unix_ns) == 24);
constexpr std::size_t kRecordCrcFrom = offsetof(RecordHeader, length);

// Bytes a record occupies in the file, padding included.
constexpr uint64_t record_size(uint64_t key_len, uint64_t length) {
    return (sizeof(RecordHeader) + key_len + length + kRecordAlign - 1) & ~uint64_t{kRecordAlign - 1};
}
static_assert(record_size(0, 0) == 32 && record_size(1, 0) == 40 && record_size(3, 5) == 40);

// Segment file name: 20 digits hold any u64.
constexpr std::size_t kSegmentNameDigits = 20;
constexpr std::size_t kSegmentNameLen = kSegmentNameDigits + 4;  // + ".seg"

}  // namespace shmq::disk
