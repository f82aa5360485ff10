// Deciding and finishing the transactions of dead or late owners
// (shmq/internal/tx_protocol.hpp): run by reapers (shmqd, peers) and by
// consumers waiting at a transaction's output. Every step is a CAS that the
// owner, or another resolver, may have made first; all are idempotent.
#pragma once

#include <cstdint>

#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/tx_protocol.hpp"

namespace shmq::tx {

// Whether participant `index` of r (the owner of its record) is dead or gone,
// or its record's deadline passed: a peer may abort the record if still open.
bool owner_late(const detail::Region& r, uint32_t index, uint64_t now_mono) noexcept;

// Output side: the outcome of participant `index`'s output record in q,
// moving it when it can (open and late -> aborted; prepared -> what its
// coordinator says, read from the coordinator's region when it can be
// opened), and, once decided, its prepared claims finished: committed with
// a committed record, aborted otherwise. Only the claims of the decided
// transaction: the finishing stops as soon as the record moved on (a live
// owner began its next transaction, whose claims are not this decision's;
// tx_protocol.hpp (T6)). undecided: the owner is alive and in time, or the
// coordinator is out of reach (then shmqd, or a peer who can open it, decides).
Outcome settle_output(detail::Region& q, uint32_t index, uint64_t now_mono) noexcept;

// A consumer of q stuck at offset o of `ring`, held by a prepared claim of
// `owner`: decides the record and finishes the claims. True when the slot
// was finished (by anyone).
bool settle_prepared(detail::Region& q, const ring::RingRef& ring, uint64_t o, uint32_t owner,
                     uint64_t now_mono) noexcept;

// Coordinator side: resolves participant `index`'s coordinator record in
// `in` once its owner is late: open -> aborted; then the frozen inputs are
// acked (committed) or given back (aborted), and the listed output records
// finished. True when nothing of the transaction is left to do (the entry
// may be reused); false when it waits (owner alive and in time, or an output
// queue out of reach).
bool resolve_coordinator(detail::Region& in, uint32_t index, uint64_t now_mono, uint32_t mover_id) noexcept;

// A scan of every record of r (consumers' maintenance, shmqd): resolves the
// coordinator records and decides the output records of late owners.
void resolve_late(detail::Region& r, uint64_t now_mono, uint32_t mover_id) noexcept;

}  // namespace shmq::tx
