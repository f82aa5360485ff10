// `shmq bench delay`: how late delayed messages come (SendOptions::delay).
// A fresh queue with a delay store of `count`, served by a private shmqd
// (ShmqdChild); one forked consumer process receives. This process sends
// `count` messages with delays drawn uniformly from 1..max_delay_ms, each
// carrying its index and its due time (stamped just before the send: a
// lower bound of the due time the send computes, by the send's ~1 us); the
// consumer records received - due for each (CLOCK_REALTIME, precise).
// Baseline in the same run: `count` messages without delay, sent paced over
// the same span beside them, each carrying its send time: the same
// consumer's plain latency (wake-up included), the floor lateness stands on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "report.hpp"

namespace shmq::cli::bench {

struct DelayBenchConfig {
    uint64_t count = 20'000;
    uint32_t max_delay_ms = 2'000;
    uint32_t partitions = 2;
    std::size_t size = 64;  // at least 16: index and due time
    std::string shmqd;      // the shmqd binary (empty: find_shmqd's choice)
};

struct Spread {
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

struct DelayBenchResult {
    Spread lateness;  // received - due, delayed messages
    Spread baseline;  // received - sent, undelayed messages
    uint64_t early = 0;     // delayed messages received before their due time
    uint64_t received = 0;  // delayed messages received (of count)
    uint32_t capacity = 0;
};

DelayBenchResult run_delay_bench(const DelayBenchConfig& cfg);

std::string delay_json(const std::vector<Param>& params, const Machine& m, const DelayBenchResult& r);
std::string delay_table(const std::string& title, const DelayBenchResult& r);

}  // namespace shmq::cli::bench
