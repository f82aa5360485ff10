// `shmq bench keyed`: how fast consumer processes drain a backlog through a
// keyed group (one message of a key at a time, in order) beside a shared
// group (no order) draining the same backlog, in the same run. Per round and
// variant, on a fresh queue of one partition: the bench process sends
// `backlog` messages, each with a key drawn uniformly from `keys` (and, with
// hot_pct, that share of them with one key sent first: a backlog of one key
// ahead of the others; keys pick partitions), then releases `consumers` forked consumer processes,
// which receive_batch(batch) and ack_all until the queue stays empty. The
// figure of a round: backlog / (last ACK - release), messages per second.
// Variants alternate which goes first every round. Capacity: per partition,
// a power of two that holds the whole backlog.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "report.hpp"

namespace shmq::cli::bench {

struct KeyedBenchConfig {
    std::size_t size = 64;
    uint32_t keys = 1000;
    uint32_t partitions = 1;
    uint64_t backlog = 100'000;
    uint32_t consumers = 3;
    uint32_t batch = 16;
    uint32_t hot_pct = 0;  // % of the backlog with one key, sent before the rest
    int rounds = 3;
};

struct KeyedVariant {
    std::string name;
    std::vector<double> round_rates;  // messages/s, one per round
    double median() const;
};

struct KeyedBenchResult {
    KeyedVariant shared, keyed;
    uint32_t capacity = 0;
    double ratio() const;  // keyed median / shared median
};

KeyedBenchResult run_keyed_bench(const KeyedBenchConfig& cfg);

std::string keyed_json(const std::vector<Param>& params, const Machine& m, const KeyedBenchResult& r);
std::string keyed_table(const std::string& title, const KeyedBenchResult& r);

}  // namespace shmq::cli::bench
