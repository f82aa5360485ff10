// Process-local cache of one partition's addresses and, for a consumer, of
// its group's cursors and lease entries there. Computed once from the
// region's validated parameters, so the hot path does no address arithmetic
// beyond a mask and a multiply.
#pragma once

#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/reclaim.hpp"

namespace shmq::ring {

struct PartitionView {
    uint32_t partition = 0;
    uint64_t mask = 0;
    uint64_t key_offset = 0;  // from a slot's start to its key bytes
    RingRef ring{};
    layout::PartitionControl* control = nullptr;
    layout::GroupPartition* cursors = nullptr;  // consumers only: their group's cursors here
    layout::LeaseEntry* leases = nullptr;       // consumers only: their group's entries here

    std::byte* slot_base(uint64_t offset) const noexcept { return ring.slots + (offset & mask) * ring.slot_size; }
    layout::SlotHeader& slot(uint64_t offset) const noexcept {
        return *reinterpret_cast<layout::SlotHeader*>(slot_base(offset));
    }
    std::byte* payload(uint64_t offset) const noexcept { return slot_base(offset) + layout::kSlotHeaderBytes; }
    std::byte* key(uint64_t offset) const noexcept { return slot_base(offset) + key_offset; }
    layout::LeaseEntry& lease(uint64_t offset) const noexcept { return leases[offset & mask]; }
    struct Leases;
    // The group's cursors and entries here, for shmq/internal/lease_protocol.hpp.
    Leases lease_ref() const noexcept;
};

// shmq/internal/lease_protocol.hpp's view of a PartitionView's group: the cursors,
// and each entry found through the view (view.lease(o)).
struct PartitionView::Leases {
    std::atomic<uint64_t>* next;
    std::atomic<uint64_t>* floor;
    const PartitionView* view;

    layout::LeaseEntry& entry(uint64_t offset) const noexcept { return view->lease(offset); }
};
inline PartitionView::Leases PartitionView::lease_ref() const noexcept {
    return {&cursors->next, &cursors->floor, this};
}

constexpr uint32_t kNoGroupView = UINT32_MAX;

inline PartitionView make_view(const detail::Region& r, uint32_t p, uint32_t g = kNoGroupView) noexcept {
    PartitionView v;
    v.partition = p;
    v.mask = r.mask();
    v.key_offset = layout::kSlotHeaderBytes + r.payload_area();
    v.ring = partition_ring(r, p);
    v.control = &r.partition(p);
    if (g != kNoGroupView) {
        v.cursors = &r.group_partition(g, p);
        v.leases = &r.lease(g, p, 0);
    }
    return v;
}

}  // namespace shmq::ring
