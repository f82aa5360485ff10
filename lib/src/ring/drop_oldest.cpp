#include "ring/drop_oldest.hpp"

#include <algorithm>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::ring {

namespace {

// (2) for one group: every entry in [floor, target) -> acked(o). Returns how many it passed over.
uint64_t pass_over(detail::Region& r, uint32_t g, uint32_t p, uint64_t target) noexcept {
    auto& gp = r.group_partition(g, p);
    const uint64_t floor = gp.floor.load(std::memory_order_seq_cst);
    uint64_t passed = 0;
    for (uint64_t o = std::max(floor, target - std::min<uint64_t>(target, r.capacity())); o < target; ++o) {
        auto& e = r.lease(g, p, o);
        uint64_t w = e.word.load(std::memory_order_acquire);
        for (int attempt = 0; attempt < 64; ++attempt) {
            if (lease_kind(w) == LeaseKind::acked && lease_is(w, o)) break;  // finished already
            if (!lease_is(w, o) && !lease_before(w, o)) break;                 // a later lap: untrusted, leave it
            if (e.word.compare_exchange_strong(w, lease_word(LeaseKind::acked, o), std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
                ++passed;
                break;
            }
        }
    }
    push_forward(gp.next, target);
    push_forward(gp.floor, target);
    gp.skipped.fetch_add(passed, std::memory_order_relaxed);
    return passed;
}

}  // namespace

uint64_t drop_oldest(detail::Region& r, uint32_t p, uint64_t token, uint64_t n) noexcept {
    auto& pc = r.partition(p);
    if (!detail::try_owner_lock(pc.reclaim_lock, token)) return 0;
    const RingRef ring = partition_ring(r, p);
    const uint64_t head = pc.head.load(std::memory_order_relaxed);  // written only under the lock
    const uint64_t tail = load_tail(pc.tail);
    uint64_t target = head;
    // A journaled queue drops only what the journal has: it stays complete.
    const uint64_t limit = r.params().journal != 0 ? std::min(tail, pc.journal_floor.load(std::memory_order_acquire)) : tail;
    while (target < limit && target - head < n) {  // (1) only finished offsets
        const uint64_t s = ring.state(target).load(std::memory_order_acquire);
        const SlotKind kind = slot_kind(s);
        if (!slot_is(s, target) || (kind != SlotKind::committed && kind != SlotKind::aborted && kind != SlotKind::expired)) break;
        ++target;
    }
    if (target > head) {
        for (uint32_t g = 0; g < r.max_groups(); ++g)
            if (group_holds(r.group(g).state.load(std::memory_order_seq_cst))) pass_over(r, g, p, target);
        pc.dropped.fetch_add(target - head, std::memory_order_relaxed);
        pc.head.store(target, std::memory_order_release);  // (3)
    }
    detail::owner_unlock(pc.reclaim_lock, token);
    if (target > head && pc.space_waiters.load(std::memory_order_seq_cst) != 0) detail::wake_producers(pc);
    return target - head;
}

}  // namespace shmq::ring
