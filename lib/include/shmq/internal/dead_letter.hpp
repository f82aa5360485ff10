// Moving a poison message from a partition to the queue's DLQ ring.
//
// The mover first turns the retry entry into a lease of its own (same
// delivery count: moving is not a delivery), so two movers never both copy;
// then claims a DLQ slot, copies payload, key and metadata, commits it, and
// only then acks the entry. A mover killed half-way leaves a lease that the
// reaper or expiry returns to retry, and the move is redone: the DLQ may then
// hold a duplicate, never a loss. If the DLQ is full the entry goes back to
// retry, counted as blocked, and stays in the partition (holding its floor).
#pragma once

#include <cstdint>

#include "shmq/internal/region.hpp"

namespace shmq::ring {

enum class DeadLetterResult { moved, dlq_full, lost };

// The copy step: payload (with its attribute block), key, dedup id and
// metadata of (p, offset) into the claimed DLQ slot `pos`, not committed.
// The caller holds group g's entry of offset (not acked), so the slot is stable.
void copy_to_dlq(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t pos,
                 layout::DeadLetterReason reason, uint32_t deliveries) noexcept;

DeadLetterResult dead_letter(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t retry_word,
                             uint64_t now_mono, uint32_t mover_id) noexcept;

}  // namespace shmq::ring
