// Moving due delayed messages (shmq/internal/delay_store.hpp) into their
// partitions: each is published exactly as a send would publish it (claim,
// write, commit through a producer, under the queue's on_full policy and
// writer modes, its key, explicit partition and dedup id applied then), so
// it takes its offset, and its publish time, when it enters the partition.
//
// Who moves:
//   - shmqd (WatchedQueue), at each due time: it sleeps until the next one,
//     and an add that comes due sooner rings it (DelayStoreHeader::mover_wake_unix_ns);
//   - a producer, before its sends, and a consumer, in its receive loop
//     (each maintenance pass, and its sleeps end by the next due time),
//     when no shmqd serves the queue (its lock byte is free) or the earliest
//     message is overdue by more than kHelpAfterNs (shmqd stuck or behind).
// Movers only try the store's lock (a bounded spin, ~0.1 ms): none ever
// waits for another mover, and shmqd never blocks on it.
//
// A due message whose partition is full (on_full block or reject: the
// send answers timeout / overloaded with timeout 0) or held by an
// exclusive producer (writer_busy) stays in the store, first in line, and
// is tried again kBlockedRetryNs later: it is never dropped. A message
// the partition refuses for good (a damaged entry) is dropped and counted
// (DelayStoreHeader::failed).
#pragma once

#include <cstdint>
#include <memory>

#include "shmq/internal/region.hpp"

namespace shmq::detail {

struct ProducerCore;
// A producer's core with its participant attached (Queue::producer's, and movers'). Throws Error.
ProducerCore* make_producer_core(std::shared_ptr<Region> region, WriterMode mode);

namespace delay {

constexpr uint64_t kHelpAfterNs = 50'000'000;    // overdue by this: peers move even with shmqd running
constexpr uint64_t kBlockedRetryNs = 5'000'000;  // a due message whose partition had no room: try again then
constexpr uint32_t kMovesPerHold = 256;          // moves per hold of the lock (adders wait for it)
constexpr uint64_t kDetachAfterNs = 1'000'000'000;  // a Mover keeps its producer attached while the next is this close

struct MoveReport {
    uint32_t moved = 0;
    uint32_t failed = 0;
    bool blocked = false;  // the top is due but its partition had no room: retry in kBlockedRetryNs
    bool busy = false;     // the lock was taken (another mover): retry soon
    bool more = false;     // kMovesPerHold moved and more are due
    uint64_t next_due_unix_ns = UINT64_MAX;  // the earliest left (kNoDue: none)
};

// Moves what is due at `now_unix_ns` through `core` (its participant owns
// the lock). `plan`: shmqd's run: records when it looks next (mover_wake).
MoveReport move_due(ProducerCore& core, uint64_t now_unix_ns, bool plan) noexcept;

// Whether a peer (producer, consumer) should move now: something is due,
// and no shmqd serves the queue or the earliest is overdue by kHelpAfterNs.
// Costs a clock read, and a lock probe (a syscall) only when something is due.
bool peer_should_move(const Region& r, uint64_t now_unix_ns) noexcept;
// True while a shmqd holds the queue's daemon lock byte.
bool daemon_serving(const Region& r) noexcept;

// A mover with a producer of its own (shmqd's, a consumer's): a participant
// of role producer, shared writer mode, attached when something is due and
// kept while the next is due within kDetachAfterNs (an attached producer
// keeps the queue's real ones from the automatic writer role: they are not
// alone). Not thread-safe; one per user.
class Mover {
public:
    // plan_token: shmqd's own (admin) participant token, which takes the
    // lock to record "nothing to wake for" while its producer is detached; 0: a peer.
    explicit Mover(std::shared_ptr<Region> region, uint64_t plan_token = 0) noexcept
        : region_(std::move(region)), plan_token_(plan_token) {}
    ~Mover();
    Mover(const Mover&) = delete;
    Mover& operator=(const Mover&) = delete;
    // Moves what is due; with `plan` (shmqd) records when it looks next.
    // busy when the lock was taken or no producer could be attached (the
    // lease table full): try again soon.
    MoveReport run(uint64_t now_unix_ns, bool plan) noexcept;

private:
    void detach_if_idle(uint64_t now_unix_ns, uint64_t next_due_unix_ns) noexcept;
    std::shared_ptr<Region> region_;
    uint64_t plan_token_;
    ProducerCore* core_ = nullptr;
};

}  // namespace delay
}  // namespace shmq::detail
