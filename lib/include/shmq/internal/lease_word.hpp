// Encoding of LeaseEntry::word: a group's delivery state of one offset.
//
//   bits 63..62  kind        acked | leased | retry | picked (at-most-once)
//   bits 61..58  handoffs    redeliveries caused only by a handoff (0..15)
//   bits 57..48  counted     deliveries that count toward max_deliveries (0..1023)
//   bits 47..36  owner       participant id (index + 1) holding the lease, 0 if none;
//                            in a retry word: the RetryReason that brought it back
//   bits 35..0   tag         offset & (2^36 - 1)
//
// Transitions for offset o (each one CAS on the whole word):
//   acked(t < o)          --deliver--> leased(o, C, 1, 0)          fresh delivery
//   acked(t < o)          --skip-----> acked(o)                    aborted slot passed over
//   leased(o, C, c, h)    --ack------> acked(o)
//   leased(o, C, c, h)    --nack / expiry / owner death--> retry(o, c, h, why)   a failure
//   leased(o, C, c, h)    --handoff--> retry(o, c, h, handoff)     not a failure
//   retry(o, c, h, why)   --redeliver--> leased(o, C', c + 1, h)   after a failure
//   retry(o, c, h, handoff) --redeliver--> leased(o, C', c, h + 1) (h < 15; else as a failure)
//   retry | leased        --dead-letter (copy to the DLQ first)--> acked(o)
//   picked(o, C, 1, 0)    --release / owner death--> acked(o)      (at-most-once)
// The word is the lease's epoch: every redelivery raises c + h, so a new
// lease of o never equals an earlier one and a stale holder's CAS fails
// (lease_lost). `counted` alone drives max_deliveries: a handoff (a partition
// moving to another member, or an exclusive owner restarting from a retry)
// is not the message's fault.
#pragma once

#include <cstdint>

#include "shmq/internal/layout.hpp"

