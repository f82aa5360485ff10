// The crash-safe claim/commit protocol of a ring of slots (partitions and the
// DLQ use the same one). Every transition is one CAS or store of the slot's
// 64-bit state word (ring/slot_state.hpp), so a process killed at any instant
// leaves a whole state behind, and the word says who claimed the slot.
//
// Memory-ordering argument:
//  (1) claim: CAS free(o) -> claimed(o, P), acq_rel. The acquire pairs with the
//      release store of free(o) by the reclaimer, which itself follows (through
//      the acquire loads of every group's floor) every consumer's last read of
//      the previous message in this slot: our payload writes cannot race them.
//  (2) commit: CAS claimed(o, P) -> committed(o), seq_cst. Release publishes the
//      payload and header fields to consumers, who acquire-load the state. It
//      is a CAS, not a store, so that a reaper that aborted our claim (only
//      when P is dead or judged so) makes the commit fail instead of being
//      overwritten; seq_cst orders it before the consumer_waiters load of the
//      doorbell (sys/futex.hpp).
//  (3) abort: CAS claimed(o, P) -> aborted(o), seq_cst (like commit, it may
//      wake sleeping consumers). Consumers skip aborted(o).
//  (4) release: store free(o + capacity), release, by the reclaim lock holder
//      only, once every group's floor is past o (ring/reclaim.cpp).
//  The tail word is a hint: claimers read it, then help it forward with a
//  CAS whenever they see the slot at tail already claimed. Ownership of an
//  offset is decided by the slot CAS alone, so a producer that dies between
//  its slot CAS and its tail CAS stalls nobody.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ring/slot_state.hpp"

namespace shmq::ring {

// A view of one ring: its tail hint and its slots (state word at offset 0).
struct RingRef {
    std::atomic<uint64_t>* tail;
    std::byte* slots;
    uint64_t slot_size;
    uint64_t capacity;  // power of two

    std::atomic<uint64_t>& state(uint64_t offset) const noexcept {
        return *reinterpret_cast<std::atomic<uint64_t>*>(slots + (offset & (capacity - 1)) * slot_size);
    }
};

enum class ClaimResult { claimed, full, corrupt };

// Moves a hint cursor from `from` to from + 1 unless someone already did.
// Takes `from` by value: a failed CAS writes the current value into its
// expected argument, which must never clobber the caller's offset.
inline void help_forward(std::atomic<uint64_t>& cursor, uint64_t from) noexcept {
    cursor.compare_exchange_strong(from, from + 1, std::memory_order_release, std::memory_order_relaxed);
}

// Claims the next offset for participant `owner` (id 1..4095).
ClaimResult try_claim(const RingRef& ring, uint32_t owner, uint64_t& offset_out) noexcept;
// false: the claim had been aborted; nothing was published.
bool commit(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;
void abort_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;
// Reaper: aborts slot `offset` if it is still claimed by dead participant `owner`.
bool abort_dead_claim(const RingRef& ring, uint64_t offset, uint32_t owner) noexcept;
// Reclaim lock holder: makes slot `offset` free for offset + capacity if it is
// committed(offset) or aborted(offset); a no-op when already released.
void release_slot(const RingRef& ring, uint64_t offset) noexcept;

}  // namespace shmq::ring
