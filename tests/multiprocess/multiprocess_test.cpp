// Multi-process behaviour: real producer and consumer processes
// (shmq_test_worker) move messages through one queue. This process only
// creates the queue (and, where a test needs every group to exist before the
// first message, the groups), then checks the records the consumers wrote:
// "K:i partition offset deliveries key" per ACKed message.
#include <gtest/gtest.h>

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

#include "support/processes.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::Record;
using test::Records;
using test::TempQueue;
using test::Worker;

constexpr std::size_t kShowFirst = 8;  // offending messages listed in a failure message

std::string msg_name(uint32_t producer, uint64_t seq) { return std::to_string(producer) + ":" + std::to_string(seq); }

std::string where(const Records& rs, const Record& r) {
    return rs.files[r.file].filename().string() + ":" + std::to_string(r.line);
}

std::string join_first(const std::vector<std::string>& items, std::size_t total) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
    if (total > items.size()) s += ", ...";
    return s;
}

// Every message "K:i" (K < producers, i < per_producer) is recorded exactly
// once. With allowed_duplicates > 0 (a consumer was killed: at-least-once),
// up to that many messages may be recorded more than once, provided one of
// their records shows a redelivery (deliveries >= 2).
testing::AssertionResult exactly_once(const Records& rs, uint32_t producers, uint64_t per_producer,
                                      std::size_t allowed_duplicates = 0) {
    const uint64_t expected = uint64_t{producers} * per_producer;
    std::vector<uint8_t> seen(expected, 0);  // saturates at 255
    std::vector<uint32_t> most_deliveries(allowed_duplicates ? expected : 0, 0);
    std::size_t unexpected = 0;
    std::vector<std::string> unexpected_first;
    for (const Record& r : rs.records) {
        if (r.producer >= producers || r.seq >= per_producer) {
            if (++unexpected <= kShowFirst)
                unexpected_first.push_back(msg_name(r.producer, r.seq) + " at " + where(rs, r));
            continue;
        }
        const uint64_t n = r.producer * per_producer + r.seq;
        if (seen[n] < 255) ++seen[n];
        if (allowed_duplicates) most_deliveries[n] = std::max(most_deliveries[n], r.deliveries);
    }
    std::size_t lost = 0, duplicated = 0, distinct = 0, unexplained = 0;
    std::vector<std::string> lost_first, dup_first, unexplained_first;
    for (uint64_t n = 0; n < expected; ++n) {
        const auto name = [&] { return msg_name(static_cast<uint32_t>(n / per_producer), n % per_producer); };
        if (seen[n] == 0) {
            if (++lost <= kShowFirst) lost_first.push_back(name());
            continue;
        }
        ++distinct;
        if (seen[n] == 1) continue;
        const std::string dup = name() + " x" + std::to_string(seen[n]) + (seen[n] == 255 ? "+" : "");
        if (++duplicated <= kShowFirst) dup_first.push_back(dup);
        if (allowed_duplicates && most_deliveries[n] < 2 && ++unexplained <= kShowFirst)
            unexplained_first.push_back(dup);
    }
    const bool dups_ok = duplicated == 0 || (duplicated <= allowed_duplicates && unexplained == 0);
    if (lost == 0 && dups_ok && unexpected == 0 && rs.problems.empty()) return testing::AssertionSuccess();
    auto f = testing::AssertionFailure();
    f << rs.records.size() << " records of " << expected << " expected messages (" << distinct << " distinct)";
    if (lost) {
        f << "\n  " << lost << " lost: " << join_first(lost_first, lost);
        // Per producer: how much arrived, and where the losses are.
        for (uint32_t k = 0; k < producers; ++k) {
            uint64_t got = 0, highest = 0, missing_below_highest = 0;
            for (uint64_t i = 0; i < per_producer; ++i)
                if (seen[k * per_producer + i] != 0) ++got, highest = i;
            for (uint64_t i = 0; i < highest; ++i) missing_below_highest += seen[k * per_producer + i] == 0;
            f << "\n    producer " << k << ": " << got << " of " << per_producer << " received";
            if (got != 0)
                f << ", highest " << msg_name(k, highest) << ", " << missing_below_highest << " missing below it";
        }
    }
    if (duplicated) {
        f << "\n  " << duplicated << " duplicated";
        if (allowed_duplicates) f << " (at most " << allowed_duplicates << " redelivered ones allowed)";
        f << ": " << join_first(dup_first, duplicated);
    }
    if (unexplained)
        f << "\n  " << unexplained << " recorded twice without a redelivery (deliveries < 2 in every record): "
          << join_first(unexplained_first, unexplained);
    if (unexpected) f << "\n  " << unexpected << " unexpected: " << join_first(unexpected_first, unexpected);
    for (auto& p : rs.problems) f << "\n  " << p;
    if (rs.malformed > 5) f << "\n  (" << rs.malformed << " malformed lines in all)";
    return f;
}

