// `shmq bench publish`: the cost of publishing through an exchange beside a
// plain send, in one process, in the same run. Two variants, in interleaved
// rounds (the order alternates every round):
//   send     Producer::send of each message to queue Q
//   publish  Publisher::publish of each message through a direct exchange X
//            bound to a queue Q' with the routing key used (one target: the
//            route cache's hit path, then the same Producer::send)
// Each round creates its queue (and the exchange) afresh. Calls run in
// chunks of 256, each timed alone; between chunks a consumer in the same
// thread takes and ACKs what was sent (not timed), so no call waits for room
// and the ring (1024 slots) wraps, its pages warm after the warm-up. The
// figure of a round: ns per call over the timed chunks after a warm-up of a
// tenth. Target: the median of publish <= 1.3 x the median of send.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "report.hpp"

namespace shmq::cli::bench {

inline constexpr double kPublishTarget = 1.3;  // publish / send, ns per call

struct PublishBenchConfig {
    std::size_t size = 64;
    uint64_t count = 100'000;  // calls per variant per round
    int rounds = 7;
};

struct PublishVariant {
    std::string name;
    std::vector<double> round_ns;  // ns per call, one per round
    double median() const;
};

struct PublishBenchResult {
    PublishVariant send, publish;
    // Three queues: a plain send to each (not atomic) beside one publish
    // through a fanout exchange bound to the three (all or nothing).
    PublishVariant send3, fanout3;
    double ratio() const;         // publish median / send median
    double fanout_ratio() const;  // fanout3 median / send3 median
};

PublishBenchResult run_publish_bench(const PublishBenchConfig& cfg);

std::string publish_json(const std::vector<Param>& params, const Machine& m, const PublishBenchResult& r);
std::string publish_table(const std::string& title, const PublishBenchResult& r);

}  // namespace shmq::cli::bench
