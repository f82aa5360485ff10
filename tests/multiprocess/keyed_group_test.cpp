// Keyed groups with real processes (issue 19 §4): three consumer processes
// (`shmq_test_worker consume --kind keyed --hold-us`) share 50 keys. Each
// holds batches of up to 8 messages for a random while before ACKing them,
// and records for each message when it was received and when its ACK began.
// Per key: offsets are received in increasing order, and each is received
// only after its predecessor's ACK began (never two of a key in flight).
// Then the same under SIGKILLs of random consumers at random times: every
// message is ACKed, and each offset's first delivery comes after an ACK of
// its key's previous offset began.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "multiprocess/fixture.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/region.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::MultiProcessTest;
using test::Record;
using test::TempQueue;

constexpr uint32_t kKeys = 50;
const uint64_t kPerProducer = test::scaled(3000);  // fewer in sanitizer builds
constexpr uint32_t kProducers = 2;

class KeyedGroupProcessesTest : public MultiProcessTest {
protected:
    static QueueOptions options(uint32_t lease_ms, uint32_t capacity = 8192) {
        QueueOptions o;
        o.partitions = 2;
        o.capacity = capacity;
        o.lease_ms = lease_ms;
        return o;
    }
    std::vector<std::string> consumer_args() const {
        return {"--batch", "8", "--hold-us", "400", "--idle-ms", "3000"};
    }

    // Nothing failed or died: every finish queued its successor itself, none
    // waited for the periodic repair (a lost wake-up would).
    static void expect_no_rescues(const std::string& queue) {
        auto region = detail::Region::open(queue);
        const auto g = detail::find_group(*region, "g");
        ASSERT_TRUE(g.has_value());
        const int32_t lane = ring::group_keyed_lane(*region, *g);
        ASSERT_GE(lane, 0);
        for (uint32_t p = 0; p < region->partitions(); ++p) {
            const auto l = ring::keyed_lane(*region, static_cast<uint32_t>(lane), p);
            EXPECT_EQ(l.header->rescued.load(), 0u) << "partition " << p << ": parked messages only the repair found";
            EXPECT_EQ(l.header->repairs.load(), 0u) << "partition " << p;
        }
    }

    // Per key (one partition each): records in the order their messages were received.
    static std::map<std::string, std::vector<Record>> by_key(const std::vector<Record>& records) {
        std::map<std::string, std::vector<Record>> out;
        for (const Record& r : records) out[r.key].push_back(r);
        for (auto& [key, rs] : out)
            std::sort(rs.begin(), rs.end(), [](const Record& a, const Record& b) { return a.received_ns < b.received_ns; });
        return out;
    }
};

