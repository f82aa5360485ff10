// Micro-benchmarks of the hot operations (Google Benchmark), all through the
// public API:
//   single thread, no contention: the cost of each step alone: send,
//     claim+commit, receive+ack, at-most-once receive, their batch variants
//     (send_batch, receive_batch + ack_all), a full send/receive/ack, a
//     pipeline stage's batch plain and in a Transaction, and
//     hash-to-partition; plus a plain store and a CAS for scale;
//   two threads (a producer and a consumer, standing in for two processes):
//     streaming with per-message ACK, at-most-once, claim+commit, and batches.
// And one internal step, shmqd's: its integrity check of a clean region
// (shmq/internal/integrity.hpp), items_per_second counting cells checked.
// Counters: items_per_second (messages/s) and bytes_per_second (payload).
// The one-operation benchmarks time chunks of kChunk operations with manual
// timing and refill or drain the queue outside the timed part.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "shmq/internal/integrity.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/shmq.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kChunk = 256;          // operations per timed chunk
constexpr uint32_t kCapacity = 4096;  // slots per partition

std::string unique_name(const char* tag) {
    static std::atomic<int> counter{0};
    return std::string("microbench-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

struct BenchQueue {
    std::string name;
    shmq::Queue queue;
    explicit BenchQueue(uint32_t max_message = 64, uint32_t capacity = kCapacity, uint32_t partitions = 1)
        : name(unique_name("q")), queue(create(name, max_message, capacity, partitions)) {}
    static shmq::Queue create(const std::string& name, uint32_t max_message, uint32_t capacity, uint32_t partitions) {
        shmq::QueueOptions o;
        o.max_message = max_message;
        o.capacity = capacity;
        o.partitions = partitions;
        o.max_groups = 1;
        return shmq::Queue::create(name, o);
    }
    ~BenchQueue() {
        try {
            shmq::Queue::remove(name);
        } catch (...) {
        }
    }
};

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void set_counters(benchmark::State& state, int64_t items, std::size_t size) {
    state.SetItemsProcessed(items);
    state.SetBytesProcessed(items * static_cast<int64_t>(size));
}

// Takes `n` messages at most once (drains what a timed send put in).
void drain(shmq::Consumer& c, int n) {
    for (int i = 0; i < n; ++i) (void)c.receive(0ms);
}

// ---- single thread: one operation at a time --------------------------------

void BM_Send(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    BenchQueue q(static_cast<uint32_t>(size));
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
    auto p = q.queue.producer();
    const std::string payload(size, 'x');
    for (auto _ : state) {
        const auto t0 = Clock::now();
        for (int i = 0; i < kChunk; ++i)
            if (!p.send(payload).ok()) state.SkipWithError("send");
        state.SetIterationTime(seconds_since(t0));
        drain(c, kChunk);
    }
    set_counters(state, state.iterations() * kChunk, size);
}
BENCHMARK(BM_Send)->Arg(16)->Arg(64)->Arg(1024)->Arg(4096)->UseManualTime();

// send with a dedup id (shmq/internal/dedup.hpp) beside BM_Send/64: arg 0, a
// new id each time (lookup, add, claimed, committed); arg 1, always the
// same id (a lookup that finds it: nothing enqueued).
void BM_SendDedup(benchmark::State& state) {
    const bool duplicate = state.range(0) != 0;
    const std::string name = unique_name("dedup");
    shmq::QueueOptions o;
    o.max_message = 64;
    o.capacity = kCapacity;
    o.max_groups = 1;
    o.dedup_window_ms = 60'000;
    o.dedup_capacity = 1u << 19;  // above the benchmark's sends: Iterations below
    auto queue = shmq::Queue::create(name, o);
    {
        auto c = queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
        auto p = queue.producer();
        const std::string payload(64, 'x');
        std::vector<std::string> ids(kChunk);
        uint64_t next = 0;
        for (auto _ : state) {
            for (auto& id : ids) id = duplicate ? "order-0" : "order-" + std::to_string(next++);
            const auto t0 = Clock::now();
            for (int i = 0; i < kChunk; ++i)
                if (!p.send(payload, {.dedup_id = ids[i]}).ok()) state.SkipWithError("send");
            state.SetIterationTime(seconds_since(t0));
            drain(c, kChunk);
        }
        set_counters(state, state.iterations() * kChunk, payload.size());
    }
    shmq::Queue::remove(name);
}
BENCHMARK(BM_SendDedup)->Arg(0)->Arg(1)->ArgNames({"duplicate"})->Iterations(1500)->UseManualTime();

void BM_ClaimCommit(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    BenchQueue q(static_cast<uint32_t>(size));
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
    auto p = q.queue.producer();
    for (auto _ : state) {
        const auto t0 = Clock::now();
        for (int i = 0; i < kChunk; ++i) {
            auto claim = p.claim(size);
            if (!claim) {
                state.SkipWithError("claim");
                break;
            }
            std::memset(claim->data().data(), 'y', size);
            if (!claim->commit().ok()) state.SkipWithError("commit");
        }
        state.SetIterationTime(seconds_since(t0));
        drain(c, kChunk);
    }
    set_counters(state, state.iterations() * kChunk, size);
}
BENCHMARK(BM_ClaimCommit)->Arg(16)->Arg(64)->Arg(1024)->Arg(4096)->UseManualTime();

void BM_SendBatch(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const std::size_t size = 64;
    BenchQueue q(size);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
    auto p = q.queue.producer();
    const std::string payload(size, 'x');
    const std::vector<std::span<const std::byte>> spans(batch, bytes_of(payload));
    const std::size_t calls = std::max<std::size_t>(1, kChunk / batch);
    for (auto _ : state) {
        const auto t0 = Clock::now();
        for (std::size_t i = 0; i < calls; ++i)
            if (p.send_batch(spans).count != batch) state.SkipWithError("send_batch");
        state.SetIterationTime(seconds_since(t0));
        drain(c, static_cast<int>(calls * batch));
    }
    set_counters(state, state.iterations() * static_cast<int64_t>(calls * batch), size);
}
BENCHMARK(BM_SendBatch)->Arg(8)->Arg(64)->Arg(256)->UseManualTime();

// Receive (copying the payload out) and settle; the queue is refilled untimed.
template <bool AtMostOnce>
void receive_one_by_one(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    BenchQueue q(static_cast<uint32_t>(size));
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = AtMostOnce});
    auto p = q.queue.producer();
    const std::string payload(size, 'x');
    std::vector<std::byte> out(size);
    for (auto _ : state) {
        for (int i = 0; i < kChunk; ++i)
            if (!p.send(payload).ok()) state.SkipWithError("send");
        const auto t0 = Clock::now();
        for (int i = 0; i < kChunk; ++i) {
            auto m = c.receive(0ms);
            if (!m) {
                state.SkipWithError("receive");
                break;
            }
            std::memcpy(out.data(), m->data().data(), m->data().size());
            if constexpr (!AtMostOnce)
                if (!m->ack().ok()) state.SkipWithError("ack");
        }
        state.SetIterationTime(seconds_since(t0));
    }
    benchmark::DoNotOptimize(out.data());
    set_counters(state, state.iterations() * kChunk, size);
}
void BM_ReceiveAck(benchmark::State& state) { receive_one_by_one<false>(state); }
void BM_ReceiveAtMostOnce(benchmark::State& state) { receive_one_by_one<true>(state); }
BENCHMARK(BM_ReceiveAck)->Arg(16)->Arg(64)->Arg(1024)->Arg(4096)->UseManualTime();
BENCHMARK(BM_ReceiveAtMostOnce)->Arg(64)->Arg(1024)->UseManualTime();

