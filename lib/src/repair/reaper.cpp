#include "shmq/internal/reaper.hpp"

#include <mutex>

#include "shmq/internal/dedup.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/expiry.hpp"
#include "shmq/internal/tx_resolver.hpp"
#include "shmq/internal/writer_token.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::detail {

namespace {

std::mutex& reap_mutex() {
    static std::mutex m;  // probe_fd is one open file description: one reaper at a time per process
    return m;
}

// `dedup_partition`: the partition of a message ring or staging ring
// (`staged`) on a queue with a dedup table, whose claims may name an entry;
// -1 otherwise.
uint32_t abort_claims(Region& r, const ring::RingRef& ring, uint64_t from, uint32_t id, int64_t dedup_partition = -1,
                      bool staged = false) {
    uint32_t aborted = 0;
    for (uint64_t o = from; o < from + ring.capacity; ++o) {
        // dedup.hpp (2): the entry the open claim names is voided before the abort.
        if (dedup_partition >= 0 && ring::open_claimer(ring, o) == id && !ring::open_claim_prepared(ring, o))
            dedup::void_dead_claim(r, ring.base(o), static_cast<uint32_t>(dedup_partition), o, staged, id);
        if (ring::abort_dead_claim(ring, o, id)) ++aborted;  // (1)
    }
    return aborted;
}

// One past the last offset of this lap whose claim word names `id` (0:
// none), aborted by this reaper or by an earlier one that was killed.
uint64_t claims_end(const ring::RingRef& ring, uint64_t from, uint32_t id) {
    uint64_t end = 0;
    for (uint64_t o = from; o < from + ring.capacity; ++o) {
        const uint64_t c = ring.claim(o).load(std::memory_order_acquire);
        if (ring::slot_is(c, o) && ring::slot_owner(c) == id &&
            (ring::slot_kind(c) == ring::SlotKind::claimed || ring::slot_kind(c) == ring::SlotKind::prepared))
            end = o + 1;
    }
    return end;
}

}  // namespace

