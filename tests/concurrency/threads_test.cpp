// Producers and consumers as threads of one process. Threads sharing one
// mapping let ThreadSanitizer check every cross-thread access of the ring
// protocol (it cannot see across processes); threads with a mapping each
// behave like separate processes (separate regions, OFD locks, reapers).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/scale.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

struct Tally {
    std::mutex mutex;
    std::vector<uint32_t> seen;  // per message index: times ACKed
    uint64_t duplicates = 0;
    explicit Tally(std::size_t n) : seen(n, 0) {}
    void record(uint64_t index) {
        std::lock_guard<std::mutex> g(mutex);
        if (index >= seen.size() || seen[index]++ != 0) ++duplicates;
    }
    uint64_t missing() const {
        uint64_t m = 0;
        for (uint32_t v : seen) m += v == 0;
        return m;
    }
};

// payload = decimal message index
void run_shared_group(bool separate_mappings, uint32_t partitions) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 64;  // small ring: producers block and wrap often
    test::TempQueue q("threads", o);
    const uint64_t n = test::scaled(200'000);
    const int producers = 3, consumers = 3;
    Tally tally(n);
    std::atomic<uint64_t> next_index{0};
    std::atomic<int> producers_left{producers};
    std::vector<Queue> mappings;  // one Region (mmap, descriptors) per thread, like processes
    Queue& shared = q.queue;
    for (int i = 0; separate_mappings && i < producers + consumers; ++i) mappings.push_back(Queue::open(q.name));
    auto queue_for = [&](int i) -> Queue& { return separate_mappings ? mappings[i] : shared; };

    std::vector<std::thread> threads;
    std::vector<Consumer> cs;
    for (int i = 0; i < consumers; ++i) cs.push_back(queue_for(producers + i).consumer("g"));
    for (int i = 0; i < producers; ++i)
        threads.emplace_back([&, i] {
            auto p = queue_for(i).producer();
            for (uint64_t k; (k = next_index.fetch_add(1)) < n;) {
                std::string payload = std::to_string(k);
                ASSERT_TRUE(p.send(payload, {.key = (k % 3 == 0) ? std::string_view{} : std::string_view(payload)}).ok());
            }
            producers_left.fetch_sub(1);
        });
    for (int i = 0; i < consumers; ++i)
        threads.emplace_back([&, i] {
            for (;;) {
                auto m = cs[i].receive(50ms);
                if (!m) {
                    if (producers_left.load() == 0) break;
                    continue;
                }
                const uint64_t index = std::stoull(std::string(m->text()));
                ASSERT_TRUE(m->ack().ok());
                tally.record(index);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(tally.duplicates, 0u);
    EXPECT_EQ(tally.missing(), 0u);
}

TEST(ThreadsTest, sharedGroupMovesEverythingOnceOverOneMapping) { run_shared_group(false, 1); }
TEST(ThreadsTest, sharedGroupMovesEverythingOnceOverOneMappingFourPartitions) { run_shared_group(false, 4); }
TEST(ThreadsTest, sharedGroupMovesEverythingOnceOverSeparateMappings) { run_shared_group(true, 2); }

TEST(ThreadsTest, nackAndExpiryRaceAcksWithoutLossOrDoubleAck) {
    QueueOptions o;
    o.capacity = 32;
    o.lease_ms = 40;  // leases expire while consumers still hold them (but not while they read)
    o.max_deliveries = 1000;
    test::TempQueue q("threads-nack", o);
    const uint64_t n = test::scaled(2000, 400);
    std::vector<std::atomic<uint32_t>> acked(n);
    std::atomic<bool> done{false};
    std::thread producer([&] {
        auto p = q->producer();
        for (uint64_t k = 0; k < n; ++k) ASSERT_TRUE(p.send(std::to_string(k)).ok());
    });
    std::vector<std::thread> consumers;
    std::atomic<uint64_t> acked_total{0}, lost{0};
    for (int i = 0; i < 3; ++i)
        consumers.emplace_back([&, i] {
            auto c = q->consumer("g");
            uint64_t turn = 0;
            while (!done.load()) {
                auto m = c.receive(20ms);
                if (!m) continue;
                const uint64_t index = std::stoull(std::string(m->text()));
                ASSERT_TRUE(m->lease_held());  // read well within the lease: intact
                switch ((turn++ + i) % 8) {
                    case 0: (void)m->nack(); break;  // may be lease_lost: then it was redelivered already
                    case 1: std::this_thread::sleep_for(60ms); [[fallthrough]];  // past the lease
                    default:
                        if (m->ack().ok()) {
                            acked[index].fetch_add(1);
                            acked_total.fetch_add(1);
                        } else {
                            lost.fetch_add(1);  // lease_lost: someone else has it now
                        }
                }
                if (acked_total.load() == n) done.store(true);
            }
        });
    producer.join();
    for (auto& t : consumers) t.join();
    for (uint64_t k = 0; k < n; ++k) ASSERT_EQ(acked[k].load(), 1u) << "message " << k;
    std::cout << "acked " << acked_total.load() << ", stale acks refused with lease_lost: " << lost.load() << "\n";
}

}  // namespace
}  // namespace shmq