namespace shmq::ring {

enum class LeaseKind : uint8_t { acked = 0, leased = 1, retry = 2, picked = 3 };

// Why a retry entry came back (kept in its owner bits); the DLQ records it.
using RetryReason = layout::DeadLetterReason;

constexpr unsigned kLeaseTagBits = 36;
constexpr uint64_t kLeaseTagMask = (uint64_t{1} << kLeaseTagBits) - 1;
constexpr unsigned kLeaseOwnerBits = 12;
constexpr unsigned kLeaseCountedBits = 10;
constexpr unsigned kLeaseHandoffBits = 4;
constexpr uint32_t kMaxLeaseOwner = (1u << kLeaseOwnerBits) - 1;
constexpr uint32_t kMaxLeaseCounted = (1u << kLeaseCountedBits) - 1;
constexpr uint32_t kMaxLeaseHandoffs = (1u << kLeaseHandoffBits) - 1;
static_assert(2 + kLeaseHandoffBits + kLeaseCountedBits + kLeaseOwnerBits + kLeaseTagBits == 64);
// The limits that these fields store (layout.hpp):
static_assert(layout::kMaxParticipants + 1 <= kMaxLeaseOwner, "participant ids (index + 1) fit the owner bits");
static_assert(layout::kMaxDeliveries <= kMaxLeaseCounted, "max_deliveries fits the counted bits");
static_assert(uint64_t{layout::kMaxCapacity} < (uint64_t{1} << (kLeaseTagBits - 1)),
              "one lap fits half the tag space: lease_before tells an earlier lap from a later one");

constexpr uint64_t lease_word(LeaseKind kind, uint64_t offset, uint32_t owner = 0, uint32_t counted = 0,
                              uint32_t handoffs = 0) {
    return uint64_t{static_cast<uint8_t>(kind)} << 62 | uint64_t{handoffs & kMaxLeaseHandoffs} << 58 |
           uint64_t{counted & kMaxLeaseCounted} << 48 | uint64_t{owner & kMaxLeaseOwner} << 36 |
           (offset & kLeaseTagMask);
}
constexpr LeaseKind lease_kind(uint64_t w) { return static_cast<LeaseKind>(w >> 62); }
constexpr uint32_t lease_handoffs(uint64_t w) { return static_cast<uint32_t>((w >> 58) & kMaxLeaseHandoffs); }
constexpr uint32_t lease_counted(uint64_t w) { return static_cast<uint32_t>((w >> 48) & kMaxLeaseCounted); }
// Every delivery of this offset so far (what Message::deliveries() reports).
constexpr uint32_t lease_deliveries(uint64_t w) { return lease_counted(w) + lease_handoffs(w); }
constexpr uint32_t lease_owner(uint64_t w) { return static_cast<uint32_t>((w >> 36) & kMaxLeaseOwner); }
constexpr RetryReason retry_reason(uint64_t w) { return static_cast<RetryReason>(lease_owner(w)); }
constexpr uint64_t lease_tag(uint64_t w) { return w & kLeaseTagMask; }
constexpr bool lease_is(uint64_t w, uint64_t offset) { return lease_tag(w) == (offset & kLeaseTagMask); }
// True when the entry belongs to an earlier lap than `offset`: free for it.
constexpr bool lease_before(uint64_t w, uint64_t offset) {
    uint64_t d = (lease_tag(w) - offset) & kLeaseTagMask;
    return d != 0 && (d >> (kLeaseTagBits - 1)) != 0;
}
constexpr bool lease_deliverable(uint64_t w, uint64_t offset) {
    return lease_kind(w) == LeaseKind::acked && lease_before(w, offset);
}

// A lease its holder froze for a transaction's commit (tx_protocol.hpp
// (T4)): the leased word with tag bit 35 flipped. It equals no leased word,
// and lease_is() holds for no offset of the ring's laps (kMaxCapacity is far
// below 2^35), so every revoker, which CASes a leased word that lease_is its
// offset, passes it over.
constexpr uint64_t kLeaseFrozen = uint64_t{1} << (kLeaseTagBits - 1);
constexpr uint64_t frozen_word(uint64_t leased) { return leased ^ kLeaseFrozen; }
constexpr bool lease_frozen_is(uint64_t w, uint64_t offset) {
    return lease_kind(w) == LeaseKind::leased && lease_is(w ^ kLeaseFrozen, offset);
}
static_assert(uint64_t{layout::kMaxCapacity} * 2 < kLeaseFrozen, "a frozen tag is no lap's tag");
static_assert(!lease_is(frozen_word(lease_word(LeaseKind::leased, 9, 5, 1)), 9));
static_assert(lease_frozen_is(frozen_word(lease_word(LeaseKind::leased, 9, 5, 1)), 9));
static_assert(lease_owner(frozen_word(lease_word(LeaseKind::leased, 9, 5, 1))) == 5);

// retry(o, c, h, why): what a revocation of leased(o, _, c, h) installs. A
// handoff with no handoff count left is recorded as one, but counts.
constexpr uint64_t retry_word(uint64_t offset, uint64_t leased, RetryReason why) {
    return lease_word(LeaseKind::retry, offset, static_cast<uint32_t>(why), lease_counted(leased),
                      lease_handoffs(leased));
}
// Whether the next delivery of this retry counts toward max_deliveries.
constexpr bool retry_counts(uint64_t retry) {
    return retry_reason(retry) != RetryReason::handoff || lease_handoffs(retry) == kMaxLeaseHandoffs;
}
// A retry that goes to the DLQ instead of being delivered again.
constexpr bool retry_exhausted(uint64_t retry, uint32_t max_deliveries) {
    return retry_counts(retry) && lease_counted(retry) >= max_deliveries;
}
// The lease a redelivery of `retry` installs.
constexpr uint64_t redelivery_word(uint64_t retry, uint64_t offset, LeaseKind kind, uint32_t owner) {
    return retry_counts(retry) ? lease_word(kind, offset, owner, lease_counted(retry) + 1, lease_handoffs(retry))
                               : lease_word(kind, offset, owner, lease_counted(retry), lease_handoffs(retry) + 1);
}

static_assert(lease_kind(lease_word(LeaseKind::picked, 9, 4095, 3)) == LeaseKind::picked);
static_assert(lease_owner(lease_word(LeaseKind::leased, 9, 4095, 3)) == 4095);
static_assert(lease_deliveries(lease_word(LeaseKind::leased, 9, 4095, 3, 2)) == 5);
static_assert(lease_counted(lease_word(LeaseKind::leased, 9, 4095, kMaxLeaseCounted, kMaxLeaseHandoffs)) ==
              kMaxLeaseCounted);
static_assert(lease_is(lease_word(LeaseKind::acked, kLeaseTagMask + 10), 9));
static_assert(lease_before(lease_word(LeaseKind::acked, 0 - 1024ull), 0));
static_assert(!lease_before(lease_word(LeaseKind::acked, 1024), 0));
static_assert(!lease_before(lease_word(LeaseKind::acked, 7), 7));
// The epoch rises on every redelivery, whatever brought the message back.
static_assert(redelivery_word(retry_word(9, lease_word(LeaseKind::leased, 9, 5, 1), RetryReason::handoff), 9,
                              LeaseKind::leased, 5) == lease_word(LeaseKind::leased, 9, 5, 1, 1));
static_assert(redelivery_word(retry_word(9, lease_word(LeaseKind::leased, 9, 5, 1, kMaxLeaseHandoffs),
                                         RetryReason::handoff),
                              9, LeaseKind::leased, 5) == lease_word(LeaseKind::leased, 9, 5, 2, kMaxLeaseHandoffs));
static_assert(!retry_exhausted(retry_word(9, lease_word(LeaseKind::leased, 9, 5, 3), RetryReason::handoff), 3));
static_assert(retry_exhausted(retry_word(9, lease_word(LeaseKind::leased, 9, 5, 3), RetryReason::nacked), 3));

}  // namespace shmq::ring
