// Transactions raced by their resolvers, in threads (so TSan sees every
// access): a stage commits one transaction per input with a timeout shorter
// than its own pauses, while another thread plays every peer and shmqd at
// once (tx::resolve_late on both regions, as fast as it can), and a reader
// drains the output queue. Whatever wins each race, every input's output
// must be delivered exactly once: an aborted transaction's output never,
// its input again, until a transaction of it commits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/tx_resolver.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

TEST(TransactionRaceTest, everyInputsOutputIsDeliveredOnceWhateverWinsTheRaces) {
    constexpr int kInputs = 1500;
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 1024;  // every input fits before the stage joins
    o.max_deliveries = 1000;  // aborts count as failed deliveries; none may reach the DLQ here
    test::TempQueue in("txr-in", o), out("txr-out", o);
    {
        auto feed = in->producer();
        for (int i = 0; i < kInputs; ++i) ASSERT_TRUE(feed.send("in-" + std::to_string(i), {.key = std::to_string(i % 5)}).ok());
    }
    std::atomic<bool> stop{false};
    std::atomic<int> committed{0}, lost{0};
    std::thread resolver([&] {
        auto ri = detail::Region::open(in.name);
        auto ro = detail::Region::open(out.name);
        while (!stop.load(std::memory_order_relaxed)) {
            tx::resolve_late(*ro, sys::coarse_monotonic_ns(), 0);
            tx::resolve_late(*ri, sys::coarse_monotonic_ns(), 0);
            std::this_thread::yield();
        }
    });
    std::map<std::string, int> seen;
    std::thread reader([&] {
        auto c = out->consumer("r");
        while (!stop.load(std::memory_order_relaxed)) {
            auto m = c.receive(20ms);
            if (!m) continue;
            ++seen[std::string(m->text())];
            EXPECT_TRUE(m->ack().ok());
        }
        while (auto m = c.receive(200ms)) {
            ++seen[std::string(m->text())];
            EXPECT_TRUE(m->ack().ok());
        }
    });
    {
        auto stage = in->consumer("stage");
        auto p = out->producer();
        Transaction tx(stage, {.timeout = 2ms});
        std::mt19937 rng(7);
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (committed.load() < kInputs && std::chrono::steady_clock::now() < deadline) {
            auto m = stage.receive(50ms);
            if (!m) continue;
            const std::string text(m->text());
            if (!tx.send(p, "out-" + text.substr(3), {.key = m->key()}).ok() || !tx.ack(*m).ok()) {
                tx.abort();
                lost.fetch_add(1);
                continue;
            }
            if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 6000));
            if (tx.commit().ok())
                committed.fetch_add(1);
            else
                lost.fetch_add(1);
        }
    }
    stop.store(true);
    resolver.join();
    reader.join();
    EXPECT_EQ(committed.load(), kInputs);
    EXPECT_GT(lost.load(), 0) << "no race was lost: the test did not exercise the resolvers";
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(kInputs)) << "outputs missing";
    for (const auto& [text, n] : seen) EXPECT_EQ(n, 1) << text << " delivered " << n << " times";
    std::cout << "committed " << committed.load() << ", lost to a resolver or a lease " << lost.load() << "\n";
}

}  // namespace
}  // namespace shmq
