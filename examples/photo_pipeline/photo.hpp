// The pipeline's message and the work done on it.
//
// A message is one text line,
//   "photo=42 bytes=2811020 sum=5be0cd19137e2179 sent=1718000000123456789",
// so `shmq dlq peek` shows it as it is. sum = photo_sum(id, bytes); a corrupt
// photo carries a wrong sum, so every worker rejects it on every delivery.
// sent is the upload's CLOCK_REALTIME just before send(): a fine-grained
// start for end-to-end latency (Message::publish_unix_ns is a coarse clock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace photo_pipeline {

struct Photo {
    uint64_t id = 0;     // 1..photos; also the message key
    uint64_t bytes = 0;  // fake size of the uploaded file, 1..4 MiB
    uint64_t sum = 0;    // checksum of (id, bytes); wrong for a corrupt photo
    uint64_t sent_unix_ns = 0;
};

uint64_t photo_sum(uint64_t id, uint64_t bytes) noexcept;
Photo make_photo(uint64_t id, bool corrupt) noexcept;
std::string encode(const Photo& p);
std::optional<Photo> decode(std::string_view text) noexcept;
inline bool intact(const Photo& p) noexcept { return p.sum == photo_sum(p.id, p.bytes); }

// The ids of the `corrupt` corrupt photos among 1..photos, spread evenly,
// ascending; empty unless corrupt < photos.
std::vector<uint64_t> corrupt_ids(uint64_t photos, uint64_t corrupt);

// Fake processing: fills `scratch` with `work_bytes` pseudo-random bytes seeded
// by the photo id and returns their FNV-1a checksum (~1 ns per byte).
uint64_t fake_work(uint64_t id, std::size_t work_bytes, std::vector<unsigned char>& scratch) noexcept;

}  // namespace photo_pipeline
