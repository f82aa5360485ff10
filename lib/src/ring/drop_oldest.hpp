// on_full=drop_oldest (at-most-once telemetry): a producer that finds its
// partition full releases the oldest published messages whether or not every
// group has finished them, instead of waiting.
//
// Under the partition's reclaim lock (the only writer of head):
//  (1) target = head + n, never past tail nor past an offset whose producer
//      has not finished (an open claim: its commit must land in its own lap,
//      and the next lap's claimer expects it there). n = 0: nothing can go.
//  (2) for every group that holds the partition, each entry in
//      [floor, target) is CASed to acked(o) exactly: never-delivered ones
//      (acked of an earlier lap: no deliverer can lease o after this),
//      retries and leases alike (a holder's later ack or nack fails with
//      lease_lost). Deliverers of a dropping queue always CAS their entry
//      (no exclusive store fast path, see consumer.cpp), so each entry ends
//      acked(o) whoever came first. Passed-over offsets count in the group's
//      `skipped`; then floor and next are pushed to target (CAS forward).
//  (3) dropped += target - head; head = target (release): producers then
//      overwrite those slots. A consumer still reading a message whose lease
//      was revoked may see it change: with drop_oldest, a zero-copy view is
//      valid only if Message::lease_held() is still true after reading it.
//      The DLQ mover re-validates its lease with an RMW after copying and
//      before committing its copy (ring/dead_letter.cpp).
#pragma once

#include <cstdint>

#include "shmq/internal/region.hpp"

namespace shmq::ring {

// Drops up to `n` of the oldest messages of partition p. Returns how many it
// dropped; 0 when another process holds the reclaim lock (it is making room)
// or nothing can be dropped yet (an unfinished claim at head, or head == tail).
uint64_t drop_oldest(detail::Region& r, uint32_t p, uint64_t token, uint64_t n) noexcept;

}  // namespace shmq::ring
