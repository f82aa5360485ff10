// The ring under the model check: its slots (two in the ring model, up to
// four in the writer model) in the real layout (state word first, claim
// word last), a plain rl::var payload between them, and the
// partition's tail, head, reclaim lock and one group's floor, all ModelAtomic.
// Claim, commit and abort are the real code (shmq/internal/commit_protocol.hpp, run
// on BasicRingRef<ModelAtomic>). The steps around them that live in code
// tied to the region's layout (delivery.hpp, reclaim.cpp, reaper) are
// mirrored here, one function each, with the lines they mirror.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "model_tags.hpp"  // first: the tag twin renames the comparisons the protocol code calls

#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/slot_state.hpp"

#include "model_atomic.hpp"  // last: it includes relacy

namespace shmq::model {

#ifdef SHMQ_MODEL_WEAKEN
// The variant that must fail: the commit (and abort) CAS on the state word
// loses its release, so a consumer's acquire load of committed(o) no longer
// makes the producer's payload write visible.
inline constexpr Ordering kStateOrdering = Ordering::without_release;
#else
inline constexpr Ordering kStateOrdering = Ordering::as_written;
#endif

inline constexpr uint64_t kCapacity = 2;  // the ring model's ring

// The participant id in the claim words of the lap before a wrap test's
// first (no thread of the test).
inline constexpr uint32_t kEarlierProducer = 9;

// One slot of a ring of `Capacity` (a power of two); the state word built
// with `StateOrdering` (the ring model's weakened twin: without_release).
// Its words before the first lap a test runs, [start, start + Capacity): at
// 0, a fresh region's (free for lap -1, ring::initial_state); elsewhere (the
// wrap tests) what a ring that ran up to `start` leaves: the previous lap
// committed, claimed by an earlier producer, consumed.
template <uint64_t Capacity, Ordering StateOrdering>
struct BasicModelSlot {
    explicit BasicModelSlot(uint64_t index, uint64_t start = 0)
        : state(start == 0 ? ring::initial_state(index, Capacity)
                           : ring::slot_state(first_lap(index, start) - Capacity, ring::SlotKind::committed),
                StateOrdering),
          claim(start == 0 ? ring::initial_claim(index, Capacity)
                           : ring::slot_state(first_lap(index, start) - Capacity, ring::SlotKind::claimed,
                                              kEarlierProducer)) {}
    // The offset of [start, start + Capacity) that slot `index` holds.
    static constexpr uint64_t first_lap(uint64_t index, uint64_t start) {
        return start + ((index - start) & (Capacity - 1));
    }

    ModelAtomic state;           // offset 0, as layout::SlotHeader::state
    rl::var<uint64_t> payload;   // the message: plain memory, so relacy flags any unordered access
    ModelAtomic claim;           // the slot's last word
};

using ModelRingRef = ring::BasicRingRef<ModelAtomic>;

// The ring model uses ModelRing (two slots, kStateOrdering); the writer and
// commit-barrier models instantiate their own, always as written (their
// weakened twins weaken something else).
template <uint64_t Capacity = kCapacity, Ordering StateOrdering = kStateOrdering>
struct BasicModelRing {
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "a power of two");
    static constexpr uint64_t capacity = Capacity;
    using Slot = BasicModelSlot<Capacity, StateOrdering>;

    // `start`: the offset the tail, head and floor start at (0: a fresh
    // region; the wrap tests start below a tag boundary, model_tags.hpp).
    explicit BasicModelRing(uint64_t start = 0) : BasicModelRing(start, std::make_index_sequence<Capacity>{}) {}

    ModelRingRef ref() { return {&tail, &head, reinterpret_cast<std::byte*>(&slots[0]), sizeof(Slot), Capacity}; }
    Slot& slot(uint64_t offset) { return slots[offset & (Capacity - 1)]; }

    ModelAtomic tail;
    ModelAtomic head;
    ModelAtomic floor;            // the one group's floor (layout::GroupPartition::floor)
    ModelAtomic reclaim_lock{0};  // layout::PartitionControl::reclaim_lock
    Slot slots[Capacity];

private:
    template <std::size_t... I>
    BasicModelRing(uint64_t start, std::index_sequence<I...>)
        : tail(start), head(start), floor(start), slots{Slot(I, start)...} {
        // BasicRingRef finds the claim word at slot_size - sizeof(Atomic).
        auto* first = reinterpret_cast<std::byte*>(&slots[0]);
        RL_ASSERT(reinterpret_cast<std::byte*>(&slots[0].claim) == first + sizeof(Slot) - sizeof(ModelAtomic));
        RL_ASSERT(reinterpret_cast<std::byte*>(&slots[0].state) == first);
    }
};
using ModelRing = BasicModelRing<>;
using ModelSlot = ModelRing::Slot;