// Every record says the message was delivered exactly `deliveries` times.
testing::AssertionResult deliveries_are(const Records& rs, uint32_t deliveries) {
    std::size_t bad = 0;
    std::vector<std::string> first;
    for (const Record& r : rs.records) {
        if (r.deliveries == deliveries) continue;
        if (++bad <= kShowFirst)
            first.push_back(msg_name(r.producer, r.seq) + " had " + std::to_string(r.deliveries) + " (partition " +
                            std::to_string(r.partition) + " offset " + std::to_string(r.offset) + ")");
    }
    if (bad == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << bad << " of " << rs.records.size()
                                       << " records do not have deliveries == " << deliveries << ": "
                                       << join_first(first, bad);
}

// Per partition, the recorded offsets are 0..n-1, each exactly once (a fresh
// queue, no aborted claims: offsets have no gaps); with allow_duplicates, at
// least once.
testing::AssertionResult offsets_contiguous(const Records& rs, uint32_t partitions, bool allow_duplicates = false) {
    std::vector<std::vector<uint8_t>> seen(partitions);
    std::size_t bad_partition = 0, beyond = 0;
    std::vector<std::string> problems;
    for (const Record& r : rs.records) {
        if (r.partition >= partitions) {
            if (++bad_partition <= kShowFirst)
                problems.push_back(msg_name(r.producer, r.seq) + " in partition " + std::to_string(r.partition));
            continue;
        }
        if (r.offset >= rs.records.size()) {  // no partition can hold more offsets than there are records
            if (++beyond <= kShowFirst)
                problems.push_back(msg_name(r.producer, r.seq) + " at offset " + std::to_string(r.offset) +
                                   " of partition " + std::to_string(r.partition) + ", beyond the record count");
            continue;
        }
        auto& v = seen[r.partition];
        if (v.size() <= r.offset) v.resize(r.offset + 1, 0);
        if (v[r.offset] < 255) ++v[r.offset];
    }
    std::size_t gaps = 0, doubles = 0;
    for (uint32_t p = 0; p < partitions; ++p) {
        for (uint64_t o = 0; o < seen[p].size(); ++o) {
            if (seen[p][o] == 1 || (allow_duplicates && seen[p][o] > 1)) continue;
            const bool gap = seen[p][o] == 0;
            if ((gap ? ++gaps : ++doubles) + bad_partition + beyond <= kShowFirst * 2)
                problems.push_back("partition " + std::to_string(p) + " offset " + std::to_string(o) +
                                   (gap ? " never recorded" : " recorded " + std::to_string(seen[p][o]) + " times"));
        }
    }
    if (gaps + doubles + bad_partition + beyond == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "offsets: " << gaps << " missing, " << doubles << " recorded more than once, "
                                       << bad_partition << " in a non-existent partition, " << beyond
                                       << " out of range: " << join_first(problems, problems.size());
}

// Per-key order: every key stays in its partition (partition_for_key); sorted
// by offset, each (producer, key)'s messages are in send order; and each
// consumer received each (producer, key)'s messages, and each partition's
// offsets, in increasing order. allow_duplicates: the same message may be
// recorded twice (by different consumers: a redelivery after a crash).
testing::AssertionResult per_key_order(const Records& rs, uint32_t partitions, bool allow_duplicates = false) {
    std::size_t bad = 0;
    std::vector<std::string> first;
    auto report = [&](std::string s) {
        if (++bad <= kShowFirst) first.push_back(std::move(s));
    };
    std::map<std::tuple<uint32_t, uint32_t, std::string>, const Record*> last_in_file;  // (file, producer, key)
    std::map<std::pair<uint32_t, uint32_t>, const Record*> last_offset_in_file;         // (file, partition)
    std::map<std::pair<uint32_t, std::string>, std::vector<const Record*>> by_key;      // (producer, key)
    for (const Record& r : rs.records) {
        const uint32_t want = partition_for_key(r.key, partitions);
        if (r.partition != want)
            report(msg_name(r.producer, r.seq) + " with key " + r.key + " came from partition " +
                   std::to_string(r.partition) + ", not " + std::to_string(want));
        auto& prev = last_in_file[{r.file, r.producer, r.key}];
        if (prev != nullptr && prev->seq >= r.seq)
            report(where(rs, r) + ": " + msg_name(r.producer, r.seq) + " (key " + r.key + ") received after " +
                   msg_name(prev->producer, prev->seq) + " (line " + std::to_string(prev->line) + ")");
        prev = &r;
        auto& prev_off = last_offset_in_file[{r.file, r.partition}];
        if (prev_off != nullptr && prev_off->offset >= r.offset)
            report(where(rs, r) + ": partition " + std::to_string(r.partition) + " offset " + std::to_string(r.offset) +
                   " received after offset " + std::to_string(prev_off->offset));
        prev_off = &r;
        by_key[{r.producer, r.key}].push_back(&r);
    }
    for (auto& [k, recs] : by_key) {
        std::sort(recs.begin(), recs.end(), [](const Record* a, const Record* b) { return a->offset < b->offset; });
        for (std::size_t i = 1; i < recs.size(); ++i)
            if (recs[i - 1]->seq >= recs[i]->seq &&
                !(allow_duplicates && recs[i - 1]->offset == recs[i]->offset && recs[i - 1]->seq == recs[i]->seq))
                report("producer " + std::to_string(k.first) + " key " + k.second + ": " +
                       msg_name(recs[i]->producer, recs[i]->seq) + " at offset " + std::to_string(recs[i]->offset) +
                       " follows " + msg_name(recs[i - 1]->producer, recs[i - 1]->seq) + " at offset " +
                       std::to_string(recs[i - 1]->offset));
    }
    if (bad == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << bad << " order violations: " << join_first(first, bad);
}

// How many records each file holds, e.g. "c0=333412 c1=...".
std::string distribution(const Records& rs) {
    std::vector<std::size_t> n(rs.files.size(), 0);
    for (const Record& r : rs.records) ++n[r.file];
    std::string s;
    for (std::size_t i = 0; i < n.size(); ++i)
        s += (i ? " " : "") + rs.files[i].stem().string() + "=" + std::to_string(n[i]);
    return s;
}

class MultiProcessTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] record files kept in " << dir.path().string() << std::endl;
        }
    }

    void start_producers(const std::string& queue, uint32_t n, uint64_t count, uint32_t keys = 0) {
        for (uint32_t k = 0; k < n; ++k) {
            std::vector<std::string> args{"produce", queue, "--id", std::to_string(k)};
            args.insert(args.end(), {"--count", std::to_string(count)});
            if (keys != 0) args.insert(args.end(), {"--keys", std::to_string(keys)});
            producers.push_back(&workers.start("producer " + std::to_string(k), args));
        }
    }

    // Starts n consumers of `group`, writing to <dir>/<group>-c<i>.txt.
    void start_consumers(const std::string& queue, const std::string& group, const char* kind, uint32_t n,
                         const std::vector<std::string>& extra = {}) {
        auto& files = outputs[group];
        for (uint32_t i = 0; i < n; ++i) {
            const auto file = dir.file(group + "-c" + std::to_string(files.size()) + ".txt");
            std::vector<std::string> args{"consume", queue, "--group", group, "--kind", kind, "--out", file.string()};
            args.insert(args.end(), extra.begin(), extra.end());
            consumers.push_back(&workers.start("consumer " + file.stem().string(), args));
            files.push_back(file);
        }
    }

    test::TempDir dir{"mp"};
    test::Workers workers;  // after dir: its processes are killed before the directory goes
    std::vector<Worker*> producers;
    std::vector<Worker*> consumers;
    std::map<std::string, std::vector<std::filesystem::path>> outputs;  // group -> record files
};

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

}  // namespace
}  // namespace shmq
