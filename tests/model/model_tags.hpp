// Tags under the model check: where the wrap tests start, and the wrap
// models' weakened twin (docs/RELIABILITY.md, "Model check").
//
// A slot's state and claim words carry offset & (2^48 - 1)
// (shmq/internal/slot_state.hpp), a lease entry's word offset & (2^36 - 1)
// (shmq/internal/lease_word.hpp); the offsets, the tail, head, next and floor
// are full 64-bit numbers. The wrap tests start their cursors just below a
// tag boundary, so that the slots' and entries' laps cross it: the real
// slot_is / slot_tag_distance / lease_is / lease_before / lease_deliverable
// must tell one lap from another there as anywhere.
//
// Built with SHMQ_MODEL_WEAKEN_TAGS (the *_wrap_weakened binaries only),
// every tag comparison compiled after this header compares the tag with
// the whole 64-bit offset, unmasked: the protocol code of
// commit_protocol.hpp and lease_protocol.hpp (included after this header by
// model_ring.hpp and model_lease.hpp) and the harness's mirrors of their
// callers alike, as a library built with such helpers would. The library's
// own headers are untouched: the macros below only rename the calls, and
// slot_state.hpp and lease_word.hpp, included first, keep their real
// definitions (and their static_asserts). Below a tag boundary the unmasked
// comparisons give the same answers as the masked ones; past it they do
// not, and the wrap tests must catch that.
//
// SHMQ_MODEL_WEAKEN_LAPS weakens lease_before (and so lease_deliverable)
// alone. Only a consumer whose `next` is stale goes wrong then: finding its
// entry acked by a peer, for o itself past 2^36 (tag o - 2^36 < o) or for
// o + lap across the wrap (acked(2^36), tag 0, at o = 2^36 - 2), it takes
// that for an earlier lap and delivers o again. The lease model's (f)
// catches it (delivered twice; relacy's history shows the second case), and
// (d) at 2^36 (the first case: the second read of o races its slot's reuse).
#pragma once

#include <cstdint>

#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/slot_state.hpp"

namespace shmq::model {

// The ring model's wrap tests start at offset 2^48 - 2: with two slots,
// every slot's second lap (2^48, 2^48 + 1) has tag 0 or 1 after tag
// 2^48 - 2 or 2^48 - 1.
inline constexpr uint64_t kSlotWrapStart = (uint64_t{1} << ring::kSlotTagBits) - 2;
// The lease model's: 2^36 (the entry goes from acked(2^36 - 2), tag
// 2^36 - 2, to leased(2^36), tag 0) and, for the test that laps, 2^36 - 2.
inline constexpr uint64_t kLeaseWrap = uint64_t{1} << ring::kLeaseTagBits;

}  // namespace shmq::model

#if defined(SHMQ_MODEL_WEAKEN_TAGS) || defined(SHMQ_MODEL_WEAKEN_LAPS)
namespace shmq::ring {

// The weakened comparisons: the tag against the whole offset, no mask.
constexpr bool unmasked_slot_is(uint64_t s, uint64_t offset) { return slot_tag(s) == offset; }
constexpr int64_t unmasked_slot_tag_distance(uint64_t s, uint64_t offset) {
    return static_cast<int64_t>(slot_tag(s) - offset);
}
constexpr bool unmasked_lease_is(uint64_t w, uint64_t offset) { return lease_tag(w) == offset; }
constexpr bool unmasked_lease_before(uint64_t w, uint64_t offset) {
    return static_cast<int64_t>(lease_tag(w) - offset) < 0;
}
constexpr bool unmasked_lease_deliverable(uint64_t w, uint64_t offset) {
    return lease_kind(w) == LeaseKind::acked && unmasked_lease_before(w, offset);
}

// Below the boundary they agree with the real ones...
static_assert(unmasked_slot_is(slot_state(7, SlotKind::committed), 7) &&
              !unmasked_slot_is(slot_state(5, SlotKind::committed), 7));
static_assert(unmasked_slot_tag_distance(slot_state(5, SlotKind::free), 7) ==
              slot_tag_distance(slot_state(5, SlotKind::free), 7));
static_assert(unmasked_lease_deliverable(lease_word(LeaseKind::acked, 5), 7) &&
              !unmasked_lease_deliverable(lease_word(LeaseKind::acked, 9), 7));
// ...past it they do not.
static_assert(!unmasked_slot_is(slot_state(kSlotTagMask + 1, SlotKind::committed), kSlotTagMask + 1));
static_assert(!unmasked_lease_is(lease_word(LeaseKind::acked, kLeaseTagMask + 1), kLeaseTagMask + 1));

}  // namespace shmq::ring

#endif

#if defined(SHMQ_MODEL_WEAKEN_TAGS)
#define slot_is unmasked_slot_is
#define slot_tag_distance unmasked_slot_tag_distance
#define lease_is unmasked_lease_is
#define lease_before unmasked_lease_before
#define lease_deliverable unmasked_lease_deliverable
#elif defined(SHMQ_MODEL_WEAKEN_LAPS)
#define lease_before unmasked_lease_before
#define lease_deliverable unmasked_lease_deliverable
#endif
