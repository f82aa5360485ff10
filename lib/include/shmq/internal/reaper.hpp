// Repairing after a dead participant: the one place that takes back what a
// dead process held. Called by shmqd (at once, from a pidfd event) and by the
// library's slow paths (a dead owner blocking a partition, a full lease table).
//
// reap_participant(index) runs only while it holds the OFD write lock on the
// entry's byte, which it can take only if the participant's process is gone
// (the kernel dropped its lock). Every step is a CAS from a state naming the
// dead participant, so a reaper killed half-way is simply redone by the next:
//   (1) abort its open slot claims (partitions and DLQ): consumers pass over them;
//       then, if it was a partition's exclusive writer, clear the tail's bit and the role;
//   (2) return its leases: leased -> retry (reason owner_died), picked -> acked;
//   (3) release its exclusive partitions and any owner lock it held;
//   (4) free the entry (release), bump its group's membership generation;
//   (5) drop the byte lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

struct ReapReport {
    bool reaped = false;
    uint32_t pid = 0;
    layout::Role role = layout::Role::none;
    uint16_t group = layout::kNoGroup;
    uint32_t claims_aborted = 0;
    uint32_t leases_returned = 0;
    uint32_t partitions_released = 0;
    // Its transaction is not finished (tx_resolver.hpp): the entry stays taken
    // (TxEntry::reap_pending) until tx::resolve_late finishes it and reaps again.
    bool tx_pending = false;
};

// `mover_id`: participant id of the caller, used to claim DLQ slots for leases
// that used up max_deliveries; 0 leaves those as due retries for a consumer.
ReapReport reap_participant(Region& r, uint32_t index, uint32_t mover_id) noexcept;
// Reaps every entry whose process is gone. Returns how many.
std::size_t reap_dead_participants(Region& r, uint32_t mover_id = 0) noexcept;

}  // namespace shmq::detail
