// The asked-for doorbell (layout::RegionHeader::daemon_wanted): shmqd, caught
// up on a queue's disk work, asks the next committing producer to ring it
// (detail::ring_daemon), and sleeps.
//
// Memory-ordering argument (Dekker, every step seq_cst):
//   producer: commit C (a seq_cst RMW of the slot's state word), then
//             take_ring_request: L, a seq_cst load of `wanted`;
//   shmqd:    ask_for_ring: R, a seq_cst store of 1 into `wanted`, then
//             recheck: B, seq_cst loads of the state word of the next slot
//             it has to journal or drain (PartitionJournal::behind,
//             PartitionSpill::active).
// All four are in the single total order S, consistent with program order.
// If L reads 0, L precedes R in S, so C < L < R < B and B sees C; else the
// producer takes the request (or another producer did) and rings. Either
// shmqd sees the commit or it is rung. An acquire B would not do: the store
// could pass it (tests/model/doorbell_model.cpp, whose weakened twin makes B
// acquire, is caught by relacy). On x86 the seq_cst store is the one fence.
//
// The atomic type is a template parameter only for the model check; the
// library passes RegionHeader::daemon_wanted and slot state words.
#pragma once

#include <atomic>

namespace shmq::detail {

// shmqd: ask (R). Its re-checks (B) follow, through recheck().
template <class Atomic>
inline void ask_for_ring(Atomic& wanted) noexcept {
    wanted.store(1, std::memory_order_seq_cst);
}

// shmqd's re-check of a word a producer's seq_cst commit writes (B).
template <class Atomic>
inline auto recheck(const Atomic& word) noexcept {
    return word.load(std::memory_order_seq_cst);
}

// A producer after its seq_cst commit: true if shmqd asked and this
// producer took the request (exactly one committer rings per ask).
template <class Atomic>
inline bool take_ring_request(Atomic& wanted) noexcept {
    if (wanted.load(std::memory_order_seq_cst) == 0) return false;
    auto asked = wanted.load(std::memory_order_relaxed);
    return asked != 0 && wanted.compare_exchange_strong(asked, 0, std::memory_order_relaxed);
}

}  // namespace shmq::detail
