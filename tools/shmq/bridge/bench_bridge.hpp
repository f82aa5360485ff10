// `shmq bench bridge`: end-to-end latency through a NATS JetStream cluster
// (queue -> bridge out -> stream -> bridge in -> queue) beside the same
// paced producer and consumer on one local queue, in interleaved rounds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../bench/runs.hpp"

namespace shmq::cli::bridge {

struct BenchConfig {
    std::string urls;
    std::size_t size = 64;       // payload bytes (at least 16: sequence and intended send time)
    uint64_t count = 10000;      // messages measured per path
    double rate = 1000;          // messages per second, each timed from its intended send time
    int rounds = 3;
    int64_t replicas = 1;        // of the bench's own stream (deleted afterwards)
};

// outcomes[0] is "bridge", outcomes[1] "local". Throws bench::BenchError.
std::vector<bench::LatencyOutcome> run_bench(const BenchConfig& config);

}  // namespace shmq::cli::bridge
