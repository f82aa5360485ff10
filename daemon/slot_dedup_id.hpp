// A slot's dedup id (layout.hpp, SlotExtension) as shmqd moves messages
// between the region and disk: the journal and the spill drain read it, the
// spill refill and replays write it back.
#pragma once

#include <cstdint>
#include <span>

#include "shmq/internal/region.hpp"

namespace shmq::daemon {

// The id of a committed slot that carries one (SlotHeader::flags has
// kSlotDedupId and the queue has an extension area), its length bounded by
// kMaxDedupIdBytes; empty otherwise.
std::span<const std::byte> slot_dedup_id(const detail::Region& r, const std::byte* slot_base) noexcept;
// Its redrive count (SlotExtension::redrives), 0 when it carries no id.
uint16_t slot_redrives(const detail::Region& r, const std::byte* slot_base) noexcept;

// Writes `id` into the slot's extension with entry_ref 0 (no table entry
// names a slot shmqd fills) and returns the SlotHeader::flags bit saying so;
// 0 (nothing written) when `id` is empty or the queue has no extension area.
// An id above kMaxDedupIdBytes is a caller's bug: nothing written, 0.
uint16_t put_slot_dedup_id(const detail::Region& r, std::byte* slot_base, std::span<const std::byte> id,
                           uint16_t redrives = 0) noexcept;

}  // namespace shmq::daemon
