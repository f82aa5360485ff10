// Message TTL: when a message expires, and the protocol that dead-letters (or
// drops) an expired message once for all the groups that had not had it.
//
// A message's expiry is publish_unix_ns + the lower of the queue's
// message_ttl_ms and the message's own TTL (its attribute block,
// layout.hpp). An expired message is never delivered: every delivery path
// (fresh, a run, a redelivery, a keyed unpark) checks it first, and one that
// finds it due expires it instead. In flight is not touched: a lease taken
// before the TTL passed stays its holder's to ACK or NACK; only a NACK or an
// expiry of that lease brings it back, and then it expires.
//
// Expiry of offset o, by a mover M on behalf of group g (expire_entry):
//  (E1) M takes g's entry of o: CAS from the word it loaded (never delivered,
//       or a retry not parked) to a move-lease of its own, acq_rel, as
//       dead_letter.hpp does. While M holds it, g's floor stays at or below o,
//       so the slot is not reclaimed: what M reads of it is stable. M read
//       the expiry after its load of the word and before this CAS; the CAS
//       succeeding means the word (so the floor) did not move in between.
//  (E2) M marks the slot: CAS committed(o) -> expired(o, M), acq_rel. From
//       here every group passes over o as over an aborted slot, and no other
//       mover copies it: one DLQ entry per message, whichever groups missed
//       it. A mover finding expired(o, X != 0) leaves (X is moving it, or
//       dead: its reaper puts committed(o) back, and the move is redone;
//       the scan reaps a dead X itself: shmqd may not be running).
//  (E3) M claims a DLQ slot, copies the message (reason ttl), commits it.
//       ttl_action drop, or a full DLQ: no copy, counted as dropped, and the
//       message does not stay: an expired message never blocks its
//       partition.
//  (E4) M stores expired(o, 0) (release), then acks its move-lease (the
//       floor may pass o) and advances g's floor.
// Crashes: M dead after (E1): its move-lease is revoked (reaper, or lease
// expiry) to a retry, and the next look at it expires it again. Dead after
// (E2): the reaper also puts the slot back to committed(o) (before freeing
// M's entry, so no live participant's id names a stale mark): redone by the
// next mover; if M died after (E3)'s commit, the DLQ holds it twice
// (at-least-once), never zero times.
//
// Passing over (another group h, once the slot is expired(o, *)): h's
// never-delivered entry is skipped (acked(t < o) -> acked(o), like an aborted
// slot); a retry of h is finished (retry -> acked(o)), in a keyed group with
// its successor queued. Only the entry's own deliverers touch an exclusive
// group's entries at or past `next` (they are written with plain stores),
// and only the lane's unpark touches a keyed group's parked ones.
#pragma once

#include <cstdint>

#include "shmq/internal/region.hpp"

namespace shmq::ring {

// When the message in (p, o) expires (CLOCK_REALTIME ns); 0: never. Reads
// the slot's header and attribute block, bounded (untrusted); the caller
// holds what keeps the slot stable, or re-validates after.
uint64_t expiry_unix_ns(const detail::Region& r, uint32_t p, uint64_t o) noexcept;

// Whether a message with slot flags `flags` can have a TTL at all: the
// deliverers' cheap test before expiry_unix_ns. `queue_ttl`: the queue has
// one (QueueParams::message_ttl_ms != 0), for a caller that read it once.
inline bool may_expire(bool queue_ttl, uint16_t flags) noexcept {
    return queue_ttl || (flags & layout::kSlotAttributes) != 0;
}
inline bool may_expire(const detail::Region& r, uint16_t flags) noexcept {
    return may_expire(r.params().message_ttl_ms != 0, flags);
}

// Whether anything of the queue can expire: a queue TTL, or a message that
// brought its own (DlqControl::message_ttls).
inline bool queue_may_expire(const detail::Region& r) noexcept {
    if (r.params().history != 0) return false;  // a replay region
    return r.params().message_ttl_ms != 0 || r.dlq().message_ttls.load(std::memory_order_relaxed) != 0;
}

enum class Expiry {
    expired,  // (E1)-(E4) done by this call: in the DLQ (or dropped), g's entry acked
    passed,   // the slot was expired already: g's entry finished
    not_due,  // committed and not expired: deliver it
    busy,     // another mover is between (E2) and (E4): leave it for now
    lost,     // the entry or the slot changed under us: re-read
};

// (E1)-(E4) for group g's entry of (p, o), whose word the caller loaded
// (acquire) as `word`: never delivered, or a retry; or, `taken`, the fresh
// lease the caller just won (not counted as a delivery; not_due then means:
// deliver it). now_unix: CLOCK_REALTIME.
Expiry expire_entry(detail::Region& r, uint32_t g, uint32_t p, uint64_t o, uint64_t word, uint64_t now_unix,
                    uint64_t now_mono, uint32_t mover_id, bool taken = false) noexcept;

// The scan: for every group of the queue, expires (or passes over) what it
// may in partition p (see above for which entries a scan touches). Returns
// how many messages it expired; `next_due`, if given, is lowered to the
// earliest expiry (CLOCK_REALTIME ns) of a message it saw not yet due.
uint32_t expire_partition(detail::Region& r, uint32_t p, uint64_t now_unix, uint64_t now_mono, uint32_t mover_id,
                          uint64_t* next_due = nullptr) noexcept;

// The reaper's part: every slot that participant `id` marked expired(o, id)
// and did not finish goes back to committed(o). Returns how many.
uint32_t unmark_dead_expiries(detail::Region& r, uint32_t p, uint32_t id) noexcept;

}  // namespace shmq::ring