TEST_F(KeyedGroupProcessesTest, threeConsumersNeverHoldTwoOfAKeyAndKeepEachKeysOrder) {
    TempQueue q("keyed-mp", options(60'000));
    start_producers(q.name, kProducers, kPerProducer, kKeys);
    start_consumers(q.name, "g", "keyed", 3, consumer_args());
    ASSERT_TRUE(workers.wait_all(120s));
    const auto read = test::read_records(outputs["g"]);
    ASSERT_TRUE(read.problems.empty()) << read.problems.front();
    const auto& records = read.records;
    ASSERT_EQ(records.size(), kProducers * kPerProducer) << "each message ACKed once, none lost";
    std::set<std::pair<uint32_t, uint64_t>> ids;
    std::set<uint32_t> files;
    for (const Record& r : records) {
        ids.insert({r.producer, r.seq});
        files.insert(r.file);
        EXPECT_EQ(r.deliveries, 1u) << "nothing failed: one delivery each";
        ASSERT_NE(r.acking_ns, 0u);
    }
    EXPECT_EQ(ids.size(), kProducers * kPerProducer);
    EXPECT_EQ(files.size(), 3u) << "the three consumers shared the load";
    uint64_t checked = 0;
    for (const auto& [key, rs] : by_key(records)) {
        for (std::size_t i = 1; i < rs.size(); ++i) {
            const Record& a = rs[i - 1];
            const Record& b = rs[i];
            ASSERT_EQ(a.partition, b.partition) << key;
            ASSERT_LT(a.offset, b.offset) << "key " << key << ": offsets out of order";
            ASSERT_GT(b.received_ns, a.acking_ns)
                << "key " << key << ": offset " << b.offset << " was received while offset " << a.offset
                << " was still held (files " << a.file << ", " << b.file << ")";
            ++checked;
        }
    }
    EXPECT_EQ(checked, kProducers * kPerProducer - kKeys);
    expect_no_rescues(q.name);
}

TEST_F(KeyedGroupProcessesTest, drainAFullBacklogWithoutLosingAWakeUp) {
    // The backlog first, then three consumers racing for the lane lock with
    // batches of 16 and no pause: finishers often find the lock taken.
    TempQueue q("keyed-backlog", options(60'000, 32768));  // holds the whole backlog
    start_producers(q.name, 1, test::scaled(20'000, 5'000), 100);
    ASSERT_TRUE(workers.wait(producers, 30s));
    start_consumers(q.name, "g", "keyed", 3, {"--batch", "16", "--idle-ms", "1000"});
    ASSERT_TRUE(workers.wait(consumers, 60s));
    const auto read = test::read_records(outputs["g"]);
    ASSERT_TRUE(read.problems.empty()) << read.problems.front();
    EXPECT_EQ(read.records.size(), test::scaled(20'000, 5'000));
    expect_no_rescues(q.name);
}

TEST_F(KeyedGroupProcessesTest, keepsEachKeysOrderWhileConsumersAreKilledAtRandom) {
    TempQueue q("keyed-kill", options(400));
    start_producers(q.name, kProducers, kPerProducer, kKeys);
    start_consumers(q.name, "g", "keyed", 3, consumer_args());
    std::mt19937 rng(20261207);
    constexpr int kKills = 12;
    for (int k = 0; k < kKills; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
        const std::size_t victim = 1 + rng() % 3;  // a consumer (workers: producers first)
        auto& running = consumers[consumers.size() - victim];
        workers.kill(*running);
        consumers.erase(consumers.end() - static_cast<std::ptrdiff_t>(victim));
        start_consumers(q.name, "g", "keyed", 1, consumer_args());
    }
    std::vector<test::Worker*> left = producers;
    left.insert(left.end(), consumers.begin(), consumers.end());
    ASSERT_TRUE(workers.wait(left, 120s));
    const auto read = test::read_records(outputs["g"], /*allow_torn_tail=*/true);
    ASSERT_TRUE(read.problems.empty()) << read.problems.front();
    std::map<std::pair<uint32_t, uint64_t>, uint32_t> seen;
    for (const Record& r : read.records) ++seen[{r.producer, r.seq}];
    ASSERT_EQ(seen.size(), kProducers * kPerProducer) << "every message delivered (records precede ACKs)";
    for (const auto& [key, rs] : by_key(read.records)) {
        // Each offset's first record, and the latest ACK start seen of each offset.
        std::map<uint64_t, const Record*> first;
        for (const Record& r : rs) first.emplace(r.offset, &r);
        std::map<uint64_t, uint64_t> earliest_ack;  // offset -> earliest acking_ns among its records
        for (const Record& r : rs)
            if (r.acking_ns != 0) {
                auto [it, fresh] = earliest_ack.emplace(r.offset, r.acking_ns);
                if (!fresh) it->second = std::min(it->second, r.acking_ns);
            }
        const Record* prev = nullptr;
        for (const auto& [offset, r] : first) {  // in offset order
            if (prev != nullptr) {
                ASSERT_LT(prev->received_ns, r->received_ns)
                    << "key " << key << ": offset " << offset << " was first received before offset " << prev->offset;
                const auto ack = earliest_ack.find(prev->offset);
                ASSERT_NE(ack, earliest_ack.end()) << "key " << key << ": offset " << prev->offset << " never ACKed";
                ASSERT_GT(r->received_ns, ack->second)
                    << "key " << key << ": offset " << offset << " was received before any ACK of offset "
                    << prev->offset << " began";
            }
            prev = r;
        }
    }
}

}  // namespace
}  // namespace shmq
