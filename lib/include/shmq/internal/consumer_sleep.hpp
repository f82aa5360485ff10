// Sleeping on many consumers at once, outside the library: the Python
// binding's asyncio helper thread waits with futex_waitv on the doorbells of
// every consumer that has an awaiting areceive (docs/PYTHON.md).
//
// begin() runs receive's sleeper protocol up to the wait (ConsumerCore::
// sleep_begin): try once; announce (consumer_waiters++, seq_cst); snapshot
// the doorbell; set consumer_wanted; the sleeper barrier (commit_barrier.hpp);
// catch up and re-check. Ordering: a producer's commit either precedes the
// re-check (which then delivers it) or reads the waiters count and wanted
// flag after the announcement and rings the bell, which makes a wait for the
// snapshot value return at once (sys/futex.hpp, the doorbell pattern). So a
// caller that waits on ticket.word for ticket.expected misses no message.
// It must call end() after the wait (the waiters count), then begin() again.
// end() works after the Consumer was closed meanwhile.
//
// Like receive, begin() is used by one thread at a time per Consumer (the
// caller serializes it with its other uses).
#pragma once

#include <atomic>
#include <cstdint>

#include "shmq/shmq.hpp"

namespace shmq::detail {

struct ConsumerSleep {
    struct Ticket {
        // Wait while *word == expected (a shared futex word: not FUTEX_PRIVATE).
        const std::atomic<uint32_t>* word = nullptr;
        uint32_t expected = 0;
        int64_t slice_ns = 0;     // wait at most this long: maintenance is due then
        // A registered waiter on the queue's doorbell: end() decrements this
        // count (the region's, so it works after the Consumer is gone).
        std::atomic<uint32_t>* waiters = nullptr;
    };
    // A message, or the error receive(Millis(0)) would give (timeout: wait on
    // `ticket`). On timeout the ticket is either registered on the doorbell,
    // or (prefetch limit reached) names the word settling messages wakes.
    static Result<Message> begin(Consumer& consumer, Ticket& ticket) noexcept;
    // Unregisters (if registered). The region must still be mapped: the
    // caller keeps the Queue (or another handle of it) alive until then.
    static void end(Ticket& ticket) noexcept;
};

}  // namespace shmq::detail
