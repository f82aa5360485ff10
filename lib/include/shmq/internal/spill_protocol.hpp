// The staging ring of an on_full=spill partition: how producers hand
// overflow to shmqd, which writes it to disk and refills the ring from it in
// spill-sequence order (daemon/spill/).
//
// Words (layout.hpp, PartitionControl lines 4-5): spill_lock (owner token),
// spill_tail = [active:1 | next sequence s:63], spill_head, spill_refilled.
// Staging slots use the partition slot layout and the slot protocol of
// shmq/internal/commit_protocol.hpp, with spill sequence numbers as offsets.
//
// Protocol and memory-ordering argument:
//  (1) claim (producer, under spill_lock, acquired with acquire): reads
//      spill_tail; room is s < spill_head (acquire) + spill_capacity, so
//      shmqd has finished lap s - capacity of the slot. Stores the claim word
//      claimed(s, P), then spill_tail = active | s + 1 (release), unlocks
//      (release). A holder that dies inside leaves claimed(s, P) with tail
//      at s or s + 1; the reaper aborts the slot (a next holder that still
//      finds the slot open at tail s overwrites the claim word and reuses s;
//      one that finds it aborted moves the tail past it).
//  (2) fill and commit (producer, no lock): header, payload and key, then the
//      seq_cst state CAS lap s - capacity -> committed(s) (release publishes
//      the bytes to shmqd, which acquire-loads the state).
//  (3) drain (shmqd): sequences in order from spill_head; committed ->
//      written to disk or moved into the ring, aborted -> skipped, open ->
//      wait: the reaper aborts a dead claimer's claimed(s, P); a prepared(s, P)
//      (a transaction's output or an all-or-nothing publish's,
//      tx_protocol.hpp) waits for its transaction's decision, carried out by
//      its owner or a resolver exactly as in a partition ring (the resolvers
//      scan staging rings too). spill_head (release) advances
//      only past sequences that are durable on disk or in the ring, so a
//      killed shmqd loses nothing: the next one drains from spill_head again.
//  (4) deactivate (shmqd, under spill_lock): only when spill_refilled ==
//      seq(spill_tail); stores tail without the active bit. Every message
//      any producer put into staging is then in the ring, committed before
//      the release of the lock: a producer that sees inactive (acquire) and
//      claims in the ring gets an offset above all of them. While active,
//      only shmqd publishes into the ring (producers that read "inactive"
//      just before activation race as any concurrent sends do).
#pragma once

#include <atomic>
#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"

namespace shmq::ring {

enum class SpillClaim {
    claimed,
    full,      // staging has no room: shmqd has not drained it (yet)
    busy,      // spill_lock is held by another process: retry
    corrupt,
};

// (1) Claims the next spill sequence of partition p for participant
// `owner_id` holding `token`, and starts spilling if it was not.
SpillClaim try_claim_spill(const detail::Region& r, uint32_t p, uint32_t owner_id, uint64_t token,
                           uint64_t& seq_out) noexcept;

// (4) shmqd: clears the active bit if everything staged has been refilled.
// True when the partition is (now) not spilling.
bool try_deactivate_spill(const detail::Region& r, uint32_t p, uint64_t token) noexcept;

inline bool spill_is_active(const layout::PartitionControl& pc) noexcept {
    return layout::spill_active(pc.spill_tail.load(std::memory_order_acquire));
}

// Marks a ring slot refilled from spill sequence `seq` (SlotHeader::flags
// kSlotRefilled, SlotHeader::reserved = seq): a restarted shmqd reads the
// marks of committed slots to know what it refilled before it died.
constexpr uint16_t kSlotFlagRefilled = layout::kSlotRefilled;
static_assert((kSlotFlagRefilled & layout::kSlotDedupId) == 0, "a refilled slot's mark is not its dedup id's");

}  // namespace shmq::ring