void BM_ReceiveBatchAckAll(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const std::size_t size = 64;
    BenchQueue q(size);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .max_in_flight = static_cast<uint32_t>(std::max<std::size_t>(256, batch))});
    auto p = q.queue.producer();
    const std::string payload(size, 'x');
    const std::size_t calls = std::max<std::size_t>(1, kChunk / batch);
    std::vector<shmq::Message> msgs(batch);
    std::vector<std::byte> out(size);
    for (auto _ : state) {
        for (std::size_t i = 0; i < calls * batch; ++i)
            if (!p.send(payload).ok()) state.SkipWithError("send");
        const auto t0 = Clock::now();
        for (std::size_t i = 0; i < calls; ++i) {
            if (c.receive_batch(msgs, 0ms).count != batch) {
                state.SkipWithError("receive_batch");
                break;
            }
            for (auto& m : msgs) std::memcpy(out.data(), m.data().data(), m.data().size());
            if (shmq::ack_all(msgs) != batch) state.SkipWithError("ack_all");
        }
        state.SetIterationTime(seconds_since(t0));
    }
    benchmark::DoNotOptimize(out.data());
    set_counters(state, state.iterations() * static_cast<int64_t>(calls * batch), size);
}
BENCHMARK(BM_ReceiveBatchAckAll)->Arg(8)->Arg(64)->Arg(256)->UseManualTime();