ReapReport reap_participant(Region& r, uint32_t index, uint32_t mover_id) noexcept {
    ReapReport report;
    if (!r.valid_participant(index) || r.read_only()) return report;
    std::lock_guard<std::mutex> guard(reap_mutex());
    if (!sys::try_lock_byte(r.probe_fd(), index)) return report;  // its process (or another reaper) holds it
    auto& e = r.participant(index);
    const uint64_t s = e.state.load(std::memory_order_acquire);
    if (layout::participant_kind(s) == layout::kParticipantFree) {
        sys::unlock_byte(r.probe_fd(), index);
        return report;
    }
    const uint32_t id = index + 1;
    const uint64_t token = layout::owner_token(id, layout::participant_gen(s));
    report.reaped = true;
    report.pid = e.pid.load(std::memory_order_relaxed);
    report.role = static_cast<layout::Role>(e.role.load(std::memory_order_relaxed));
    report.group = e.group.load(std::memory_order_relaxed);
    const uint64_t now = sys::coarse_monotonic_ns();

    // Its transaction (shmq/internal/tx_protocol.hpp): a coordinator record
    // is resolved (inputs acked or given back, outputs finished), an output
    // record decided and its prepared claims finished. Undecided (an output
    // queue or the coordinator out of reach): everything else is reaped, but
    // the entry stays taken, so that its record is not reused meanwhile.
    bool tx_finished = tx::resolve_coordinator(r, index, now, mover_id);
    if (static_cast<layout::TxRole>(r.tx_entry(index).role.load(std::memory_order_relaxed)) == layout::TxRole::output) {
        if (tx::settle_output(r, index, now) == tx::Outcome::undecided) tx_finished = false;
    }
    report.tx_pending = !tx_finished;
    r.tx_entry(index).reap_pending.store(tx_finished ? 0 : 1, std::memory_order_relaxed);

    for (uint32_t p = 0; p < r.partitions(); ++p) {
        const uint64_t head = r.partition(p).head.load(std::memory_order_acquire);
        const uint32_t n = abort_claims(r, ring::partition_ring(r, p), head, id, r.dedup_on() ? int64_t{p} : -1);
        r.partition(p).aborted.fetch_add(n, std::memory_order_relaxed);
        report.claims_aborted += n;
        // Its expiries between (E2) and (E4) (expiry.hpp): redone by the next look.
        (void)ring::unmark_dead_expiries(r, p, id);
        // An exclusive writer (commit_protocol.hpp (8)): its claims are
        // aborted above; give the tail back to the shared protocol, then free
        // the role, the tail past its aborted slots (commit_protocol.hpp (8)).
        // An automatic holder, or one giving the role back (writer_token.hpp
        // (13)): the same, and its `writer_sending` cleared before the role.
        auto& writer = r.partition(p).writer;
        uint64_t holder = writer.load(std::memory_order_acquire);
        if (holder != 0 && ring::writer_token(holder) == token) {
            ring::clear_exclusive(ring::partition_ring(r, p), claims_end(ring::partition_ring(r, p), head, id));
            if (ring::writer_is_auto(holder)) r.partition(p).writer_sending.store(0, std::memory_order_release);
            while (ring::writer_token(holder) == token &&
                   !writer.compare_exchange_weak(holder, 0, std::memory_order_acq_rel, std::memory_order_acquire)) {
            }
        }
    }
    report.claims_aborted += abort_claims(r, ring::dlq_ring(r), r.dlq().head.load(std::memory_order_acquire), id);
    for (uint32_t p = 0; r.spill_capacity() != 0 && p < r.partitions(); ++p) {
        // Staged claims (shmq/internal/spill_protocol.hpp (1)); shmqd skips aborted ones, and a
        // producer finding an aborted slot at spill_tail moves past it.
        auto& pc = r.partition(p);
        report.claims_aborted += abort_claims(r, ring::spill_ring(r, p), pc.spill_head.load(std::memory_order_acquire), id,
                                              r.dedup_on() ? int64_t{p} : -1, true);
        uint64_t holder = token;
        pc.spill_lock.compare_exchange_strong(holder, 0, std::memory_order_acq_rel);
    }

    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        if (!ring::group_holds(r.group(g).state.load(std::memory_order_acquire))) continue;
        for (uint32_t p = 0; p < r.partitions(); ++p) {
            const ring::Window win = ring::lease_window(r, g, p);
            for (uint64_t o = win.floor; o < win.next; ++o) {  // (2)
                const uint64_t w = r.lease(g, p, o).word.load(std::memory_order_acquire);
                const auto kind = ring::lease_kind(w);
                if ((kind != ring::LeaseKind::leased && kind != ring::LeaseKind::picked) || ring::lease_owner(w) != id ||
                    !ring::lease_is(w, o))
                    continue;
                if (ring::revoke(r, g, p, o, w, layout::DeadLetterReason::owner_died, now, mover_id))
                    ++report.leases_returned;
            }
            uint64_t owner = token;  // (3)
            if (r.group_partition(g, p).owner.compare_exchange_strong(owner, 0, std::memory_order_acq_rel))
                ++report.partitions_released;
        }
    }
    for (uint32_t p = 0; p < r.partitions(); ++p) {
        uint64_t holder = token;
        r.partition(p).reclaim_lock.compare_exchange_strong(holder, 0, std::memory_order_acq_rel);
    }
    uint64_t holder = token;
    r.header().admin_lock.compare_exchange_strong(holder, 0, std::memory_order_acq_rel);

    // (4) release: everything above precedes the entry's reuse.
    if (tx_finished)
        e.state.store(layout::participant_state(layout::participant_gen(s), layout::kParticipantFree),
                      std::memory_order_release);
    if (report.role == layout::Role::consumer && r.valid_group(report.group)) membership_changed(r, report.group);
    wake_consumers(r);
    sys::unlock_byte(r.probe_fd(), index);  // (5)
    return report;
}

std::size_t reap_dead_participants(Region& r, uint32_t mover_id) noexcept {
    std::size_t reaped = 0;
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        const uint64_t s = r.participant(i).state.load(std::memory_order_acquire);
        if (layout::participant_kind(s) == layout::kParticipantFree) continue;
        if (reap_participant(r, i, mover_id).reaped) ++reaped;
    }
    return reaped;
}

}  // namespace shmq::detail
