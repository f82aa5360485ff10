// `shmq bench transaction`: the throughput of a pipeline stage (a process
// consuming from queue IN and sending one output per input to queue OUT)
// with shmq::Transaction and without, fed by a producer process and drained
// by a consumer process, all three forked and pinned like `bench throughput`.
// Four variants, in interleaved rounds (the order rotates every round):
//   tx1      one transaction per input: receive, tx.send, tx.ack, tx.commit
//   tx<N>    one transaction per receive_batch(N): tx.send + tx.ack each, one commit
//   plain1   receive, Producer::send, Message::ack
//   plain<N> receive_batch(N), send_batch of the N payloads, ack_all
// Each round creates its two queues afresh. The figure of a round: messages
// the stage finished (committed / acked) per second, from the end of its
// warm-up (a tenth of the round) to its last message. Targets (the issue):
// tx1 >= 0.5 x plain1, tx<N> >= 0.9 x plain<N>, on the medians.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "report.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

inline constexpr double kTxTarget1 = 0.5;        // tx1 / plain1
inline constexpr double kTxTargetBatch = 0.9;    // tx<N> / plain<N>

struct TxBenchConfig {
    std::size_t size = 64;
    uint32_t partitions = 1;
    uint32_t capacity = 4096;  // slots per partition of IN and OUT (capped like `bench throughput`)
    uint64_t count = 5'000'000;  // messages through the stage per variant, over all rounds
    int rounds = 5;
    uint32_t batch = 64;  // inputs per transaction of tx<N>, per receive_batch of plain<N>
    GroupKind kind = GroupKind::exclusive;
    WriterMode writer = WriterMode::exclusive;  // the feeder's producer and the stage's
};

struct TxVariantOutcome {
    std::string name, how;
    uint32_t batch = 1;
    bool tx = false;
    std::vector<double> round_rates;      // messages/s through the stage, one per round
    std::vector<double> round_cpu_pct;    // the stage's CPU time over the measured window, % of one core
    std::vector<double> round_cpu_ns;     // the stage's CPU time per measured message (its spinning included)
    uint64_t messages = 0;                // measured (after warm-up), over all rounds
    double seconds = 0;
    double median() const;
    double min() const;
    double max() const;
};

struct TxBenchResult {
    std::vector<TxVariantOutcome> variants;  // tx1, tx<N>, plain1, plain<N>
    uint32_t depth = 0;
};

TxBenchResult run_transaction_bench(const TxBenchConfig& cfg);

std::string transaction_json(const std::vector<Param>& params, const Machine& m, const TxBenchResult& r);
std::string transaction_table(const std::string& title, const TxBenchResult& r);

}  // namespace shmq::cli::bench