// `shmq bench transaction`'s stage in one thread, no other core: batches of 64
// taken from IN, sent on to OUT and finished, plain (arg 0: send_batch,
// ack_all) or in one Transaction each (arg 1: send_batch, ack_all, commit).
// Feeding IN and draining OUT are untimed. What a transaction's bookkeeping
// costs per message beside the plain stage, without cross-core traffic.
void BM_StageBatch(benchmark::State& state) {
    const bool transactional = state.range(0) != 0;
    constexpr std::size_t kBatch = 64;
    BenchQueue in(64), out(64);
    auto feeder = in.queue.producer({.writer = shmq::WriterMode::exclusive});
    auto stage_in = in.queue.consumer("stage", {.kind = shmq::GroupKind::exclusive, .max_in_flight = 256});
    auto stage_out = out.queue.producer({.writer = shmq::WriterMode::exclusive});
    auto drain = out.queue.consumer("drain", {.kind = shmq::GroupKind::exclusive, .max_in_flight = 256, .at_most_once = true});
    shmq::Transaction tx(stage_in);
    const std::string payload(64, 'x');
    const std::vector<std::span<const std::byte>> feed(kBatch, std::as_bytes(std::span(payload)));
    std::vector<std::span<const std::byte>> outputs(kBatch);
    std::vector<shmq::Message> msgs(kBatch), drained(kBatch);
    const std::size_t calls = kChunk / kBatch;
    for (auto _ : state) {
        for (std::size_t i = 0; i < calls; ++i)
            if (feeder.send_batch(feed).count != kBatch) state.SkipWithError("feed");
        double timed = 0;
        for (std::size_t i = 0; i < calls; ++i) {
            const auto t0 = Clock::now();
            if (stage_in.receive_batch(msgs, 0ms).count != kBatch) state.SkipWithError("receive_batch");
            for (std::size_t k = 0; k < kBatch; ++k) outputs[k] = msgs[k].data();
            bool ok;
            if (transactional)
                ok = tx.send_batch(stage_out, outputs).count == kBatch && tx.ack_all(msgs).count == kBatch && tx.commit().ok();
            else
                ok = stage_out.send_batch(outputs).count == kBatch && shmq::ack_all(msgs) == kBatch;
            timed += seconds_since(t0);
            if (!ok) state.SkipWithError("stage");
            if (drain.receive_batch(drained, 0ms).count != kBatch) state.SkipWithError("drain");
        }
        state.SetIterationTime(timed);
    }
    set_counters(state, state.iterations() * static_cast<int64_t>(calls * kBatch), 64);
}
BENCHMARK(BM_StageBatch)->Arg(0)->Arg(1)->ArgNames({"transaction"})->UseManualTime();

// ---- single thread: a whole trip ----------------------------------------------

