// Process-local state of one Producer handle. Reference-counted by hand, as
// ConsumerCore is: one reference for the Producer handle and one per open
// Claim (a claim may be committed or aborted after the handle is gone). The
// last reference detaches the participant, so the reaper and shmqd see the
// producer attached (alive) while any of its claims is open.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "participants.hpp"
#include "region.hpp"
#include "ring/partition_view.hpp"

namespace shmq::detail {

struct ProducerCore {
    std::shared_ptr<Region> region;
    Participant me;
    std::vector<ring::PartitionView> views;  // by partition index: cached addresses
    std::vector<uint64_t> limits;            // by partition index: cached head + capacity (room)
    std::vector<ring::RingRef> staging;      // on_full=spill: by partition index, else empty
    uint32_t round_robin = 0;
    uint32_t ops_since_heartbeat = 0;
    std::atomic<uint32_t> refs{1};

    ~ProducerCore();
    void release() noexcept;  // drops one reference; the last one deletes the core
    // Claims a slot in partition `p` (or, when `may_switch`, any partition with
    // room), applying the queue's on_full policy. On success `p` and `offset`
    // name the claimed slot.
    Status claim_slot(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept;
    Status claim_slot_slow(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept;  // full, or corrupt
    // on_full=spill: a slot in the ring of p while p is not spilling and has
    // room, else a staging slot (`staged`; `offset` is then the spill
    // sequence). Waits up to `timeout` only for room in staging.
    Status claim_spilling(uint32_t p, Millis timeout, uint64_t& offset, bool& staged) noexcept;
    // Slot addresses of a claim: in the ring, or in staging when `staged`.
    std::byte* slot_base(uint32_t p, uint64_t offset, bool staged) const noexcept {
        return staged ? staging[p].base(offset) : views[p].slot_base(offset);
    }
    // Writes the header, commits, and wakes sleeping consumers.
    Status publish(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len) noexcept;
    // The same for a staging slot: shmqd picks it up (no wake-up: it polls).
    Status publish_staged(uint32_t p, uint64_t seq, uint32_t payload_len, uint16_t key_len) noexcept;
    uint32_t choose_partition(std::string_view key) noexcept;
};

}  // namespace shmq::detail
