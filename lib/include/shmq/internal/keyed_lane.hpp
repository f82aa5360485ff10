// Keyed groups (GroupKind::keyed): consumers compete as in a shared group,
// but the messages of one key are delivered one at a time, in offset order.
// A message without a key is ordered against nothing.
//
// A key's messages share a partition (the key picks it), so the rule is per
// partition: offset o, with key k, is delivered only once every earlier
// offset with key k is finished (ACKed or dead-lettered). The lease table
// stays the truth; a lane (layout.hpp, KeyedLane) only indexes it.
//
// Indexing. `next` still means "every offset below it has an entry tagged
// with it" (delivery.hpp). Under the lane lock, the holder takes o = next:
//   (K1) looks k up among the KeyTails (probing at most kKeyProbe entries;
//        a KeyTail whose tail is finished is free for another key; a full
//        window answers "busy" until something there finishes);
//        pred = its tail, if unfinished;
//   (K2) stores lease(o).deadline = kParked | pred, or 0 (no pred), then the
//        KeyTail (hash, then tail = o, release): a holder that dies after
//        this is redone by the next one, which finds tail == o and reads its
//        decision back from the deadline;
//   (K3) with a pred: successor[pred] = o, then CAS acked(t < o) ->
//        retry(o, 0, 0, blocked): a parked entry, counted 0, so the wait
//        costs no delivery attempt. Without: a fresh lease, as in a shared
//        group (deadline 0 before the CAS, the winner's after). Then next.
// Parked entries are retries that no retry scan delivers (deliver_retry and
// the DLQ mover pass reason `blocked` over) and that no revoker touches
// (only leased words are revoked): only a lane-lock holder leases them.
//
// Unparking. Whoever finishes o (keyed_finished: the ACKing or NACKing
// consumer) takes the lane lock, reads s = successor[o], and if lease(s) is
// still parked behind o, pushes s to the ready FIFO and marks its deadline
// kQueued. A delivering holder pops the FIFO before it indexes: s is
// leased (counted 1) if it is still parked and its pred finished. Both run
// under the lock, so an ACK that lands between (K1) and (K3) of a holder is
// seen by the finisher that follows it (it waits for the lock).
// Finishes that run without the lane (shmqd's or a peer's DLQ move, a
// transaction's frozen ACK, a finisher killed before its lock) are caught
// by keyed_repair, which every consumer runs each scan interval: it queues
// every parked entry whose pred is finished. After a dead holder it first
// empties the FIFO and clears every kQueued mark (a pop may have been lost).
//
// Memory ordering: the lane is written under the owner lock (acquire CAS,
// release unlock). The lease words carry the rest: finished(pred) is an
// acquire load of pred's word (acked(pred) or below the floor, loaded with
// acquire first); a parked word is installed and leased by acq_rel CASes.
// Every offset read from the lane is untrusted: checked to lie in
// [floor, next) and against the lease entry it names before any use.
#pragma once

#include <cstdint>

#include "shmq/internal/delivery.hpp"
#include "shmq/internal/layout.hpp"
#include "shmq/internal/partition_view.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::ring {

constexpr uint64_t kParked = uint64_t{1} << 63;  // a parked entry's deadline: [parked | queued | pred:62]
constexpr uint64_t kQueued = uint64_t{1} << 62;  // pushed to the ready FIFO
constexpr uint64_t kParkedPredMask = kQueued - 1;
constexpr uint32_t kKeyProbe = 16;  // KeyTails a lookup looks at, at most

struct KeyedLane {
    layout::KeyedLaneHeader* header = nullptr;
    layout::KeyTail* tails = nullptr;          // [kKeyTailsPerSlot * capacity]
    std::atomic<uint64_t>* successors = nullptr;  // [capacity]
    std::atomic<uint64_t>* ready = nullptr;       // [capacity]
    uint64_t capacity = 0;
};
KeyedLane keyed_lane(const detail::Region& r, uint32_t lane, uint32_t p) noexcept;
// The lane group g holds (GroupEntry::keyed_lane - 1), or -1 if none or out of range.
int32_t group_keyed_lane(const detail::Region& r, uint32_t g) noexcept;
// Empties lane `lane` in every partition. Under the admin lock, before its
// group is joining (groups.cpp), or under each lane's lock (a rewind).
void reset_keyed_lane(const detail::Region& r, uint32_t lane, uint64_t group_state) noexcept;

enum class KeyedDelivery { delivered, none, busy };
// Delivers the oldest ready message of the view's partition, else indexes
// from `next` until one can be leased. busy: the lane lock stayed taken, or
// its key window is full of unfinished keys; the caller tries again soon.
KeyedDelivery deliver_keyed(const DeliveryContext& ctx, const PartitionView& view, const KeyedLane& lane,
                            uint64_t now_mono, uint64_t token, Delivered& out) noexcept;
// Offset o of the view's partition finished (ACKed, or dead-lettered by
// this caller): queues its parked successor and wakes consumers. Waits a
// little for the lane lock, then leaves it to keyed_repair.
void keyed_finished(detail::Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t o,
                    uint64_t token) noexcept;
// Queues every parked entry of [floor, next) whose predecessor finished.
// Returns how many it queued.
uint32_t keyed_repair(detail::Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t token) noexcept;

// For stat: parked messages, keys with one (each parked chain starts
// behind its key's head) and the oldest parked message's publish time.
struct KeyedBlocked {
    uint64_t messages = 0;
    uint64_t keys = 0;
    uint64_t oldest_publish_unix_ns = 0;  // 0: none
};
KeyedBlocked keyed_blocked(const detail::Region& r, uint32_t g, uint32_t p) noexcept;

}  // namespace shmq::ring