void BM_SendReceiveAck(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    BenchQueue q(static_cast<uint32_t>(size));
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive});
    auto p = q.queue.producer();
    std::string payload(size, 'x');
    for (auto _ : state) {
        if (!p.send(payload).ok()) state.SkipWithError("send");
        auto m = c.receive(0ms);
        if (!m || !m->ack().ok()) state.SkipWithError("receive/ack");
    }
    set_counters(state, state.iterations(), size);
}
BENCHMARK(BM_SendReceiveAck)->Arg(64)->Arg(1024);

void BM_BatchSendThenReceiveAck(benchmark::State& state) {
    const int batch = static_cast<int>(state.range(0));
    BenchQueue q(64, kCapacity);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .max_in_flight = kCapacity});
    auto p = q.queue.producer();
    std::string payload(64, 'x');
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i)
            if (!p.send(payload).ok()) state.SkipWithError("send");
        for (int i = 0; i < batch; ++i) {
            auto m = c.receive(0ms);
            if (!m || !m->ack().ok()) state.SkipWithError("receive/ack");
        }
    }
    set_counters(state, state.iterations() * batch, 64);
}
BENCHMARK(BM_BatchSendThenReceiveAck)->Arg(64)->Arg(1024);

void BM_ClaimCommitReceiveAtMostOnce(benchmark::State& state) {
    BenchQueue q(64);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
    auto p = q.queue.producer();
    for (auto _ : state) {
        auto claim = p.claim(64);
        if (!claim) {
            state.SkipWithError("claim");
            break;
        }
        std::memset(claim->data().data(), 'y', 64);
        if (!claim->commit().ok()) state.SkipWithError("commit");
        auto m = c.receive(0ms);
        if (!m) state.SkipWithError("receive");
        else benchmark::DoNotOptimize(m->data().data());
    }
    set_counters(state, state.iterations(), 64);
}
BENCHMARK(BM_ClaimCommitReceiveAtMostOnce);

// ---- hash to partition ------------------------------------------------------

void BM_PartitionForKey(benchmark::State& state) {
    std::string key(static_cast<std::size_t>(state.range(0)), 'k');
    uint32_t sum = 0;
    for (auto _ : state) {
        key[0] = static_cast<char>('0' + (sum & 7));
        sum += shmq::partition_for_key(key, 64);
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, state.iterations(), key.size());
}
BENCHMARK(BM_PartitionForKey)->Arg(8)->Arg(16)->Arg(64);

void BM_SendKeyed(benchmark::State& state) {
    const std::size_t size = 64;
    BenchQueue q(64, kCapacity, 8);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::shared, .at_most_once = true});
    auto p = q.queue.producer();
    const std::string payload(size, 'x');
    std::string key = "user-0000";
    for (auto _ : state) {
        const auto t0 = Clock::now();
        for (int i = 0; i < kChunk; ++i) {
            key[5] = static_cast<char>('0' + (i & 7));
            if (!p.send(payload, {.key = key}).ok()) state.SkipWithError("send");
        }
        state.SetIterationTime(seconds_since(t0));
        drain(c, kChunk);
    }
    set_counters(state, state.iterations() * kChunk, size);
}
BENCHMARK(BM_SendKeyed)->UseManualTime();  // 8 partitions, 8 keys

// Baselines for the claim protocol's cost: a plain store versus a CAS on a
// private line (what a single-producer fast path would save per message).
void BM_BaselinePlainStore(benchmark::State& state) {
    alignas(64) std::atomic<uint64_t> word{0};
    uint64_t i = 0;
    for (auto _ : state) word.store(++i, std::memory_order_release);
    benchmark::DoNotOptimize(word.load());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselinePlainStore);

void BM_BaselineCas(benchmark::State& state) {
    alignas(64) std::atomic<uint64_t> word{0};
    uint64_t i = 0;
    for (auto _ : state) {
        uint64_t expected = i;
        word.compare_exchange_strong(expected, ++i, std::memory_order_acq_rel);
    }
    benchmark::DoNotOptimize(word.load());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineCas);

