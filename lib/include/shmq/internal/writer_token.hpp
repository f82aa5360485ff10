// The automatic writer token (issue 17): a default producer that is the
// only producer attached takes every partition's writer role as an
// exclusive producer does (commit_protocol.hpp (6)-(8): `writer`, then the
// tail's bit 63) and claims with plain stores; when another writer needs a
// partition, it takes the role back without the holder paying an RMW.
//
// PartitionControl::writer, 64 bits, each change one CAS or store:
//   [0:1 | auto:1 | handover:1 | 0:1 | requester id:12 | owner token:48]
//   0                        free
//   T                        exclusive holder T (ProducerOptions::exclusive): others get writer_busy
//   T|auto                   automatic holder T
//   T|auto|req=C             C asked for the role back
//   U|auto|handover          U (the holder itself, or the winning contender) is giving the role back
// PartitionControl::writer_sending: 1 while the automatic holder claims.
//
// Memory-ordering argument (an asymmetric Dekker handshake; the holder pays
// a compiler barrier, the contender a membarrier, as commit_barrier.hpp):
//  (9)  take: only a producer that sees no other producer attached, on a
//       queue whose commit_fence is 0: CAS writer 0 -> T|auto (acq_rel), then
//       (6) (the tail's bit; the contested first offset). A taker racing a
//       shared claimer that attached meanwhile is (6)'s race, already safe.
//  (10) holder, per claim (send, or one run of send_batch): H1 store
//       sending = 1 (relaxed); compiler barrier; H2 load writer and
//       commit_fence (relaxed). writer == T|auto and no fence: claim with
//       (7)'s plain stores, tail last, then H3 store sending = 0 (release,
//       after the tail store). Otherwise it claims nothing with stores:
//       (11), then the shared protocol.
//       contender: C1 CAS writer T|auto -> T|auto|req=C (or finds its own
//       request there); C2 membarrier(GLOBAL_EXPEDITED): a full barrier on
//       every CPU running the holder, at some point of its program, and on
//       the caller at both ends; C3 wait until sending == 0 (acquire).
//       The holder's barrier falls before H1 (then H2 sees C1: no plain
//       claim in that call or any later one) or after H1 (then H1 is
//       visible to C3: C3 waits for that claim's H3, which follows its tail
//       store). So once C3 returns, no plain claim is in flight or to come,
//       and the tail C3 acquired is final: every offset below it has its
//       claimer named (7), none above it is claimed.
//  (11) give back, by whoever wins CAS writer T|auto[|req] -> U|auto|handover
//       (acq_rel; the holder at its next claim, at close, or when it sees
//       commit_fence set; or the contender after C3): clear the tail's bit
//       (the holder stores its own tail; the contender CASes t|X -> t, t
//       the final tail of (10)), then store writer = 0 (release). While the
//       word says handover nobody can take (writer != 0) and only U touches
//       the bit, so no stale CAS clears a later holder's bit. Shared
//       claimers that met the bit retry once it is clear ((6): they never
//       CASed the tail while it was set).
//  (12) the requester id makes each request unique (only C writes req=C,
//       and C asks again only in a new attempt), so C's handover CAS cannot
//       succeed on a later tenure that looks the same (an ABA). A contender
//       that finds another live requester waits; a dead one's it replaces.
//  (13) death: the reaper of a dead T (holder, or U mid-handover) aborts
//       its open claims, clears the bit past them (8), stores sending = 0,
//       then CASes writer -> 0. A contender waiting at C3 checks the
//       holder's liveness and reaps it; a holder stopped (SIGSTOP) inside
//       a claim keeps contenders waiting (bounded by their send timeout).
//  (14) fallback: where membarrier is refused (commit_fence set, or C2
//       fails: the contender then sets it, as a sleeper does), C2 is a
//       seq_cst fence and a 1 ms wait (fast_ack.hpp's revoker_barrier): a
//       holder that loaded commit_fence as 0 just before it was set has its
//       H1 out of its store buffer by then, so C3 sees it; a holder that
//       loads it set claims nothing with stores and gives back at its next
//       claim. With commit_fence set nobody takes the role (9).
// (9)-(13) are model-checked by tests/model/writer_token_model.cpp on these
// very functions (commit_fence 0); (14) is exercised in real processes by
// tests/crash/commit_fence_fallback_test.cpp.
#pragma once

#include <atomic>
#include <cstdint>

#include "shmq/internal/commit_protocol.hpp"

