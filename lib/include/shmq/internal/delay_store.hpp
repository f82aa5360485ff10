// The delay store (layout.hpp, DelayStore): delayed messages (SendOptions::
// delay) waiting in the region for their due time, and the protocol of
// adding and moving them. Who moves them and when: delay_mover.hpp.
//
// Structure. A binary heap of (due_unix_ns, seq, entry) over fixed entries,
// plus a stack of free entries. Chosen over a timing wheel: delays have no
// cap (a wheel needs overflow levels or a horizon), the bound is the entry
// count fixed at creation (a heap of it never overflows), the movers only
// ever want the earliest (the top) and the time of the next one (to sleep
// until it), and add and move cost O(log n) under one lock with no tick to
// advance while nothing is due.
//
// Lock. One owner lock word (DelayStoreHeader::lock, an owner token: the
// holder's participant id and entry generation), taken with an acquire CAS
// and released with a release CAS, so each holder sees every write of the
// previous one. Adders wait for it; movers only try it for a bounded spin
// (a mover finding it taken comes back later). A waiter that finds the holder dead (its token
// no longer alive: pidfd/OFD-lock liveness, participants.hpp) breaks it.
//
// Crash argument. The entries' state words are the truth; heap, free list,
// count and next_due are an index of them. A holder stores open = 1 right
// after taking the lock and open = 0 right before releasing it. A taker
// that finds open == 1 knows the previous holder died inside its critical
// section and rebuilds the index from the state words (rebuild(): every
// queued entry into the heap, every other one onto the free list; seq past
// the largest seen). A dead process's stores are all visible to the breaker:
// its death is observed through the kernel (pidfd, the OFD lock it held
// dropped at exit, /proc), whose exit path and lock hand-over order them.
//   (D1) add: take a free entry, write all of it, then state = queued
//        (release), then the heap item and count. Dying before the state
//        store leaves the entry free (the send never returned: not sent);
//        after it, the rebuild finds the message: sent.
//   (D2) move: the top's message is published into its partition (a whole
//        send: claim, write, commit) while its entry stays queued; only then
//        state = free and the heap pops. Dying between the commit and the
//        state store leaves it queued: the next mover publishes it again,
//        a duplicate (at-least-once; a dedup_id on a queue with a dedup
//        window makes the second one a duplicate that is not enqueued).
// Everything read from the region is untrusted: every heap item's entry
// index, every entry's state and lengths are checked, and an index that
// does not check out triggers the same rebuild (counted in `repairs`).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/shmq.hpp"

namespace shmq::detail::delay {

// A message as an entry holds it (views into the entry or the sender's bytes).
struct StoredMessage {
    std::span<const std::byte> payload;  // payload_len bytes as a slot holds them (attribute block first if flags say so)
    std::string_view key;
    std::string_view id;     // dedup id (kept only when the queue has a slot extension)
    uint16_t flags = 0;      // layout::SlotFlags: kSlotAttributes kept verbatim
    uint32_t partition = 0;  // explicit partition + 1; 0: by key or round robin
    uint64_t due_unix_ns = 0;
    uint64_t sent_unix_ns = 0;
};

// A fresh store (Region::initialize): every entry free, nothing due.
void init(Region& r) noexcept;

// Takes the lock (waiting while a live holder has it when `wait`); rebuilds
// after a dead holder. False: not taken (busy, or the queue was deleted).
bool lock(Region& r, uint64_t token, bool wait) noexcept;
void unlock(Region& r, uint64_t token) noexcept;

// Adds `m` (D1) under the lock, which it takes and releases. overloaded when
// the store is full, message_too_large / key_too_large / invalid_argument
// for what an entry cannot hold. `earliest`: it is now the first due (the
// caller wakes whoever sleeps until the next due time); `ring_daemon`: due
// sooner than shmqd planned to look (the caller rings shmqd).
Status add(Region& r, uint64_t token, const StoredMessage& m, bool& earliest, bool& ring_daemon) noexcept;

// Under the lock: the earliest entry if it is due at `now_unix_ns`
// (checked, a rebuild if its index is bad), read into `out`.
bool due_top(Region& r, uint64_t now_unix_ns, StoredMessage& out) noexcept;
// Under the lock: the top was published (D2) or refused for good (`failed`): free it.
void pop_top(Region& r, bool failed) noexcept;
// Under the lock: shmqd plans its next look for `unix_ns` (kNoDue: none).
void set_mover_wake(Region& r, uint64_t unix_ns) noexcept;

// Copies every queued entry out (shmqd's snapshot), under the lock, which
// it tries (false: busy, try again later) and releases. `version`: DelayStoreHeader::version at the copy.
bool export_all(Region& r, uint64_t token, std::vector<RestoredDelayed>& out, uint64_t& version) noexcept;

// Racy reads for stat and /metrics (no lock): queued count and the next due
// time (kNoDue when none). Clamped to the capacity.
struct Summary {
    uint64_t count = 0;
    uint64_t next_due_unix_ns = layout::kNoDue;
};
Summary summary_guess(const Region& r) noexcept;

// The next due time without the lock (kNoDue when none): a hint for sleepers.
inline uint64_t next_due_guess(const Region& r) noexcept {
    return r.delay_capacity() == 0 ? layout::kNoDue
                                   : r.delay_header().next_due_unix_ns.load(std::memory_order_relaxed);
}

}  // namespace shmq::detail::delay