// shmqd's integrity check on a clean queue with one joined group, a tick's
// budget a call (daemon/watched_queue.cpp: kIntegrityCellsPerTick): the ns
// per cell that sets how many cells a second shmqd can afford per queue.
// Args: capacity, partitions (max message 64, other options default but
// max_groups 1, as in BenchQueue). Counter cells_per_pass: IntegrityCheck::cells().
void BM_IntegrityCheck(benchmark::State& state) {
    constexpr uint64_t kBudget = 4096;
    BenchQueue q(64, static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)));
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::shared});
    {
        auto p = q.queue.producer();
        for (int i = 0; i < 32; ++i) (void)p.send("a message of a few bytes");  // half the smaller ring
    }
    const auto region = shmq::detail::Region::open(q.name, shmq::detail::Access::read_only);
    shmq::detail::IntegrityCheck check(*region);
    for (auto _ : state)
        if (auto damage = check.run(kBudget)) state.SkipWithError(damage->c_str());
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBudget));
    state.counters["cells_per_pass"] = static_cast<double>(check.cells());
}
BENCHMARK(BM_IntegrityCheck)->Args({64, 1})->Args({4096, 4});

// The same on Arg(0) small queues (capacity 64, 1 partition) checked in turn,
// one whole pass each, as shmqd watching many idle queues does: once their
// regions outgrow the caches, each cell's lines come from memory.
void BM_IntegrityCheckManyQueues(benchmark::State& state) {
    struct Watched {
        BenchQueue q{64, 64, 1};
        shmq::Consumer c = q.queue.consumer("g", {.kind = shmq::GroupKind::shared});
        std::shared_ptr<shmq::detail::Region> region = shmq::detail::Region::open(q.name, shmq::detail::Access::read_only);
        shmq::detail::IntegrityCheck check{*region};
    };
    std::vector<std::unique_ptr<Watched>> queues;
    for (int64_t i = 0; i < state.range(0); ++i) queues.push_back(std::make_unique<Watched>());
    const uint64_t pass = queues[0]->check.cells();
    std::size_t next = 0;
    for (auto _ : state) {
        if (auto damage = queues[next]->check.run(pass)) state.SkipWithError(damage->c_str());
        if (++next == queues.size()) next = 0;
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(pass));
    state.counters["cells_per_pass"] = static_cast<double>(queues[0]->check.cells());
}
BENCHMARK(BM_IntegrityCheckManyQueues)->Arg(1000);

// ---- two threads: producer (thread 0) -> consumer (thread 1) -----------------
// The queue is made before the threads start (Setup) and removed after
// (Teardown). Both threads run the same number of iterations, so each run
// ends with the queue empty. Both threads count the N messages they moved;
// Google Benchmark sums counters and times over threads, so items_per_second
// is 2N / 2T: messages delivered per second of real time.

std::string g_two_name;
constexpr auto kTwoTimeout = std::chrono::milliseconds(10000);

void two_setup(const benchmark::State& state) {
    g_two_name = unique_name("two");
    shmq::QueueOptions o;
    o.max_message = static_cast<uint32_t>(state.range(0));
    o.capacity = kCapacity;
    o.max_groups = 1;
    auto q = shmq::Queue::create(g_two_name, o);
    (void)q.consumer("g", {.kind = shmq::GroupKind::exclusive});  // the group exists before any message
}

void two_teardown(const benchmark::State&) {
    try {
        shmq::Queue::remove(g_two_name);
    } catch (...) {
    }
}

enum class Settle { ack_each, at_most_once, ack_all };

