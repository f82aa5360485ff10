// Transactions (shmq::Transaction): input ACKs and output sends that happen
// all together or not at all, across queues (docs/ARCHITECTURE.md,
// "Transactions"). The words and steps every participant uses; the
// resolvers (tx_resolver.cpp) and shmq::Transaction (transaction.cpp) are
// built on them.
//
// Records. Every region has one TxEntry per participant entry
// (layout.hpp, sections.tx). A transaction run by process X with consumer C
// on the input queue IN and producers P1..Pk on output queues Q1..Qk uses:
//   - the coordinator record: IN's entry of C. Its word holds the decision;
//     its output list names every (Qi, Pi, seq_i) the transaction opened.
//   - one output record per Qi: Qi's entry of Pi, naming the coordinator
//     (IN's name and epoch, C's index, the coordinator's seq).
// A record's word is [seq:60 | state:4]; each transaction raises seq.
// A publish into several queues (an exchange's, tx/atomic_publish.hpp) is a
// transaction without inputs run by producers P1..Pk: its coordinator record
// is Q1's entry of P1, whose own claims in Q1 it governs directly (open,
// then committed at the commit point, as an output's prepared record would
// be; done once every output is finished). It lists itself as output 0, so
// a resolver of a dead P1 finishes its claims with the others; a reader of
// Q1 decides P1's claims from that word as from any output record's.
//
//   coordinator: open(S) --commit point--> committed(S) --outputs finished--> done(S)
//                open(S) --owner's abort, or a peer once X is dead or the deadline passed--> aborted(S)
//   output:      open(s) --prepare--> prepared(s) --after the commit point--> committed(s)
//                open(s) --owner's abort, or a peer (X dead / deadline)--> aborted(s)
//                prepared(s) --the coordinator aborted S, or moved past S undone--> aborted(s)
//
// Outputs are open claims (commit_protocol.hpp) whose claim word the owner
// turned from claimed(o, P) into prepared(o, P) once the payload was
// written: consumers deliver only committed state words, so an output is
// invisible until someone commits its slot, and that someone has seen the
// output record committed(s). Inputs are frozen: their lease word becomes
// frozen_word(leased) (lease_word.hpp), which no revocation CASes.
//
// Memory-ordering argument:
//  (T1) read-committed: a slot of Pi in Qi is committed (state CAS, seq_cst,
//       commit_protocol.hpp (3), or the owner's release store of (T7)) only
//       by the owner after its commit point, or
//       by a peer after it loaded Qi's record committed(s) (acquire), or
//       loaded the coordinator committed(S) (acquire) and then CASed the
//       record prepared(s) -> committed(s). Either way after (T3).
//  (T2) prepare: the owner stores each claim word prepared(o, P) (release)
//       after the payload, and CASes every output record open -> prepared
//       (acq_rel) before its commit point. A peer aborts only an *open*
//       output record (X dead or past the deadline), so either the peer's
//       CAS wins and the owner's prepare fails (it aborts, before its commit
//       point), or the prepare wins and the record waits for the coordinator.
//  (T3) commit point: the CAS open(S) -> committed(S) of the coordinator
//       word (seq_cst), after every output record is prepared and every
//       input frozen. A peer's abort is the CAS open(S) -> aborted(S) of the
//       same word: exactly one of the two wins, once.
//  (T4) inputs: the freeze is a CAS from the exact leased word the owner
//       holds (acq_rel), so a lease lost before (expiry, handoff, death
//       declared) fails it: lease_lost, before the commit point. (In an
//       exclusive group it is fast_ack.hpp's store when no revocation round
//       began since the delivery: a round's CAS then fails on it instead.) A frozen
//       word never equals a leased word and its tag is not its offset's, so
//       expiry, handoff and death revocations (which CAS from a leased word
//       that lease_is its offset) pass it over. It leaves the frozen state
//       by the coordinator's decision only: -> acked(o) once committed(S),
//       -> back to the owner's lease (owner's abort) or retry (a peer's)
//       once aborted(S). So an input is ACKed exactly when the outputs commit.
//  (T5) presumed abort: the coordinator word goes committed(S) -> done(S)
//       only after every listed output record is committed (by the owner,
//       or by a resolver that opened each Qi), and a new transaction of the
//       entry (S + 1) starts only once S is finished: by its live owner, who
//       commits or aborts every output before it returns, or, after its
//       death, once a resolver finished S (the reaper frees the participant
//       entry, and with it the record, only then). So an output
//       record still prepared(s) whose coordinator word is about another
//       seq, or aborted(S), belongs to an aborted transaction. The list is
//       written (release count) before the output record opens, so a
//       resolver of a dead X finds every output record it may have to finish.
//  (T6) whose claim: a claim word names its owner but not its transaction.
//       The owner opens its next output record (begin's CAS) before it
//       claims for that transaction, and stores each claim word prepared
//       with release; so a resolver that acquire-loads a prepared claim
//       word and then still finds the record word it decided on knows the
//       claim is that transaction's, and finishes it; a record that moved
//       on stops it (tx_resolver.cpp finish_prepared_claims). Without the
//       re-check, a resolver that aborted a late owner's transaction could
//       abort the owner's next, committed output
//       (tests/concurrency/transaction_race_test.cpp caught it).
//  (T7) the owner's slot commits: fast_ack.hpp's handshake with the output
//       record's `resolutions` as R and the producer's `acking` as A. The
//       owner loads R when it opens the output record (L0, before any of its
//       claim words says prepared); after its commit point it enters (S1,
//       B), and if R is unchanged (L2) stores each slot committed (release,
//       commit_protocol.hpp (5)), then leaves (S4); else it CASes them as
//       (T1). A resolver that commits claims loads (acquire) the prepared
//       claim words it will finish, then adds 1 to R (seq_cst) and runs the
//       revoker barrier, waits until the owner is outside (or dead), and
//       only then CASes. As fast_ack.hpp (a)-(b): L0 happens before the
//       prepared stores the resolver loaded, so before its S5; the owner
//       either sees R move and CASes, or its stores are visible to the
//       resolver before its CAS, which then fails. So no owner store lands
//       after a resolver's commit (and the slot's reuse). Resolvers that
//       abort need no round: the owner stores only after its commit point
//       (T3), and aborts by CAS.
// A reader of Qi decides from Qi alone in every case but one: a prepared(s)
// record whose owner is dead (killed between its prepares and the end of its
// commit) needs the coordinator's word, in IN; that resolver is whoever can
// open IN (shmqd, a peer), and until then Qi's partition waits.
//
// The atomic word type is a template parameter so the model checker runs
// this very code (tests/model/tx_model.cpp).
#pragma once

