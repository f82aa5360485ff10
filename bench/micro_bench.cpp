// Micro-benchmarks of the hot operations, single thread (no contention):
// the cost of each step without cross-core traffic.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <string>
#include <unistd.h>

#include "shmq/shmq.hpp"

namespace {

using namespace std::chrono_literals;

struct BenchQueue {
    std::string name;
    shmq::Queue queue;
    explicit BenchQueue(uint32_t max_message = 64, uint32_t capacity = 4096)
        : name("bench-" + std::to_string(::getpid())), queue(create(name, max_message, capacity)) {}
    static shmq::Queue create(const std::string& name, uint32_t max_message, uint32_t capacity) {
        try {
            shmq::Queue::remove(name);
        } catch (...) {
        }
        shmq::QueueOptions o;
        o.max_message = max_message;
        o.capacity = capacity;
        return shmq::Queue::create(name, o);
    }
    ~BenchQueue() { shmq::Queue::remove(name); }
};

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
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_SendReceiveAck)->Arg(64)->Arg(1024);

void BM_BatchSendThenReceiveAck(benchmark::State& state) {
    const int batch = static_cast<int>(state.range(0));
    BenchQueue q(64, 4096);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .max_in_flight = 4096});
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
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_BatchSendThenReceiveAck)->Arg(64)->Arg(1024);

void BM_ClaimCommitReceiveAtMostOnce(benchmark::State& state) {
    BenchQueue q(64);
    auto c = q.queue.consumer("g", {.kind = shmq::GroupKind::exclusive, .at_most_once = true});
    auto p = q.queue.producer();
    for (auto _ : state) {
        auto claim = p.claim(64);
        if (!claim) state.SkipWithError("claim");
        std::memset(claim->data().data(), 'y', 64);
        if (!claim->commit().ok()) state.SkipWithError("commit");
        auto m = c.receive(0ms);
        if (!m) state.SkipWithError("receive");
        benchmark::DoNotOptimize(m->data().data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClaimCommitReceiveAtMostOnce);

void BM_PartitionForKey(benchmark::State& state) {
    std::string key = "user-4242424242";
    uint32_t sum = 0;
    for (auto _ : state) {
        key[5] = static_cast<char>('0' + (sum & 7));
        sum += shmq::partition_for_key(key, 64);
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PartitionForKey);

// Baselines for the claim protocol's cost: a plain store versus a CAS on a
// private line (what a single-producer fast path would save per message).
void BM_BaselinePlainStore(benchmark::State& state) {
    alignas(64) std::atomic<uint64_t> word{0};
    uint64_t i = 0;
    for (auto _ : state) word.store(++i, std::memory_order_release);
    benchmark::DoNotOptimize(word.load());
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
}
BENCHMARK(BM_BaselineCas);

}  // namespace

BENCHMARK_MAIN();
