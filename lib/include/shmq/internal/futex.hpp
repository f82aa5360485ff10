// Futex wait/wake on a 32-bit word of a shared mapping (not FUTEX_PRIVATE:
// waiters and wakers are different processes).
#pragma once

#include <atomic>
#include <cstdint>

namespace shmq::sys {

// Sleeps while *word == expected, at most timeout_ns (< 0: no limit).
// Returns on wake, timeout, signal or value mismatch; callers re-check.
void futex_wait(const std::atomic<uint32_t>& word, uint32_t expected, int64_t timeout_ns) noexcept;
void futex_wake_all(const std::atomic<uint32_t>& word) noexcept;

// Doorbell pattern. Sleeper: waiters++ (seq_cst); seen = bell; re-check the
// condition; futex_wait(bell, seen); waiters--. Waker: make the condition
// true with a seq_cst RMW; if (waiters != 0) { bell++; wake }. The seq_cst
// RMW and the seq_cst waiters load order against the sleeper's increment and
// re-check: either the waker sees the waiter, or the sleeper's re-check sees
// the condition (store-buffering litmus test forbidden under seq_cst).
inline void ring_doorbell(std::atomic<uint32_t>& bell, const std::atomic<uint32_t>& waiters) noexcept {
    if (waiters.load(std::memory_order_seq_cst) != 0) {
        bell.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(bell);
    }
}

// The same with a "wanted" flag, for wakers that may fire on every message:
// the sleeper snapshots the bell, then sets wanted (seq_cst), re-checks and
// sleeps; the first waker to exchange wanted back to 0 rings. A waker that
// exchanged before the sleeper set wanted made its condition true before
// the sleeper's re-check, which therefore sees it; a ring after the
// snapshot makes the futex wait return at once.
inline void ring_doorbell_once(std::atomic<uint32_t>& bell, const std::atomic<uint32_t>& waiters,
                               std::atomic<uint32_t>& wanted) noexcept {
    if (waiters.load(std::memory_order_seq_cst) != 0 && wanted.load(std::memory_order_seq_cst) != 0 &&
        wanted.exchange(0, std::memory_order_seq_cst) != 0) {
        bell.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(bell);
    }
}

}  // namespace shmq::sys
