// The status page a chaos producer (chaos_worker.cpp) keeps for the driver
// (chaos_run.cpp): a 4 KiB file both map shared, so what the producer stored
// before a SIGKILL is still there after it.
//
//   word  field            writer    meaning
//   0     pid              producer  its pid, once attached
//   1     acked            producer  messages 0..acked-1 were acknowledged (send/commit returned ok)
//   2     phase            producer  Phase below: where message `seq` is
//   3     seq              producer  the message being sent
//   4     claim_partition  producer  zero-copy path: where the open claim is ...
//   5     claim_offset     producer  ... its offset (the spill sequence when staged) ...
//   6     claim_staged     producer  ... and 1 if it was staged for spilling
//   7     stop             driver    1: finish the current message and exit 0
//   8     dwells           producer  messages sent through a held claim
//
// Each word is written with one 64-bit store. Release: a store publishes the
// stores before it (claim_* before phase=holding, acked before phase=idle),
// so a producer killed between two of them never leaves the later one without
// the earlier; the driver reads with acquire after the producer died.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmq::chaos {

inline constexpr std::size_t kStatusBytes = 4096;

enum class StatusWord : std::size_t {
    pid = 0,
    acked = 1,
    phase = 2,
    seq = 3,
    claim_partition = 4,
    claim_offset = 5,
    claim_staged = 6,
    stop = 7,
    dwells = 8,
};

enum class Phase : uint64_t {
    idle = 0,        // between messages: nothing in flight
    sending = 1,     // inside send()
    claiming = 2,    // inside claim()
    holding = 3,     // claim returned (claim_* set), not yet committed
    committing = 4,  // inside commit()
};

class StatusPage {
public:
    explicit StatusPage(uint64_t* words) : words_(words) {}
    uint64_t load(StatusWord w) const { return std::atomic_ref<uint64_t>(words_[index(w)]).load(std::memory_order_acquire); }
    void store(StatusWord w, uint64_t v) { std::atomic_ref<uint64_t>(words_[index(w)]).store(v, std::memory_order_release); }
    void add(StatusWord w, uint64_t v) { store(w, load(w) + v); }  // single writer
    uint64_t* words() const { return words_; }

private:
    static std::size_t index(StatusWord w) { return static_cast<std::size_t>(w); }
    uint64_t* words_;
};

}  // namespace shmq::chaos
