// Encoding of a slot's two protocol words (shmq/internal/commit_protocol.hpp): the
// state word (SlotHeader::state) and the claim word (the slot's last 8 bytes).
// Written only with single 64-bit CAS/stores, so a process killed at any
// instant leaves whole values behind.
//
//   bits 63..16  tag    offset & (2^48 - 1): which offset this value is about
//   bits 15..4   owner  participant id (index + 1) of the claiming producer (claim word)
//   bits  3..0   kind   free | claimed | committed | aborted | prepared | expired
//
// Life of the slot for offset o (capacity c):
//   state: free(o) --commit CAS--> committed(o)
//                 \--abort CAS (claimer, or reaper if the claimer is dead)--> aborted(o)
//          committed(o) --expiry CAS, by a mover holding some group's entry of o--> expired(o)
//          committed(o) | aborted(o) | expired(o) --reclaim store, once every group is done--> free(o + c)
//   claim: (an earlier lap) --claim CAS, while state is free(o)--> claimed(o, P)
//          claimed(o, P) --a transaction's output, written (store by P)--> prepared(o, P)
// "free(o)" means: the slot may now be claimed for offset o.
#pragma once

#include <cstdint>

namespace shmq::ring {

// prepared: claim words only: the claimer wrote the payload of a
// transaction's output; the slot commits iff the transaction does (tx_protocol.hpp).
// expired: state words only: a committed message whose TTL passed and which
// was dead-lettered (or dropped) once for every group that had not had it
// (expiry.hpp): groups pass over it as over an aborted slot; its bytes stay
// whole until reclaimed, for the holders of earlier deliveries.
enum class SlotKind : uint8_t { free = 0, claimed = 1, committed = 2, aborted = 3, prepared = 4, expired = 5 };

constexpr unsigned kSlotTagBits = 48;
constexpr uint64_t kSlotTagMask = (uint64_t{1} << kSlotTagBits) - 1;

constexpr uint64_t slot_state(uint64_t offset, SlotKind kind, uint32_t owner = 0) {
    return (offset & kSlotTagMask) << 16 | uint64_t{owner & 0xfff} << 4 | static_cast<uint64_t>(kind);
}
constexpr SlotKind slot_kind(uint64_t s) { return static_cast<SlotKind>(s & 0xf); }
constexpr uint32_t slot_owner(uint64_t s) { return static_cast<uint32_t>((s >> 4) & 0xfff); }
constexpr uint64_t slot_tag(uint64_t s) { return s >> 16; }
constexpr bool slot_is(uint64_t s, uint64_t offset) { return slot_tag(s) == (offset & kSlotTagMask); }
// Signed distance tag(s) - offset in the 48-bit tag space.
constexpr int64_t slot_tag_distance(uint64_t s, uint64_t offset) {
    uint64_t d = (slot_tag(s) - offset) & kSlotTagMask;
    return static_cast<int64_t>(d << 16) >> 16;
}

static_assert(slot_kind(slot_state(5, SlotKind::claimed, 7)) == SlotKind::claimed);
static_assert(slot_owner(slot_state(5, SlotKind::claimed, 7)) == 7);
static_assert(slot_is(slot_state(kSlotTagMask + 6, SlotKind::free), 5));
static_assert(slot_tag_distance(slot_state(3, SlotKind::free), 5) == -2);
static_assert(slot_tag_distance(slot_state(0, SlotKind::free), kSlotTagMask) == 1);

}  // namespace shmq::ring
