// A group's delivery protocol over one partition: fresh delivery, redelivery,
// ack, nack, extend, expiry and the floor. Every state change is one CAS of a
// LeaseEntry word (ring/lease_word.hpp); cursors (next, floor) are hints that
// anyone may help forward, never the thing that decides ownership.
//
// Memory-ordering argument:
//  (1) deliver: acquire-load slot state == committed(o) (pairs with the
//      producer's commit, so the payload is visible), then CAS the entry
//      acked(t<o) -> leased(o, C, 1), acq_rel. The entry CAS is the single
//      point that decides who delivers o. Deadline/first/last-delivery times
//      are stored (relaxed) BEFORE the CAS so that any reader that acquires
//      the leased word sees them.
//  (2) the slot cannot be released under a delivery: release needs every
//      group's floor > o, and the floor only passes o once entry(o) is
//      acked(o) exactly (advance_floor), which no consumer has done yet.
//  (3) ack: CAS leased(o, C, d) -> acked(o), acq_rel: the consumer's payload
//      reads happen before it; a stale holder's CAS fails -> lease_lost.
//  (4) floor: CAS forward only (seq_cst), after acquire-loading each entry
//      acked(o); reclaim acquire-loads the floor, so releasing the slot
//      happens after every reader's ack.
//  (5) nack/expiry: store the not-before time, then CAS leased -> retry
//      (release); a redeliverer acquires the retry word before reading it.
#pragma once

#include <cstdint>

#include "layout/layout.hpp"
#include "region.hpp"
#include "ring/lease_word.hpp"

namespace shmq::ring {

struct DeliveryContext {
    detail::Region* region;
    uint32_t group;
    uint32_t owner_id;    // participant id of the consumer
    bool at_most_once;
    bool exclusive;       // only this consumer delivers from the partition: no helping needed
    uint64_t lease_ns;    // visibility timeout
};

struct Delivered {
    uint64_t offset;
    uint64_t word;  // the lease word installed: the holder's proof of ownership
    uint32_t deliveries;
};

// Leases the next never-delivered offset of partition p. Skips aborted slots.
bool deliver_fresh(const DeliveryContext& ctx, uint32_t p, uint64_t now_mono, uint64_t now_unix, Delivered& out) noexcept;
// Leases the lowest due RETRY offset of partition p; moves those that used up
// max_deliveries to the DLQ. Scans only when retry_pending says so, or `force`.
bool deliver_retry(const DeliveryContext& ctx, uint32_t p, uint64_t now_mono, uint64_t now_unix, bool force,
                   Delivered& out) noexcept;

enum class SettleResult { ok, lease_lost };
SettleResult ack(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word) noexcept;
// Returns the lease for redelivery after delay_ns (to the DLQ if deliveries
// reached max_deliveries).
SettleResult nack(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, uint64_t delay_ns,
                  uint64_t now_mono, uint32_t mover_id) noexcept;
SettleResult extend(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word,
                    uint64_t new_deadline) noexcept;

// Takes a lease away from its holder (expired, or holder dead): leased ->
// retry(reason) or the DLQ; picked (at-most-once) -> acked. `mover_id` is the
// participant doing it (owner of any DLQ claim it makes). True if it changed.
bool revoke(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t word, layout::DeadLetterReason reason,
            uint64_t now_mono, uint32_t mover_id) noexcept;
// Revokes every leased entry of (g, p) whose deadline has passed. Returns how many.
uint32_t expire_leases(detail::Region& r, uint32_t g, uint32_t p, uint64_t now_mono, uint32_t mover_id) noexcept;

// Moves the floor over every acked offset; wakes producers waiting for room.
void advance_floor(detail::Region& r, uint32_t g, uint32_t p) noexcept;

// [floor, next) of (g, p), clamped to one lap (the values are untrusted).
struct Window {
    uint64_t floor;
    uint64_t next;
};
Window lease_window(const detail::Region& r, uint32_t g, uint32_t p) noexcept;

}  // namespace shmq::ring
