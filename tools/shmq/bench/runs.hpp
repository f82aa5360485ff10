// The three measurements of `shmq bench`, each run over shmq and the chosen
// baselines in the same process tree, with the same sizes and pinning, in
// interleaved rounds (the order rotates every round) so that the noise of a
// shared machine falls on all of them alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "channels.hpp"
#include "histogram.hpp"

namespace shmq::cli::bench {

// Baselines each bench knows (accepted by name), in report order.
const std::vector<std::string>& known_baselines(Use use);
// What --baselines all runs: the known ones, bare_batch only when batch > 1.
std::vector<std::string> all_baselines(Use use, uint32_t batch);

struct LatencyConfig {
    std::size_t size = 64;
    uint64_t count = 100000;  // measured round trips per transport (over all rounds)
    double rate = 0;          // round trips per second; 0: back to back
    int rounds = 5;
    bool poll = true;         // shmq receiver spins on receive(0ms); false: receive(kForever)
    uint32_t capacity = 1024; // slots per shmq queue (capped at 64 MiB of slots)
    WriterMode writer = WriterMode::exclusive;
    std::vector<std::string> transports;  // "shmq" first, then baselines
};

struct ThroughputConfig {
    std::size_t size = 64;
    int producers = 1, consumers = 1;
    uint32_t partitions = 1;
    GroupKind kind = GroupKind::exclusive;
    AckMode ack = AckMode::none;
    uint32_t batch = 1;
    uint32_t capacity = 4096;  // slots per partition (and depth of the baselines), capped at 64 MiB of slots
    double seconds = 2;        // measured time per transport (over all rounds)
    int rounds = 3;
    WriterMode writer = WriterMode::exclusive;  // exclusive only with one producer
    std::vector<std::string> transports;
};

struct WakeupConfig {
    std::size_t size = 64;
    uint64_t count = 1000;
    uint64_t gap_us = 1000;  // pause before each message (plus up to 25% jitter) so the receiver sleeps
    int rounds = 3;
    std::vector<std::string> transports;
};

struct LatencyOutcome {
    std::string name, how, skipped;
    std::unique_ptr<Histogram> hist = std::make_unique<Histogram>();
    std::vector<uint64_t> round_p50;
    uint32_t depth = 0;
    uint64_t asleep = 0, checked = 0;  // wakeup: receiver seen sleeping just before the publish
};

struct ThroughputOutcome {
    std::string name, how, skipped;
    std::vector<double> round_rates;  // messages per second, one per round
    uint64_t messages = 0;
    double seconds = 0;
    uint32_t depth = 0;
    double median_rate() const;
};

uint32_t pick_depth(std::size_t size, uint32_t wanted);
// A round's share of `total`, spread so that the rounds add up to it.
uint64_t share(uint64_t total, int rounds, int round);
// The median (of the two middle values for an even count); 0 when empty.
double median_of(std::vector<double> v);

std::vector<LatencyOutcome> run_latency(const LatencyConfig& cfg);
std::vector<ThroughputOutcome> run_throughput(const ThroughputConfig& cfg);
std::vector<LatencyOutcome> run_wakeup(const WakeupConfig& cfg);

}  // namespace shmq::cli::bench