#include <atomic>
#include <cstdint>

namespace shmq::tx {

enum class TxState : uint8_t { idle = 0, open = 1, prepared = 2, committed = 3, aborted = 4, done = 5 };

constexpr uint64_t tx_word(uint64_t seq, TxState s) { return seq << 4 | static_cast<uint8_t>(s); }
constexpr uint64_t tx_seq(uint64_t w) { return w >> 4; }
constexpr TxState tx_state(uint64_t w) { return static_cast<TxState>(w & 0xf); }
// A state no protocol step writes (untrusted memory): treated as aborted.
constexpr bool tx_state_valid(uint64_t w) { return (w & 0xf) <= static_cast<uint8_t>(TxState::done); }

static_assert(tx_seq(tx_word(7, TxState::prepared)) == 7 && tx_state(tx_word(7, TxState::prepared)) == TxState::prepared);

// Owner: starts the next transaction of its record; `seq` is its number.
// The owner finished its previous one (every output committed or aborted)
// before, so a committed record may be reused (T5). Peers write a record
// only while it is open or prepared (or a dead owner's committed one), so
// the owner's store, release (the record's other fields before it), races
// nobody. false: a record left undecided (an earlier occupant's, not yet
// resolved), or a damaged one.
template <class Atomic>
inline bool begin(Atomic& word, uint64_t& seq) noexcept {
    const uint64_t w = word.load(std::memory_order_acquire);
    const TxState s = tx_state(w);
    if (!tx_state_valid(w) || s == TxState::open || s == TxState::prepared) return false;
    seq = tx_seq(w) + 1;
    word.store(tx_word(seq, TxState::open), std::memory_order_release);
    return true;
}

// The owner after its commit point (T3): no peer moves its prepared output
// records but to committed (the coordinator says committed), nor writes its
// committed coordinator (a peer finishes only a dead owner's): plain
// release stores, one per record, where a CAS would only agree.
template <class Atomic>
inline void commit_output(Atomic& word, uint64_t seq) noexcept {
    word.store(tx_word(seq, TxState::committed), std::memory_order_release);
}
template <class Atomic>
inline void mark_done(Atomic& word, uint64_t seq) noexcept {
    word.store(tx_word(seq, TxState::done), std::memory_order_release);
}

// One CAS of record `seq` from `from` to `to` (acq_rel: T2, T5).
template <class Atomic>
inline bool move(Atomic& word, uint64_t seq, TxState from, TxState to) noexcept {
    uint64_t expected = tx_word(seq, from);
    return word.compare_exchange_strong(expected, tx_word(seq, to), std::memory_order_acq_rel,
                                        std::memory_order_acquire);
}

// (T2) owner: an output record open -> prepared. false: a peer aborted it.
template <class Atomic>
inline bool prepare_output(Atomic& word, uint64_t seq) noexcept {
    return move(word, seq, TxState::open, TxState::prepared);
}

// (T3) the commit point: the coordinator open -> committed. seq_cst: one
// total order with every peer's abort of the same word.
template <class Atomic>
inline bool commit_point(Atomic& word, uint64_t seq) noexcept {
    uint64_t expected = tx_word(seq, TxState::open);
    return word.compare_exchange_strong(expected, tx_word(seq, TxState::committed), std::memory_order_seq_cst,
                                        std::memory_order_acquire);
}

// (T2)/(T3) abort of an open record (coordinator or output): by the owner,
// or by a peer once the owner is dead or late. seq_cst like the commit point.
template <class Atomic>
inline bool abort_open(Atomic& word, uint64_t seq) noexcept {
    uint64_t expected = tx_word(seq, TxState::open);
    return word.compare_exchange_strong(expected, tx_word(seq, TxState::aborted), std::memory_order_seq_cst,
                                        std::memory_order_acquire);
}

// What the coordinator's word `w` says about transaction `seq` for an output
// record prepared(s) naming it (T5). `owner_gone`: the coordinator's owner
// is dead or past its deadline, so an open(seq) may be aborted by the caller.
enum class Outcome { committed, aborted, undecided };
constexpr Outcome coordinator_outcome(uint64_t w, uint64_t seq) {
    if (!tx_state_valid(w)) return Outcome::aborted;
    if (tx_seq(w) != seq) return Outcome::aborted;  // (T5) moved on: it was not committed undone
    switch (tx_state(w)) {
        case TxState::committed:
        case TxState::done:
            return Outcome::committed;
        case TxState::open:
            return Outcome::undecided;
        default:
            return Outcome::aborted;
    }
}

// (T6) A resolver that decided record word `decided` and then acquire-loaded
// a prepared claim word (or a frozen lease) of the record's owner: whether
// that claim (lease) belongs to the decided transaction, so it may finish it.
template <class Atomic>
inline bool still_decided(const Atomic& record, uint64_t decided) noexcept {
    return record.load(std::memory_order_acquire) == decided;
}

}  // namespace shmq::tx
