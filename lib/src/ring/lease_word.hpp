// Encoding of LeaseEntry::word: a group's delivery state of one offset.
//
//   bits 63..62  kind        acked | leased | retry | picked (at-most-once)
//   bits 61..48  deliveries  how many times this offset was handed out (1..16383)
//   bits 47..36  owner       participant id (index + 1) holding the lease, 0 if none
//   bits 35..0   tag         offset & (2^36 - 1)
//
// Transitions for offset o (each one CAS on the whole word):
//   acked(t < o)       --deliver--> leased(o, C, 1)          fresh delivery
//   acked(t < o)       --skip-----> acked(o)                 aborted slot passed over
//   leased(o, C, d)    --ack------> acked(o)
//   leased(o, C, d)    --nack / expiry / owner death--> retry(o, d)
//   retry(o, d)        --redeliver--> leased(o, C', d + 1)
//   retry | leased     --dead-letter (copy to the DLQ first)--> acked(o)
//   picked(o, C, 1)    --release / owner death--> acked(o)   (at-most-once)
// The word is the lease's epoch: a new lease of o always has a larger
// `deliveries`, so a stale holder's CAS fails and it reports lease_lost.
#pragma once

#include <cstdint>

namespace shmq::ring {

enum class LeaseKind : uint8_t { acked = 0, leased = 1, retry = 2, picked = 3 };

constexpr unsigned kLeaseTagBits = 36;
constexpr uint64_t kLeaseTagMask = (uint64_t{1} << kLeaseTagBits) - 1;
constexpr uint32_t kMaxLeaseDeliveries = (1u << 14) - 1;

constexpr uint64_t lease_word(LeaseKind kind, uint64_t offset, uint32_t owner = 0, uint32_t deliveries = 0) {
    return uint64_t{static_cast<uint8_t>(kind)} << 62 | uint64_t{deliveries & kMaxLeaseDeliveries} << 48 |
           uint64_t{owner & 0xfff} << 36 | (offset & kLeaseTagMask);
}
constexpr LeaseKind lease_kind(uint64_t w) { return static_cast<LeaseKind>(w >> 62); }
constexpr uint32_t lease_deliveries(uint64_t w) { return static_cast<uint32_t>((w >> 48) & kMaxLeaseDeliveries); }
constexpr uint32_t lease_owner(uint64_t w) { return static_cast<uint32_t>((w >> 36) & 0xfff); }
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

static_assert(lease_kind(lease_word(LeaseKind::picked, 9, 4095, 3)) == LeaseKind::picked);
static_assert(lease_owner(lease_word(LeaseKind::leased, 9, 4095, 3)) == 4095);
static_assert(lease_deliveries(lease_word(LeaseKind::leased, 9, 4095, 3)) == 3);
static_assert(lease_is(lease_word(LeaseKind::acked, kLeaseTagMask + 10), 9));
static_assert(lease_before(lease_word(LeaseKind::acked, 0 - 1024ull), 0));
static_assert(!lease_before(lease_word(LeaseKind::acked, 1024), 0));
static_assert(!lease_before(lease_word(LeaseKind::acked, 7), 7));

}  // namespace shmq::ring