// Mirror of ring::reclaim (lib/src/ring/reclaim.cpp) for one group and no
// journal: try-lock (participants.hpp try_owner_lock, acquire), head
// (relaxed), tail (acquire), the floor (seq_cst), clamp, head.store(release),
// unlock (release). true when head moved.
template <uint64_t C, Ordering O>
inline bool reclaim(BasicModelRing<C, O>& r, uint64_t token) {
    uint64_t unlocked = 0;
    if (!r.reclaim_lock.compare_exchange_strong(unlocked, token, std::memory_order_acquire, std::memory_order_relaxed))
        return false;
    const uint64_t head = r.head.load(std::memory_order_relaxed);
    const uint64_t tail = r.tail.load(std::memory_order_acquire);
    const uint64_t low = r.floor.load(std::memory_order_seq_cst);
    uint64_t target = low < tail ? low : tail;
    if (target > head + C) target = head + C;
    const bool released = target > head;
    if (released) r.head.store(target, std::memory_order_release);  // reclaim.cpp (1)
    uint64_t held = token;
    r.reclaim_lock.compare_exchange_strong(held, 0, std::memory_order_release, std::memory_order_relaxed);
    return released;
}

// A producer's claim (lib/src/producer.cpp claim_slot_slow's attempt()):
// try_claim; when full, reclaim and retry; nothing to reclaim: wait.
template <uint64_t C, Ordering O>
inline uint64_t claim(BasicModelRing<C, O>& r, uint32_t owner, uint64_t& limit) {
    const ModelRingRef ring = r.ref();
    for (;;) {
        uint64_t offset = 0;
        const ring::ClaimResult rc = ring::try_claim(ring, owner, limit, offset);
        if (rc == ring::ClaimResult::claimed) return offset;
        RL_ASSERT(rc == ring::ClaimResult::full);  // corrupt: no valid protocol state gets there
        if (!reclaim(r, owner)) rl::yield(1, $);
    }
}

// What the group's one consumer finds at its cursor: mirror of deliver_fresh
// (shmq/internal/delivery.hpp): acquire-load the state (1), compare its tag.
enum class Found { nothing_yet, message, aborted };

template <uint64_t C, Ordering O>
inline Found look(BasicModelRing<C, O>& r, uint64_t o) {
    const uint64_t s = r.ref().state(o).load(std::memory_order_acquire);  // delivery.hpp (1): pairs with commit
    const int64_t d = ring::slot_tag_distance(s, o);
    RL_ASSERT(d <= 0);  // d > 0: the slot moved past o; only a lapping policy (not modelled) does that
    if (d < 0) return Found::nothing_yet;
    const ring::SlotKind kind = ring::slot_kind(s);
    if (kind == ring::SlotKind::committed) return Found::message;
    if (kind == ring::SlotKind::aborted) return Found::aborted;
    return Found::nothing_yet;  // free or claimed: not published (never a valid state word for o)
}

// The consumer is done with o (read it, or skipped an aborted slot): its ack
// and the floor advance. With one consumer, the lease CAS (delivery.hpp (3))
// and the floor CAS are one thread's program order; the floor CAS (seq_cst,
// delivery.hpp (4)) is what reclaim's seq_cst load pairs with.
template <uint64_t C, Ordering O>
inline void finished(BasicModelRing<C, O>& r, uint64_t o) {
    uint64_t expected = o;
    const bool moved = r.floor.compare_exchange_strong(expected, o + 1, std::memory_order_seq_cst,
                                                       std::memory_order_acquire);
    RL_ASSERT(moved);  // nobody else moves this group's floor
}

// Mirror of ring::open_claimer + ring::abort_dead_claim
// (lib/src/ring/commit_protocol.cpp; not templates, so mirrored): the open
// claim's owner from the state (acquire) and claim (acquire) words, then the
// real finish_claim(aborted). true when this abort won.
template <uint64_t C, Ordering O>
inline bool abort_dead_claim(BasicModelRing<C, O>& r, uint64_t o, uint32_t owner) {
    const ModelRingRef ring = r.ref();
    const uint64_t s = ring.state(o).load(std::memory_order_acquire);
    if (!ring::slot_is(s, o - ring.capacity)) return false;  // published (or not this lap)
    const uint64_t c = ring.claim(o).load(std::memory_order_acquire);
    if (!ring::slot_is(c, o) || ring::slot_kind(c) != ring::SlotKind::claimed || ring::slot_owner(c) != owner)
        return false;
    return ring::finish_claim(ring, o, ring::SlotKind::aborted);
}

}  // namespace shmq::model
