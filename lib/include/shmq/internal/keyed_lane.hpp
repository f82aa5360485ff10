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
//   (K4) after parking: an RMW of pred's word (fetch_add 0, acq_rel); if it
//        reads acked(pred), o goes to the ready FIFO at once.
//
// Unparking. Whoever finishes o (keyed_finished: the ACKing or NACKing
// consumer), after its finishing RMW of o's word (acq_rel), reads s =
// successor[o]; if s names a later offset it takes the lane lock and, if
// lease(s) is still parked behind o, pushes s to the ready FIFO and marks
// its deadline kQueued. A delivering holder pops the FIFO before it
// indexes: s is leased (counted 1) if it is still parked and its pred
// finished. The finisher does not hold the lock when it finishes, so a
// finish racing a holder's (K1)-(K3) is caught by (K4): the two RMWs of
// pred's word are ordered; if the finisher's comes first, (K4) reads it;
// if (K4)'s comes first, the finisher's acquires it, and with it the
// successor store before it. Either way one of them queues s (the kQueued
// mark, checked under the lock, keeps it to one).
// Finishes that run without the lane (shmqd's or a peer's DLQ move, a
// transaction's frozen ACK, a finisher killed before its lock) are caught
// by keyed_repair, which every consumer runs each scan interval: it queues
// every parked entry whose pred is finished, at its second sighting. After a dead holder it first
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
// Leases up to `max` messages of the view's partition, under one hold of its
// lane lock while it can: ready ones first (oldest unblocked), then by
// indexing from `next`. Returns how many (out[0, n)). `how`: delivered (n >
// 0); none; busy: the lane lock stayed taken, or its key window is full of
// unfinished keys: the caller tries again soon.
uint32_t deliver_keyed(const DeliveryContext& ctx, const PartitionView& view, const KeyedLane& lane,
                       uint64_t now_mono, uint64_t token, Delivered* out, uint32_t max, KeyedDelivery& how) noexcept;
// Offset o of the view's partition finished (ACKed, or dead-lettered by
// this caller): queues its parked successor and wakes consumers. Waits a
// little for the lane lock, then leaves it to keyed_repair.
void keyed_finished(detail::Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t o,
                    uint64_t token) noexcept;
// Queues every parked entry of [floor, next) whose predecessor finished and
// that was found so at the caller's previous call too (`suspects`: what this
// call found, for the next): a finisher between its finish and its queueing
// is not overtaken. Returns how many it queued (the lane's `rescued`).
struct KeyedSuspects {
    static constexpr uint32_t kMax = 64;  // beyond: queued on first sight
    uint64_t offsets[kMax];
    uint32_t n = 0;
};
uint32_t keyed_repair(detail::Region& r, const PartitionView& view, const KeyedLane& lane, uint64_t token,
                      KeyedSuspects& suspects) noexcept;

// For stat: parked messages, keys with one (each parked chain starts
// behind its key's head) and the oldest parked message's publish time.
struct KeyedBlocked {
    uint64_t messages = 0;
    uint64_t keys = 0;
    uint64_t oldest_publish_unix_ns = 0;  // 0: none
};
KeyedBlocked keyed_blocked(const detail::Region& r, uint32_t g, uint32_t p) noexcept;

}  // namespace shmq::ring
