#include "shmq/internal/reclaim.hpp"

#include <algorithm>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::ring {

bool reclaim(detail::Region& r, uint32_t p, uint64_t token, uint64_t min_batch) noexcept {
    auto& pc = r.partition(p);
    if (!detail::try_owner_lock(pc.reclaim_lock, token)) return false;
    const uint64_t head = pc.head.load(std::memory_order_relaxed);  // written only under the lock
    const uint64_t tail = load_tail(pc.tail);
    uint64_t low = UINT64_MAX;
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        // acquire (seq_cst): pairs with the floor CAS of each acker, so the
        // consumers' reads of the released payloads happen before our release.
        if (!group_holds(r.group(g).state.load(std::memory_order_seq_cst))) continue;
        low = std::min(low, r.group_partition(g, p).floor.load(std::memory_order_seq_cst));
    }
    // No group: messages wait for the first one. Untrusted floors are clamped
    // to what can be valid: never past the tail nor more than a lap ahead.
    uint64_t target = std::min({low, tail, head + r.capacity()});
    // A journaled queue: shmqd's journal is one more reader (acquire: its
    // copies of the payloads happen before our release of the slots).
    if (r.params().journal != 0) target = std::min(target, pc.journal_floor.load(std::memory_order_acquire));
    bool released = false;
    if (low != UINT64_MAX && target > head && target - head >= min_batch) {
        // (1) release: a producer that acquires the new head writes over the
        // released laps only after every reader's ack (the floors' CASes).
        pc.head.store(target, std::memory_order_release);
        released = true;
    }
    detail::owner_unlock(pc.reclaim_lock, token);
    // No wake-up here: the caller is a producer that wants the room itself;
    // producers asleep for room are woken by the consumers' floor advances.
    return released;
}

}  // namespace shmq::ring