// Messages per iteration: state.range(1) (1: one call per message; more:
// send_batch / receive_batch of that many).
template <Settle How, bool ZeroCopy = false>
void two_threads(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto batch = static_cast<std::size_t>(state.range(1));
    auto q = shmq::Queue::open(g_two_name);
    if (state.thread_index() == 0) {
        auto p = q.producer();
        const std::string payload(size, 'x');
        const std::vector<std::span<const std::byte>> spans(batch, bytes_of(payload));
        for (auto _ : state) {
            if constexpr (ZeroCopy) {
                auto claim = p.claim(size);
                if (!claim) {
                    state.SkipWithError("claim");
                    break;
                }
                std::memset(claim->data().data(), 'y', size);
                if (!claim->commit().ok()) state.SkipWithError("commit");
            } else if (batch == 1) {
                if (!p.send(payload).ok()) state.SkipWithError("send");
            } else if (p.send_batch(spans).count != batch) {
                state.SkipWithError("send_batch");
            }
        }
        set_counters(state, state.iterations() * static_cast<int64_t>(batch), size);
        return;
    }
    auto c = q.consumer("g", {.kind = shmq::GroupKind::exclusive,
                              .max_in_flight = static_cast<uint32_t>(std::max<std::size_t>(256, batch)),
                              .at_most_once = How == Settle::at_most_once});
    std::vector<shmq::Message> msgs(batch);
    std::vector<std::byte> out(size);
    for (auto _ : state) {
        for (std::size_t got = 0; got < batch;) {
            const shmq::BatchResult r = batch == 1 ? [&] {
                auto m = c.receive(kTwoTimeout);
                if (!m) return shmq::BatchResult{0, m.status()};
                msgs[0] = std::move(m.value());
                return shmq::BatchResult{1, {}};
            }()
                                                   : c.receive_batch(std::span(msgs).subspan(0, batch - got), kTwoTimeout);
            if (!r.ok()) {
                state.SkipWithError(r.status.message());
                break;
            }
            const std::size_t n = r.count;
            const std::span<shmq::Message> taken(msgs.data(), n);
            for (auto& m : taken) std::memcpy(out.data(), m.data().data(), m.data().size());
            if constexpr (How == Settle::ack_each) {
                for (auto& m : taken)
                    if (!m.ack().ok()) state.SkipWithError("ack");
            } else if constexpr (How == Settle::ack_all) {
                if (shmq::ack_all(taken) != n) state.SkipWithError("ack_all");
            } else {
                for (auto& m : taken) m = shmq::Message();
            }
            got += n;
        }
    }
    benchmark::DoNotOptimize(out.data());
    set_counters(state, state.iterations() * static_cast<int64_t>(batch), size);
}

void BM_TwoThreads_SendReceiveAck(benchmark::State& s) { two_threads<Settle::ack_each>(s); }
void BM_TwoThreads_SendReceiveAtMostOnce(benchmark::State& s) { two_threads<Settle::at_most_once>(s); }
void BM_TwoThreads_ClaimCommitReceiveAtMostOnce(benchmark::State& s) { two_threads<Settle::at_most_once, true>(s); }
void BM_TwoThreads_BatchAckAll(benchmark::State& s) { two_threads<Settle::ack_all>(s); }
void BM_TwoThreads_BatchAtMostOnce(benchmark::State& s) { two_threads<Settle::at_most_once>(s); }

#define SHMQ_TWO_THREADS(fn) \
    BENCHMARK(fn)->Threads(2)->UseRealTime()->Setup(two_setup)->Teardown(two_teardown)->ArgNames({"size", "batch"})

SHMQ_TWO_THREADS(BM_TwoThreads_SendReceiveAck)->Args({64, 1})->Args({1024, 1});
SHMQ_TWO_THREADS(BM_TwoThreads_SendReceiveAtMostOnce)->Args({64, 1})->Args({1024, 1});
SHMQ_TWO_THREADS(BM_TwoThreads_ClaimCommitReceiveAtMostOnce)->Args({64, 1});
SHMQ_TWO_THREADS(BM_TwoThreads_BatchAckAll)->Args({64, 64});
SHMQ_TWO_THREADS(BM_TwoThreads_BatchAtMostOnce)->Args({64, 64});

}  // namespace

BENCHMARK_MAIN();
