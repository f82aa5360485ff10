#include "record_dedup.hpp"

#include <cstring>

namespace shmq::disk {

std::optional<KeyAndId> split_key(uint16_t flags, std::span<const std::byte> key_bytes) noexcept {
    if ((flags & kRecordDedupId) == 0) return KeyAndId{key_bytes, {}};
    const std::size_t id_len = flags & kRecordDedupIdLenMask;
    if (id_len == 0 || id_len > kMaxRecordDedupIdBytes || id_len > key_bytes.size()) return std::nullopt;
    const std::size_t key_len = key_bytes.size() - id_len;
    return KeyAndId{key_bytes.first(key_len), key_bytes.subspan(key_len),
                    static_cast<uint16_t>(flags >> kRecordRedrivesShift & kMaxRecordRedrives)};
}

std::span<const std::byte> join_key(std::span<std::byte> out, std::span<const std::byte> key,
                                    std::span<const std::byte> id) noexcept {
    if (!key.empty()) std::memcpy(out.data(), key.data(), key.size());
    if (!id.empty()) std::memcpy(out.data() + key.size(), id.data(), id.size());
    return out.first(key.size() + id.size());
}

}  // namespace shmq::disk
