#include "record_codec.hpp"

#include <cstring>

#include "crc32c.hpp"

namespace shmq::disk {

std::size_t encode_record(std::span<std::byte> out, uint64_t offset, uint64_t publish_unix_ns, uint16_t flags,
                          std::span<const std::byte> key, std::span<const std::byte> payload) noexcept {
    RecordHeader h{};
    h.magic = kRecordMagic;
    h.length = static_cast<uint32_t>(payload.size());
    h.key_len = static_cast<uint16_t>(key.size());
    h.flags = flags;
    h.offset = offset;
    h.publish_unix_ns = publish_unix_ns;
    std::byte* p = out.data();
    std::memcpy(p, &h, sizeof h);
    if (!key.empty()) std::memcpy(p + sizeof h, key.data(), key.size());
    if (!payload.empty()) std::memcpy(p + sizeof h + key.size(), payload.data(), payload.size());
    const std::size_t used = sizeof h + key.size() + payload.size();
    const auto total = static_cast<std::size_t>(record_size(key.size(), payload.size()));
    std::memset(p + used, 0, total - used);
    const uint32_t crc = crc32c(p + kRecordCrcFrom, used - kRecordCrcFrom);
    std::memcpy(p + offsetof(RecordHeader, crc), &crc, sizeof crc);
    return total;
}

const char* to_string(RecordCheck c) noexcept {
    switch (c) {
    case RecordCheck::ok: return "ok";
    case RecordCheck::truncated: return "truncated record";
    case RecordCheck::bad_magic: return "bad record magic";
    case RecordCheck::bad_length: return "record length above the limit";
    case RecordCheck::bad_crc: return "record CRC mismatch";
    }
    return "?";
}

RecordCheck check_record(std::span<const std::byte> bytes, std::size_t max_record_bytes, RecordView& out) noexcept {
    if (bytes.size() < sizeof(uint32_t)) return RecordCheck::truncated;
    uint32_t magic;
    std::memcpy(&magic, bytes.data(), sizeof magic);
    if (magic != kRecordMagic) return RecordCheck::bad_magic;
    if (bytes.size() < sizeof(RecordHeader)) return RecordCheck::truncated;
    RecordHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    // 64-bit sum: no overflow from two fields of at most 32 bits.
    const uint64_t body = uint64_t{h.key_len} + h.length;
    if (body > max_record_bytes) return RecordCheck::bad_length;
    const uint64_t used = sizeof h + body;
    // A record is whole only with its padding: the writer always writes it.
    if (record_size(h.key_len, h.length) > bytes.size()) return RecordCheck::truncated;
    const uint32_t crc = crc32c(bytes.data() + kRecordCrcFrom, static_cast<std::size_t>(used - kRecordCrcFrom));
    if (crc != h.crc) return RecordCheck::bad_crc;
    out.offset = h.offset;
    out.publish_unix_ns = h.publish_unix_ns;
    out.flags = h.flags;
    out.key = bytes.subspan(sizeof h, h.key_len);
    out.payload = bytes.subspan(sizeof h + h.key_len, h.length);
    out.size = record_size(h.key_len, h.length);
    return RecordCheck::ok;
}

SegmentHeader make_segment_header(uint32_t partition, uint64_t queue_epoch, uint64_t first_offset) noexcept {
    SegmentHeader h{};
    std::memcpy(h.magic, kSegmentMagic, sizeof h.magic);
    h.version = kSegmentVersion;
    h.partition = partition;
    h.queue_epoch = queue_epoch;
    h.first_offset = first_offset;
    h.crc = crc32c(&h, offsetof(SegmentHeader, crc));
    return h;
}

std::optional<std::string> check_segment_header(std::span<const std::byte> bytes, SegmentHeader& out) {
    if (bytes.size() < sizeof(SegmentHeader)) return "segment header cut short";
    std::memcpy(&out, bytes.data(), sizeof out);
    if (std::memcmp(out.magic, kSegmentMagic, sizeof out.magic) != 0) return "not a shmq segment (bad magic)";
    if (out.crc != crc32c(bytes.data(), offsetof(SegmentHeader, crc))) return "segment header CRC mismatch";
    if (out.version < kMinSegmentVersion || out.version > kSegmentVersion)
        return "segment version " + std::to_string(out.version) + ", expected " + std::to_string(kMinSegmentVersion) +
               ".." + std::to_string(kSegmentVersion);
    return std::nullopt;
}

uint32_t segment_version(std::span<const std::byte> file) noexcept {
    SegmentHeader h{};
    try {
        if (!check_segment_header(file, h)) return h.version;
    } catch (...) {  // the error text's allocation: fall through
    }
    return kSegmentVersion;
}

std::string segment_file_name(uint64_t first_offset) {
    std::string s(kSegmentNameLen, '0');
    for (std::size_t i = kSegmentNameDigits; i-- > 0; first_offset /= 10)
        s[i] = static_cast<char>('0' + first_offset % 10);
    s.replace(kSegmentNameDigits, 4, ".seg");
    return s;
}

bool parse_segment_file_name(std::string_view name, uint64_t& first_offset) noexcept {
    if (name.size() != kSegmentNameLen || name.substr(kSegmentNameDigits) != ".seg") return false;
    uint64_t v = 0;
    for (std::size_t i = 0; i < kSegmentNameDigits; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    first_offset = v;
    return true;
}

}  // namespace shmq::disk
