// The fast ACK of an exclusive group: the holder of a lease stores acked(o)
// into its entry, no atomic read-modify-write, and a revoker that takes
// leases from live holders waits out the ACKs already under way.
//
// Why the ACK was a CAS (delivery.hpp (3)): a revoker (lease expiry, a new
// owner's handoff, the owner's own ordered restart) CASes leased(o) ->
// retry; a plain store of acked(o) landing after it would overwrite the
// retry, or the next holder's lease, and the floor would pass o under that
// holder's reads.
//
// Words: R = GroupPartition::revocations of (group, partition), only grows;
// A = ParticipantEntry::acking of the holder, written by its fast-ACK thread
// alone (ConsumerCore::fast_thread; ACKs from other threads take the CAS).
//   deliver (the owner, delivery.hpp): L0: load R into the delivery, before
//     the release stores (or the CAS) that install its lease.
//   fast ACK: S1: A = 1 (relaxed); B: barrier (a compiler barrier; a seq_cst
//     fence while commit_fence is set); L2: load R; if it equals the
//     delivery's, S3: entry = acked(o) (release, (3)'s payload-reads edge);
//     then S4: A = 0 (release). If R moved: S4, then (3)'s CAS, which fails
//     if this lease was taken (lease_lost).
//   revoke, in rounds of up to 64 leases: load (acquire) the words to take;
//     S5: R += 1 (seq_cst); the revoker barrier (membarrier
//     GLOBAL_EXPEDITED); then before each CAS (expecting the word loaded),
//     L6: wait until its holder's A == 0 (acquire; once per holder per round).
// Argument:
//   (a) An ACK under way is finished before the CAS, or sees R move. The
//       membarrier puts a full barrier somewhere in the holder's program.
//       Before L2: L2 reads S5's R and the ACK takes the CAS. After S1: L6
//       sees S1, or the S4 after it (release: S3 is then visible, and the
//       revoker's CAS fails on acked(o)). Store buffering with the holder's
//       half paid by the revoker, as in commit_barrier.hpp.
//   (b) Every lease a round takes recorded an older R: the round CASes only
//       words it loaded (acquire) before its S5, expecting exactly them (a
//       newer lease of the offset is another word: the CAS fails). So each
//       install, a release store or acq_rel CAS, happens before S5, and so
//       does its L0, sequenced before it: L0 cannot read S5 (coherence).
//   (c) R is 64 bits, one per round: it does not wrap.
//   (d) Needing none of this: the holder's own NACK (its message is
//       settled: no fast ACK of it follows); the reaper of a dead holder
//       (nothing of it runs any more); the DLQ mover (it takes retry
//       entries: revoked already); drop_oldest queues (producers CAS
//       entries too: no fast ACKs there, DeliveryContext::exclusive).
//   Fallback: while commit_fence is set both sides fence (the fence-fence
//   form), and the revoker (which sets the flag if its own membarrier
//   fails) also waits 1 ms (HardwareBarriers::drain) before L6: a holder
//   that loaded the flag as 0 just before it was set has drained S1 from
//   its store buffer by then (store buffers drain within a microsecond; a
//   context switch drains them), the same bound commit_barrier.hpp's
//   fallback rests on.
//   The consumer's biased reference count (lib/src/consumer_core.hpp) runs
//   the same two halves on a process-local word.
//   A holder stopped inside an ACK (SIGSTOP, preemption) keeps A = 1: the
//   revoker gives up after kFastAckWaitNs and revokes nothing more now
//   (shmqd and peers retry at their next scan; a handoff retries later).
//   A dead holder's A is ignored. Modelled by tests/model/fast_ack_model.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmq/internal/commit_barrier.hpp"
#include "shmq/internal/lease_word.hpp"

namespace shmq::ring {

constexpr uint64_t kFastAckWaitNs = 2'000'000;  // a revoker's wait for one holder's ACK under way

// S1, B: the holder enters. `Flag` is RegionHeader::commit_fence.
template <class Word, class Flag, class Barriers = detail::HardwareBarriers>
inline void fast_ack_enter(Word& acking, const Flag& commit_fence, Barriers barriers = {}) noexcept {
    acking.store(1, std::memory_order_relaxed);   // S1
    detail::commit_barrier(commit_fence, barriers);  // B: the revoker's membarrier orders it
}

// L2: whether no revocation round began since the delivery recorded `seen`.
template <class Word>
inline bool fast_ack_valid(const Word& revocations, uint64_t seen) noexcept {
    return revocations.load(std::memory_order_relaxed) == seen;
}

// S3: leased(o) -> acked(o) by its holder, inside enter/leave and valid.
template <class Entry>
inline void lease_ack_owned(Entry& e, uint64_t offset) noexcept {
    e.word.store(lease_word(LeaseKind::acked, offset), std::memory_order_release);
}

// S4: the holder leaves (release: its S3 before a revoker's L6 of 0).
template <class Word>
inline void fast_ack_leave(Word& acking) noexcept {
    acking.store(0, std::memory_order_release);
}

// The revoker barrier (the asymmetric handshake's heavy half, also the
// writer token's contender's, writer_token.hpp (14)): membarrier; where it
// is refused, the flag set, a fence, and a wait for store buffers to drain
// (holders that loaded the flag as 0 just before it was set used only a
// compiler barrier).
template <class Flag, class Barriers = detail::HardwareBarriers>
inline void revoker_barrier(Flag& commit_fence, Barriers barriers = {}) noexcept {
    if (commit_fence.load(std::memory_order_relaxed) == 0) {
        if (barriers.membarrier()) return;
        commit_fence.store(1, std::memory_order_seq_cst);  // holders fence from now on
    }
    barriers.fence();
    barriers.drain();
}

// S5 and the barrier: a revocation round begins.
template <class Word, class Flag, class Barriers = detail::HardwareBarriers>
inline void revocation_begin(Word& revocations, Flag& commit_fence, Barriers barriers = {}) noexcept {
    revocations.fetch_add(1, std::memory_order_seq_cst);  // S5
    revoker_barrier(commit_fence, barriers);
}

// L6: whether the holder is outside any fast ACK.
template <class Word>
inline bool holder_outside_ack(const Word& acking) noexcept {
    return acking.load(std::memory_order_acquire) == 0;
}

}  // namespace shmq::ring
