// The busy traffic of `shmq bench daemon`: one producer process sends a
// burst of kBusyBurst 64-byte messages to every busy queue each
// kBusyPeriodMs; one consumer process drains them all (group "bench",
// shared, each message ACKed), polling the queues in turn. Two processes
// for any number of queues, so the load on the machine grows with the
// message rate, not with the number of processes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace shmq::cli::bench {

class BusyLoad {
public:
    // Starts both processes and waits until each has attached to every queue.
    explicit BusyLoad(const std::vector<std::string>& queues);
    ~BusyLoad() = default;  // kills whatever still runs
    BusyLoad(const BusyLoad&) = delete;
    BusyLoad& operator=(const BusyLoad&) = delete;

    uint64_t received() const noexcept { return counters_->received.load(std::memory_order_relaxed); }
    // Stops the producer and waits until the consumer has ACKed all it sent;
    // throws BenchError if a process failed or the drain takes over 30 s.
    void stop();
    // Throws BenchError if a process failed.
    void check() { kids_.check(); }

private:
    struct Counters {
        std::atomic<uint64_t> sent{0}, received{0};
        std::atomic<int> attached{0}, stop{0}, producer_done{0};
    };
    void produce(const std::vector<std::string>& queues);
    void consume(const std::vector<std::string>& queues);
    Shared<ChildError> errors_;
    Children kids_{errors_.get()};
    Shared<Counters> counters_;
};

}  // namespace shmq::cli::bench