namespace shmq::ring {

constexpr uint64_t kWriterAuto = uint64_t{1} << 62;
constexpr uint64_t kWriterHandover = uint64_t{1} << 61;
constexpr unsigned kWriterRequesterShift = 48;
constexpr uint64_t kWriterTokenMask = (uint64_t{1} << 48) - 1;
constexpr uint64_t kWriterRequesterMask = uint64_t{0xfff} << kWriterRequesterShift;

constexpr uint64_t writer_token(uint64_t w) noexcept { return w & kWriterTokenMask; }
constexpr uint32_t writer_requester(uint64_t w) noexcept {
    return static_cast<uint32_t>((w & kWriterRequesterMask) >> kWriterRequesterShift);
}
constexpr bool writer_is_auto(uint64_t w) noexcept { return (w & kWriterAuto) != 0; }
constexpr bool writer_in_handover(uint64_t w) noexcept { return (w & kWriterHandover) != 0; }
constexpr uint64_t auto_writer(uint64_t token) noexcept { return writer_token(token) | kWriterAuto; }
constexpr uint64_t with_requester(uint64_t w, uint32_t id) noexcept {
    return (w & ~kWriterRequesterMask) | (uint64_t{id & 0xfff} << kWriterRequesterShift);
}
constexpr uint64_t handover_writer(uint64_t token) noexcept { return auto_writer(token) | kWriterHandover; }
// Values honest processes store (the integrity check): a handover or a
// request only on an automatic word, and no other bits.
constexpr bool writer_bits_valid(uint64_t w) noexcept {
    if ((w & ~(kWriterTokenMask | kWriterRequesterMask | kWriterAuto | kWriterHandover)) != 0) return false;
    if (!writer_is_auto(w)) return (w & (kWriterHandover | kWriterRequesterMask)) == 0;
    return !(writer_in_handover(w) && writer_requester(w) != 0);
}

// (9) Takes the role automatically: writer, then the tail's bit. `first`:
// as take_exclusive (the one offset a shared claimer may still race for).
template <class Atomic>
inline bool take_auto(const BasicRingRef<Atomic>& ring, Atomic& writer, uint64_t token, uint64_t& first) noexcept {
    uint64_t free = 0;
    // acq_rel: after the previous holder's give-back (11).
    if (!writer.compare_exchange_strong(free, auto_writer(token), std::memory_order_acq_rel, std::memory_order_acquire))
        return false;
    if (take_exclusive(ring, first)) return true;
    writer.store(0, std::memory_order_release);  // a bit nobody holds: damage; leave it to the shared path
    return false;
}

// (10) H1, H2: true when the holder still holds the role and may claim
// with (7)'s stores, then call holder_leave. `Barriers` as commit_barrier.hpp.
template <class Atomic, class Flag, class Barriers>
inline bool holder_enter(Atomic& sending, const Atomic& writer, uint64_t mine, const Flag& commit_fence,
                         Barriers barriers) noexcept {
    sending.store(1, std::memory_order_relaxed);  // H1
    barriers.compiler_barrier();                  // a contender's membarrier orders H1 before H2, or C1 before H2
    return commit_fence.load(std::memory_order_relaxed) == 0 && writer.load(std::memory_order_relaxed) == mine;  // H2
}
// (10) H3: release: the tail store (and claim words) precede a contender's C3.
template <class Atomic>
inline void holder_leave(Atomic& sending) noexcept {
    sending.store(0, std::memory_order_release);
}

// (11) The holder gives the role back at its cursor `next` (its own copy of
// the tail), unless a contender's handover already took it. true: it did.
// `between`: tests' crash point, after the handover CAS.
template <class Atomic, class Between = NoStep>
inline bool holder_give_back(const BasicRingRef<Atomic>& ring, Atomic& writer, uint64_t token, uint64_t next,
                             Between between = {}) noexcept {
    uint64_t w = writer.load(std::memory_order_acquire);
    while (writer_is_auto(w) && !writer_in_handover(w) && writer_token(w) == writer_token(token)) {
        if (writer.compare_exchange_strong(w, handover_writer(token), std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
            between();
            release_exclusive(ring, next);               // (8): tail without the bit (release)
            writer.store(0, std::memory_order_release);  // then the role
            return true;
        }
    }
    return false;
}

// (10) C1: asks the holder named by `w` (an automatic, not handing over
// word) for the role; `w` becomes the word with the request. false: the
// word changed (`w` is its new value).
template <class Atomic>
inline bool request_handover(Atomic& writer, uint64_t& w, uint32_t me) noexcept {
    const uint64_t asked = with_requester(w, me);
    if (asked == w) return true;  // ours already
    // acq_rel: the request precedes our membarrier; acquire: the holder's take.
    if (!writer.compare_exchange_strong(w, asked, std::memory_order_acq_rel, std::memory_order_acquire)) return false;
    w = asked;
    return true;
}

// (10) C3: the holder is not inside a claim. acquire: pairs with H3 (its tail).
template <class Atomic>
inline bool holder_quiet(const Atomic& sending) noexcept {
    return sending.load(std::memory_order_acquire) == 0;
}

// (11) The contender, after C3: takes the handover from `asked` (the word
// with its request) and gives the role back for the holder. false: the word
// changed meanwhile (the holder gave back itself, or the reaper did).
template <class Atomic, class Between = NoStep>
inline bool contender_give_back(const BasicRingRef<Atomic>& ring, Atomic& writer, uint64_t asked, uint64_t my_token,
                                Between between = {}) noexcept {
    if (!writer.compare_exchange_strong(asked, handover_writer(my_token), std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        return false;
    between();
    clear_exclusive(ring, 0);                    // CAS t|X -> t: t is final (10)
    writer.store(0, std::memory_order_release);  // then the role
    return true;
}

}  // namespace shmq::ring
