#include "slot_dedup_id.hpp"

#include <algorithm>
#include <cstring>

#include "record_dedup.hpp"

namespace shmq::daemon {

static_assert(disk::kMaxRecordDedupIdBytes == layout::kMaxDedupIdBytes, "a slot's id fits a record's flags");

std::span<const std::byte> slot_dedup_id(const detail::Region& r, const std::byte* slot_base) noexcept {
    const auto& h = *reinterpret_cast<const layout::SlotHeader*>(slot_base);
    if ((h.flags & layout::kSlotDedupId) == 0) return {};
    const layout::SlotExtension* ext = r.slot_extension(const_cast<std::byte*>(slot_base));
    if (ext == nullptr) return {};
    const std::size_t len = std::min<std::size_t>(ext->id_len, layout::kMaxDedupIdBytes);  // untrusted
    return {reinterpret_cast<const std::byte*>(ext->id), len};
}

uint16_t slot_redrives(const detail::Region& r, const std::byte* slot_base) noexcept {
    if (slot_dedup_id(r, slot_base).empty()) return 0;
    return r.slot_extension(const_cast<std::byte*>(slot_base))->redrives;
}

uint16_t put_slot_dedup_id(const detail::Region& r, std::byte* slot_base, std::span<const std::byte> id,
                           uint16_t redrives) noexcept {
    layout::SlotExtension* ext = r.slot_extension(slot_base);
    if (id.empty() || ext == nullptr || id.size() > layout::kMaxDedupIdBytes) return 0;
    ext->entry_ref = 0;
    ext->id_len = static_cast<uint16_t>(id.size());
    ext->redrives = redrives;
    std::memcpy(ext->id, id.data(), id.size());
    return layout::kSlotDedupId;
}

}  // namespace shmq::daemon
