// Encoding and validation of records and segment headers (record_format.hpp).
// The validators are the only code that interprets bytes read from disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "record_format.hpp"

namespace shmq::disk {

struct RecordView {
    uint64_t offset = 0;
    uint64_t publish_unix_ns = 0;
    uint16_t flags = 0;
    std::span<const std::byte> key;
    std::span<const std::byte> payload;
    uint64_t size = 0;  // bytes in the file, padding included
};

// Writes the record into `out` (which must hold record_size(key, payload)
// bytes), padding zeroed. Returns the bytes written.
std::size_t encode_record(std::span<std::byte> out, uint64_t offset, uint64_t publish_unix_ns, uint16_t flags,
                          std::span<const std::byte> key, std::span<const std::byte> payload) noexcept;

enum class RecordCheck {
    ok,
    truncated,  // a plausible header whose record runs past the available bytes
    bad_magic,
    bad_length,  // key + payload above max_record_bytes
    bad_crc,
};
const char* to_string(RecordCheck c) noexcept;

// Validates the record at the start of `bytes` (at most `bytes.size()` are
// read) and fills `out` (spans into `bytes`) when ok.
[[nodiscard]] RecordCheck check_record(std::span<const std::byte> bytes, std::size_t max_record_bytes,
                                       RecordView& out) noexcept;

SegmentHeader make_segment_header(uint32_t partition, uint64_t queue_epoch, uint64_t first_offset) noexcept;
// nullopt when valid, else what is wrong (one phrase).
[[nodiscard]] std::optional<std::string> check_segment_header(std::span<const std::byte> bytes,
                                                              SegmentHeader& out);

// The version of the segment whose bytes `file` holds from its header on;
// kSegmentVersion when its header does not check out (its records are
// scanned anyway, as the newest format).
uint32_t segment_version(std::span<const std::byte> file) noexcept;

// "00000000000000000042.seg"
std::string segment_file_name(uint64_t first_offset);
// Exactly 20 digits + ".seg", value within u64.
[[nodiscard]] bool parse_segment_file_name(std::string_view name, uint64_t& first_offset) noexcept;

}  // namespace shmq::disk
