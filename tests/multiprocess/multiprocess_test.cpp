// Multi-process behaviour: real producer and consumer processes
// (shmq_test_worker) move messages through one queue. This process only
// creates the queue (and, where a test needs every group to exist before the
// first message, the groups), then checks the records the consumers wrote:
// "K:i partition offset deliveries key" per ACKed message.
#include <gtest/gtest.h>

#include <set>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "shmq/internal/inspect.hpp"
#include "multiprocess/fixture.hpp"
#include "shmq/internal/region.hpp"
#include "support/record_checks.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::MultiProcessTest;
using test::Record;
using test::Records;
using test::TempQueue;
using test::Worker;
using namespace test::checks;

// (a) Throughput and exactly-once with many processes in one shared group.
class MultiProcessThroughput : public MultiProcessTest, public testing::WithParamInterface<uint32_t> {};

TEST_P(MultiProcessThroughput, fourProducersThreeSharedConsumersMoveAMillionMessagesExactlyOnce) {
    constexpr uint32_t kProducers = 4;
    constexpr uint32_t kConsumers = 3;
    const uint64_t kPerProducer = test::scaled(250'000);
    const uint32_t partitions = GetParam();
    QueueOptions o;
    o.partitions = partitions;  // capacity: the default 1024
    TempQueue q("mp-tput", o);

    const auto t0 = std::chrono::system_clock::now();
    start_consumers(q.name, "workers", "shared", kConsumers, {"--idle-ms", "3000"});
    start_producers(q.name, kProducers, kPerProducer);
    EXPECT_TRUE(workers.wait(producers, 150s, consumers));
    const auto produced = std::chrono::system_clock::now();
    EXPECT_TRUE(workers.wait(consumers, 30s));  // each exits 3 s after its last message

    const auto& files = outputs["workers"];
    const auto last_record = test::last_write(files);
    const Records rs = test::read_records(files);
    EXPECT_TRUE(exactly_once(rs, kProducers, kPerProducer));
    EXPECT_TRUE(deliveries_are(rs, 1));
    EXPECT_TRUE(offsets_contiguous(rs, partitions));

    if (HasFailure()) return;
    const double secs = std::chrono::duration<double>(std::max(last_record, produced) - t0).count();
    const uint64_t total = kProducers * kPerProducer;
    std::cout << "[ shmq ] " << total << " messages, " << kProducers << " producers x " << kConsumers
              << " shared consumers, " << partitions << " partition(s), capacity 1024: " << std::fixed
              << std::setprecision(3) << secs << " s, " << std::setprecision(0) << static_cast<double>(total) / secs
              << " msg/s (per consumer: " << distribution(rs) << ")" << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Partitions, MultiProcessThroughput, testing::Values(1u, 4u),
                         [](const testing::TestParamInfo<uint32_t>& param_info) {
                             return std::to_string(param_info.param) +
                                    (param_info.param == 1 ? "partition" : "partitions");
                         });

// (b) An exclusive group keeps per-key order across partitions while its
// members join, rebalance and leave.
TEST_F(MultiProcessTest, exclusiveGroupKeepsPerKeyOrderAcrossEightPartitions) {
    constexpr uint32_t kPartitions = 8;
    constexpr uint32_t kProducers = 2;
    const uint64_t kPerProducer = test::scaled(100'000);
    QueueOptions o;
    o.partitions = kPartitions;
    TempQueue q("mp-order", o);

    // Two members from the start; a third joins mid-stream, so partitions
    // change hands while their previous owners still hold unACKed batches.
    start_consumers(q.name, "ordered", "exclusive", 2);
    start_producers(q.name, kProducers, kPerProducer, 32);
    EXPECT_TRUE(test::wait_for_file_size(outputs["ordered"][0], 32 * 1024, 30s)) << "the first consumer got too little";
    start_consumers(q.name, "ordered", "exclusive", 1);
    EXPECT_TRUE(workers.wait(producers, 120s, consumers));
    EXPECT_TRUE(workers.wait(consumers, 30s));

    const Records rs = test::read_records(outputs["ordered"]);
    EXPECT_TRUE(exactly_once(rs, kProducers, kPerProducer));
    EXPECT_TRUE(per_key_order(rs, kPartitions));
    EXPECT_TRUE(deliveries_are(rs, 1));
    EXPECT_TRUE(offsets_contiguous(rs, kPartitions));
    std::cout << "[ shmq ] per consumer: " << distribution(rs) << std::endl;
}

// (c) Fan-out: two groups of different kinds each get every message once.
TEST_F(MultiProcessTest, sharedAndExclusiveGroupsEachReceiveEveryMessageOnce) {
    constexpr uint32_t kPartitions = 4;
    constexpr uint32_t kProducers = 2;
    const uint64_t kPerProducer = test::scaled(50'000);
    QueueOptions o;
    o.partitions = kPartitions;
    TempQueue q("mp-fanout", o);
    {
        // Both groups must exist before the first message: a group that joins
        // later starts at the oldest message still held, not at offset 0.
        auto fan = q->consumer("fan", {.kind = GroupKind::shared});
        auto ordered = q->consumer("ordered", {.kind = GroupKind::exclusive});
    }

    start_consumers(q.name, "fan", "shared", 2);
    start_consumers(q.name, "ordered", "exclusive", 2);
    start_producers(q.name, kProducers, kPerProducer, 16);
    EXPECT_TRUE(workers.wait(producers, 120s, consumers));
    EXPECT_TRUE(workers.wait(consumers, 30s));

    for (const char* group : {"fan", "ordered"}) {
        SCOPED_TRACE(std::string("group ") + group);
        const Records rs = test::read_records(outputs[group]);
        EXPECT_TRUE(exactly_once(rs, kProducers, kPerProducer));
        EXPECT_TRUE(deliveries_are(rs, 1));
        EXPECT_TRUE(offsets_contiguous(rs, kPartitions));
        if (std::string(group) == "ordered") {
            EXPECT_TRUE(per_key_order(rs, kPartitions));
        }
    }
}

// (d) A producer blocked on a full queue sleeps, and wakes when a consumer
// frees space. Variants: the group exists beforehand (no consumer attached),
// or no group exists at all yet (messages wait for the first group).
class MultiProcessBlocking : public MultiProcessTest, public testing::WithParamInterface<bool> {};

TEST_P(MultiProcessBlocking, blockedProducerWakesWhenAConsumerFreesSpace) {
    constexpr uint64_t kCount = 10'000;
    const bool group_first = GetParam();
    QueueOptions o;
    o.capacity = 16;
    TempQueue q("mp-block", o);
    if (group_first) {
        auto c = q->consumer("drain");  // creates the group, then detaches
    }

    start_producers(q.name, 1, kCount);
    Worker& producer = *producers[0];
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(workers.running(producer)) << producer.describe() << "; it should be blocked on the full queue";
    // Blocked means asleep on the futex, not spinning.
    const auto before = test::cpu_ticks(producer.pid);
    std::this_thread::sleep_for(300ms);
    const auto after = test::cpu_ticks(producer.pid);
    ASSERT_TRUE(workers.running(producer)) << producer.describe() << "; it should be blocked on the full queue";
    if (before && after) {
        const long hz = ::sysconf(_SC_CLK_TCK);
        EXPECT_LE((*after - *before) * 1000 / static_cast<uint64_t>(hz), 60u)
            << "the blocked producer used " << (*after - *before) << " clock ticks of CPU in 300 ms";
    }

    start_consumers(q.name, "drain", "shared", 1, {"--count", std::to_string(kCount), "--idle-ms", "20000"});
    EXPECT_TRUE(workers.wait_all(60s));

    const Records rs = test::read_records(outputs["drain"]);
    EXPECT_TRUE(exactly_once(rs, 1, kCount));
    EXPECT_TRUE(deliveries_are(rs, 1));
    EXPECT_TRUE(offsets_contiguous(rs, 1));
}

INSTANTIATE_TEST_SUITE_P(Group, MultiProcessBlocking, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& param_info) {
                             return std::string(param_info.param ? "createdFirst" : "notYetCreated");
                         });

// (e) NACK redelivery across processes: every message's first delivery is
// NACKed; each is then ACKed exactly once, on its second delivery.
class MultiProcessNack : public MultiProcessTest, public testing::WithParamInterface<std::string> {};

TEST_P(MultiProcessNack, nackedMessagesAreRedeliveredAndAckedOnce) {
    constexpr uint32_t kPartitions = 2;
    const uint64_t kCount = test::scaled(20'000);
    const std::string kind = GetParam();  // "shared" or "exclusive"
    const bool exclusive = kind == "exclusive";
    QueueOptions o;
    o.partitions = kPartitions;
    TempQueue q("mp-nack", o);

    start_consumers(q.name, "retry", kind.c_str(), 2, {"--nack-first"});
    start_producers(q.name, 1, kCount, 8);
    EXPECT_TRUE(workers.wait(producers, 60s, consumers));
    EXPECT_TRUE(workers.wait(consumers, 30s));

    const Records rs = test::read_records(outputs["retry"]);
    EXPECT_TRUE(exactly_once(rs, 1, kCount));
    EXPECT_TRUE(deliveries_are(rs, 2));
    EXPECT_TRUE(offsets_contiguous(rs, kPartitions));
    if (exclusive) {
        EXPECT_TRUE(per_key_order(rs, kPartitions));
    }
}

INSTANTIATE_TEST_SUITE_P(Kind, MultiProcessNack, testing::Values(std::string("shared"), std::string("exclusive")),
                         [](const testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// (f) A consumer killed with SIGKILL mid-stream loses nothing: what it had
// not ACKed goes to the others (by lease expiry in a shared group; in an
// exclusive group the members reap the dead one and take its partitions).
// Duplicates are allowed only for redelivered messages (at-least-once).
class MultiProcessCrash : public MultiProcessTest, public testing::WithParamInterface<std::string> {};

TEST_P(MultiProcessCrash, killedConsumersUnackedMessagesAreRedeliveredNothingLost) {
    constexpr uint32_t kPartitions = 4;
    constexpr uint32_t kProducers = 2;
    const uint64_t kPerProducer = test::scaled(50'000);
    const std::string kind = GetParam();
    const bool exclusive = kind == "exclusive";
    QueueOptions o;
    o.partitions = kPartitions;
    o.lease_ms = 3000;  // a shared group gets the victim's messages back after this
    TempQueue q("mp-crash", o);

    // The victim holds each batch unACKed for a while after recording it; it
    // is killed right after its first batch hit the file. Idle longer than
    // the lease: the survivors wait for the redeliveries.
    start_consumers(q.name, "g", kind.c_str(), 1, {"--idle-ms", "6000", "--ack-delay-ms", "2000"});
    start_consumers(q.name, "g", kind.c_str(), 2, {"--idle-ms", "6000"});
    start_producers(q.name, kProducers, kPerProducer, 16);
    Worker& victim = *consumers[0];
    const std::vector<Worker*> survivors{consumers[1], consumers[2]};
    ASSERT_TRUE(test::wait_for_file_size(outputs["g"][0], 1, 30s)) << victim.describe() << " recorded nothing";
    workers.kill(victim);
    EXPECT_TRUE(workers.wait(producers, 120s, survivors));
    EXPECT_TRUE(workers.wait(survivors, 60s));

    const Records rs = test::read_records(outputs["g"], /*allow_torn_tail=*/true);
    // The victim held at most one batch (64) unACKed.
    EXPECT_TRUE(exactly_once(rs, kProducers, kPerProducer, 64));
    EXPECT_TRUE(offsets_contiguous(rs, kPartitions, /*allow_duplicates=*/true));
    if (exclusive) {
        EXPECT_TRUE(per_key_order(rs, kPartitions, /*allow_duplicates=*/true));
    }
    // Everything the victim recorded it never ACKed: a survivor must have
    // received it again, as a redelivery.
    std::map<std::pair<uint32_t, uint64_t>, uint32_t> survivor_deliveries;
    std::size_t victim_records = 0, not_redelivered = 0;
    std::vector<std::string> first;
    for (const Record& r : rs.records)
        if (r.file != 0) survivor_deliveries[{r.producer, r.seq}] = r.deliveries;
    for (const Record& r : rs.records) {
        if (r.file != 0) continue;
        ++victim_records;
        auto it = survivor_deliveries.find({r.producer, r.seq});
        if (it != survivor_deliveries.end() && it->second >= 2) continue;
        if (++not_redelivered <= kShowFirst)
            first.push_back(msg_name(r.producer, r.seq) + (it == survivor_deliveries.end()
                                                               ? " (never again)"
                                                               : " (deliveries " + std::to_string(it->second) + ")"));
    }
    EXPECT_GT(victim_records, 0u);
    EXPECT_EQ(not_redelivered, 0u) << "of " << victim_records << " messages the killed consumer held, "
                                   << not_redelivered
                                   << " were not redelivered to a survivor: " << join_first(first, not_redelivered);
    std::cout << "[ shmq ] per consumer: " << distribution(rs) << "; the killed consumer held " << victim_records
              << ", torn last lines: " << rs.torn << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Kind, MultiProcessCrash, testing::Values(std::string("shared"), std::string("exclusive")),
                         [](const testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// (g) on_full=drop_oldest with real processes: producers never wait, slow
// groups lose the oldest messages and nothing else. Per group: no message
// twice, every (producer, key) in send order with gaps, and what it acked
// plus what it skipped adds up to what was published.
TEST_F(MultiProcessTest, dropOldestLetsSlowGroupsMissTheOldestAndKeepsTheRestInOrder) {
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 64;
    o.on_full = OnFull::drop_oldest;
    TempQueue q("mp-drop", o);
    const uint64_t per_producer = test::scaled(50'000);
    start_consumers(q.name, "slow", "exclusive", 1, {"--ack-delay-ms", "1", "--idle-ms", "1000", "--lossy"});
    start_consumers(q.name, "shared", "shared", 2, {"--idle-ms", "1000", "--lossy"});
    std::this_thread::sleep_for(100ms);  // groups exist before the first message
    start_producers(q.name, 2, per_producer, 8);
    ASSERT_TRUE(workers.wait(producers, 120s)) << "drop-oldest producers never wait for room";
    ASSERT_TRUE(workers.wait(consumers, 60s));
    const auto s = inspect::snapshot(*detail::Region::open(q.name, detail::Access::read_only));
    EXPECT_GT(s.dropped, 0u) << "a 1 ms-per-batch consumer cannot keep up";
    EXPECT_EQ(s.published, 2 * per_producer);
    for (const auto& [group, files] : outputs) {
        const Records rs = test::read_records(files);
        EXPECT_TRUE(rs.problems.empty()) << group << ": " << rs.problems.front();
        EXPECT_TRUE(per_key_order(rs, o.partitions)) << group;
        std::set<std::pair<uint32_t, uint64_t>> seen;
        for (const auto& r : rs.records) EXPECT_TRUE(seen.insert({r.producer, r.seq}).second) << group << " twice: " << r.seq;
        for (const auto& g : s.groups) {
            if (g.name != group) continue;
            EXPECT_EQ(g.total.acked + g.total.skipped, s.published) << group << ": acked + skipped = published";
            // Recorded intact, then dropped before the ACK: counted as skipped, not acked.
            EXPECT_GE(rs.records.size(), g.total.acked) << group;
            EXPECT_LE(rs.records.size(), g.total.acked + g.total.skipped) << group;
        }
    }
}

}  // namespace
}  // namespace shmq
