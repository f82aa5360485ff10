// Exclusive-group handoffs keep order (DESIGN.md promise 3), with real
// processes: a slow owner A (`shmq_test_worker hold`: ACKs most messages at
// once, holds every fifth unACKed while it keeps polling) and a member B
// (`consume`) that joins while A holds messages. B must take its partition
// within one rebalance and receive A's unACKed offsets there first, in
// offset order, before anything newer; A's late ACKs answer lease_lost.
// Then A dies (SIGKILL), stays and ACKs, or leaves holding its messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "multiprocess/fixture.hpp"
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

constexpr uint32_t kPartitions = 2;
constexpr uint32_t kKeys = 10;
constexpr uint64_t kPerWave = 2000;  // producer 0 before B joins, producer 1 after: 4000 keyed messages
constexpr uint64_t kHoldEvery = 5;   // A holds "0:i" with i % 5 == 1

// What the holder wrote (worker.cpp, `hold`).
struct HolderLog {
    struct Recv {
        uint32_t partition;
        uint64_t offset, seq;
    };
    std::vector<Recv> received;
    std::map<std::pair<uint32_t, uint64_t>, std::string> late_acks;  // (partition, offset) -> ok | lease_lost
    std::set<std::string> lines;                                     // "ready N", "did ..."
};

class HandoffTest : public MultiProcessTest {
protected:
    QueueOptions options() {
        QueueOptions o;
        o.partitions = kPartitions;
        o.capacity = 8192;
        o.lease_ms = 120'000;  // nothing expires: every redelivery here is a handoff or a death
        return o;
    }

    Worker& start_holder(const std::string& queue) {
        return workers.start("holder A", {"hold", queue, "--group", "g", "--out", holder_file().string(), "--control",
                                          control_file().string(), "--hold-every", std::to_string(kHoldEvery),
                                          "--expect", std::to_string(kPerWave)});
    }
    std::filesystem::path holder_file() const { return dir.file("holder.txt"); }
    std::filesystem::path control_file() const { return dir.file("holder.cmd"); }

    void command(const std::string& c) {
        const auto tmp = dir.file("holder.cmd.tmp");
        std::ofstream(tmp) << c << "\n";
        std::filesystem::rename(tmp, control_file());
    }

    HolderLog read_holder() const {
        HolderLog log;
        std::ifstream in(holder_file());
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string word;
            f >> word;
            if (word == "recv") {
                HolderLog::Recv r{};
                uint32_t deliveries = 0;
                f >> r.partition >> r.offset >> r.seq >> deliveries;
                log.received.push_back(r);
            } else if (word == "ack") {
                uint32_t p = 0;
                uint64_t o = 0;
                std::string result;
                f >> p >> o >> result;
                log.late_acks[{p, o}] = result;
            } else {
                log.lines.insert(line);
            }
        }
        return log;
    }

    // Polls the holder's file for `line` (e.g. "did ack 1").
    testing::AssertionResult holder_says(const std::string& line, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (read_holder().lines.count(line)) return testing::AssertionSuccess();
            std::this_thread::sleep_for(5ms);
        }
        return testing::AssertionFailure() << "the holder did not write '" << line << "' within " << timeout.count()
                                           << " ms";
    }

    // A's unACKed offsets per partition: what it held, less what it later ACKed.
    static std::map<uint32_t, std::vector<uint64_t>> unacked(const HolderLog& a) {
        std::map<uint32_t, std::vector<uint64_t>> out;
        for (const auto& r : a.received) {
            if (r.seq % kHoldEvery != 1) continue;
            auto it = a.late_acks.find({r.partition, r.offset});
            if (it == a.late_acks.end() || it->second != "ok") out[r.partition].push_back(r.offset);
        }
        for (auto& [p, offsets] : out) std::sort(offsets.begin(), offsets.end());
        return out;
    }

    // B's first deliveries of partition p, in the order it recorded them.
    static std::vector<uint64_t> first_offsets(const Records& b, uint32_t p, std::size_t n) {
        std::vector<uint64_t> out;
        for (const Record& r : b.records)
            if (r.partition == p && out.size() < n) out.push_back(r.offset);
        return out;
    }

    // Every message of both waves consumed exactly once between A's successful
    // ACKs and B's records.
    static testing::AssertionResult nothing_lost_nothing_twice(const HolderLog& a, const Records& b) {
        std::map<std::pair<uint32_t, uint64_t>, int> consumed;  // (partition, offset) -> times
        for (const auto& r : a.received) {
            auto it = a.late_acks.find({r.partition, r.offset});
            const bool acked_at_once = r.seq % kHoldEvery != 1;
            if (acked_at_once || (it != a.late_acks.end() && it->second == "ok")) ++consumed[{r.partition, r.offset}];
        }
        for (const Record& r : b.records) ++consumed[{r.partition, r.offset}];
        uint64_t twice = 0;
        for (auto& [where, n] : consumed) twice += n > 1;
        if (consumed.size() == 2 * kPerWave && twice == 0) return testing::AssertionSuccess();
        return testing::AssertionFailure() << consumed.size() << " of " << 2 * kPerWave << " offsets consumed, "
                                           << twice << " of them twice";
    }

    // Runs the common start: wave 0, A owning everything and holding every
    // fifth message, B joining, the partition B takes, and wave 1.
    struct Started {
        Worker* a;
        Worker* b;
        uint32_t b_partition;  // the partition B took from a live A
    };
    Started start(TempQueue& q, uint64_t b_idle_ms) {
        start_producers(q.name, 1, kPerWave, kKeys, 0);
        EXPECT_TRUE(workers.wait(producers, 60s));
        Worker& a = start_holder(q.name);
        EXPECT_TRUE(holder_says("ready " + std::to_string(kPerWave), 60s)) << a.describe();
        const auto joined = std::chrono::steady_clock::now();
        start_consumers(q.name, "g", "exclusive", 1, {"--idle-ms", std::to_string(b_idle_ms)});
        Worker& b = *consumers.back();
        // Within one rebalance: A gives the partition up after its grace
        // (200 ms: it holds messages there), B takes it and starts with A's.
        EXPECT_TRUE(test::wait_for_file_size(outputs["g"][0], 1, 10s)) << b.describe() << " received nothing";
        const auto took = std::chrono::steady_clock::now() - joined;
        std::cout << "[ shmq ] B's first record "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms after it started"
                  << std::endl;
        const Records first = test::read_records(outputs["g"], /*allow_torn_tail=*/true);
        EXPECT_FALSE(first.records.empty());
        const uint32_t bp = first.records.empty() ? 0 : first.records[0].partition;
        producers.clear();
        start_producers(q.name, 1, kPerWave, kKeys, 1);
        return {&a, &b, bp};
    }

    // A's late ACKs of partition p, after B took it over: every one lease_lost.
    void expect_late_acks_lost(uint32_t p) {
        command("ack " + std::to_string(p));
        ASSERT_TRUE(holder_says("did ack " + std::to_string(p), 10s));
        const HolderLog a = read_holder();
        std::size_t late = 0, lost = 0;
        for (auto& [where, result] : a.late_acks)
            if (where.first == p) ++late, lost += result == "lease_lost";
        EXPECT_GT(late, 0u);
        EXPECT_EQ(lost, late) << "A's late ACKs of partition " << p << " after B took it over";
    }

    // B's first deliveries of each partition in `from_a` are A's unACKed
    // offsets there, in offset order; per key B's records rise strictly.
    void expect_b_starts_with(const std::map<uint32_t, std::vector<uint64_t>>& from_a, const Records& b) {
        for (auto& [p, offsets] : from_a) {
            EXPECT_FALSE(offsets.empty());
            EXPECT_EQ(first_offsets(b, p, offsets.size()), offsets)
                << "B's first deliveries of partition " << p << " must be A's unACKed offsets, in order";
        }
        EXPECT_TRUE(per_key_order(b, kPartitions));
    }
};

// The scenario of the issue: A holds, B joins and takes a partition, A's late
// ACKs there are lost, then A is SIGKILLed holding the other partition's.
TEST_F(HandoffTest, ownerKilledAfterARebalanceHandsOverItsUnackedOffsetsFirstInOrder) {
    TempQueue q("handoff-kill", options());
    const Started s = start(q, 5000);  // B idles longer than its 1 s check of members' liveness
    expect_late_acks_lost(s.b_partition);
    ASSERT_TRUE(workers.wait(producers, 60s, {s.a, s.b}));
    std::this_thread::sleep_for(200ms);  // A has received wave 1 in its partition, and holds some of it
    workers.kill(*s.a);
    EXPECT_TRUE(workers.wait({s.b}, 60s));

    const HolderLog a = read_holder();
    const Records b = test::read_records(outputs["g"]);
    expect_b_starts_with(unacked(a), b);
    EXPECT_TRUE(nothing_lost_nothing_twice(a, b));
    // A's messages came back as redeliveries: deliveries 2 (1 counted, 1 handoff, or 2 after the death).
    for (const Record& r : b.records)
        if (r.deliveries > 2) ADD_FAILURE() << "B got offset " << r.offset << " with " << r.deliveries << " deliveries";
}

// A stays alive: its late ACKs in the partition it lost are lease_lost, in
// the one it kept they succeed; nothing is lost, nothing consumed twice.
TEST_F(HandoffTest, liveOwnerAckingLateLosesOnlyTheHandedOverPartition) {
    TempQueue q("handoff-late", options());
    const Started s = start(q, 3000);
    expect_late_acks_lost(s.b_partition);
    ASSERT_TRUE(workers.wait(producers, 60s, {s.a, s.b}));
    std::this_thread::sleep_for(200ms);
    const uint32_t kept = 1 - s.b_partition;
    command("ack " + std::to_string(kept));
    ASSERT_TRUE(holder_says("did ack " + std::to_string(kept), 10s));
    command("exit");
    EXPECT_TRUE(workers.wait({s.a, s.b}, 60s));

    const HolderLog a = read_holder();
    std::size_t kept_ok = 0, kept_acks = 0;
    for (auto& [where, result] : a.late_acks)
        if (where.first == kept) ++kept_acks, kept_ok += result == "ok";
    EXPECT_GT(kept_acks, 0u);
    EXPECT_EQ(kept_ok, kept_acks) << "A still owns partition " << kept << ": its late ACKs there succeed";
    const Records b = test::read_records(outputs["g"]);
    auto from_a = unacked(a);
    from_a.erase(kept);
    expect_b_starts_with(from_a, b);
    EXPECT_TRUE(nothing_lost_nothing_twice(a, b));
}

// A leaves cleanly (drops its Consumer) while it holds messages: B takes
// both partitions at once and gets A's unACKed offsets of each first.
TEST_F(HandoffTest, ownerLeavingWhileHoldingMessagesHandsThemOverFirst) {
    TempQueue q("handoff-leave", options());
    start_producers(q.name, 1, kPerWave, kKeys, 0);
    ASSERT_TRUE(workers.wait(producers, 60s));
    Worker& a = start_holder(q.name);
    ASSERT_TRUE(holder_says("ready " + std::to_string(kPerWave), 60s)) << a.describe();
    start_consumers(q.name, "g", "exclusive", 1, {"--idle-ms", "3000"});
    Worker& b = *consumers.back();
    // B joined while A holds: wait until A gave up one partition to B, then A leaves.
    ASSERT_TRUE(test::wait_for_file_size(outputs["g"][0], 1, 10s)) << b.describe();
    command("leave");
    ASSERT_TRUE(holder_says("did leave", 10s));
    producers.clear();
    start_producers(q.name, 1, kPerWave, kKeys, 1);
    ASSERT_TRUE(workers.wait(producers, 60s, {&a, &b}));
    std::this_thread::sleep_for(500ms);  // B has taken over and worked through A's
    for (uint32_t p = 0; p < kPartitions; ++p) expect_late_acks_lost(p);
    command("exit");
    EXPECT_TRUE(workers.wait({&a, &b}, 60s));

    const HolderLog a_log = read_holder();
    const Records b_records = test::read_records(outputs["g"]);
    expect_b_starts_with(unacked(a_log), b_records);
    EXPECT_TRUE(nothing_lost_nothing_twice(a_log, b_records));
}

// Three members join and leave in a loop (each consumes a random number of
// messages, then exits; one in three holds each batch past the handoff
// grace) while a producer runs. After the retractions of ACKs that lost
// their lease to a handoff, every message is consumed exactly once, and per
// key the group consumed in send order.
TEST_F(HandoffTest, membersJoiningAndLeavingInALoopKeepPerKeyOrder) {
    QueueOptions o = options();
    o.partitions = 4;
    o.capacity = 1024;
    TempQueue q("handoff-churn", o);
    const uint64_t count = test::scaled(20'000, 3000);
    start_producers(q.name, 1, count, 16);
    Worker& producer = *producers[0];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    auto next_random = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull, seed >> 33; };
    std::vector<Worker*> slots(3, nullptr);
    uint32_t started = 0;
    auto start_member = [&](uint32_t i) {
        std::vector<std::string> extra{"--idle-ms", "1000", "--count", std::to_string(200 + next_random() % 1500),
                                       "--batch", "32"};
        if (i == 0) extra.insert(extra.end(), {"--ack-delay-ms", "300"});  // longer than the grace: revoked
        start_consumers(q.name, "g", "exclusive", 1, extra);
        slots[i] = consumers.back();
        ++started;
    };
    for (uint32_t i = 0; i < slots.size(); ++i) start_member(i);
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    while (workers.running(producer) && std::chrono::steady_clock::now() < deadline) {
        for (uint32_t i = 0; i < slots.size(); ++i)
            if (!workers.running(*slots[i])) {
                ASSERT_TRUE(slots[i]->succeeded()) << slots[i]->describe();
                start_member(i);
            }
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(workers.wait(producers, 10s)) << "the producer did not finish within 180 s";
    // The members finish their counts (or idle out); then one consumer, alone
    // in the group and so owner of every partition, drains what is left.
    EXPECT_TRUE(workers.wait(consumers, 120s));
    start_consumers(q.name, "g", "exclusive", 1, {"--idle-ms", "2000"});
    EXPECT_TRUE(workers.wait({consumers.back()}, 120s));

    const Records rs = test::read_records(outputs["g"]);
    EXPECT_TRUE(exactly_once(rs, 1, count));
    EXPECT_TRUE(offsets_contiguous(rs, o.partitions));
    // Per key, what the group consumed, in the time it was received: in send order.
    std::map<std::string, std::vector<const Record*>> by_key;
    for (const Record& r : rs.records) by_key[r.key].push_back(&r);
    std::size_t bad = 0;
    for (auto& [key, recs] : by_key) {
        std::sort(recs.begin(), recs.end(), [](const Record* x, const Record* y) { return x->received_ns < y->received_ns; });
        for (std::size_t i = 1; i < recs.size(); ++i)
            if (recs[i - 1]->seq >= recs[i]->seq && ++bad <= 5)
                ADD_FAILURE() << "key " << key << ": seq " << recs[i]->seq << " consumed after seq " << recs[i - 1]->seq;
    }
    EXPECT_EQ(bad, 0u);
    std::cout << "[ shmq ] " << started << " members in all; " << distribution(rs) << std::endl;
}

}  // namespace
}  // namespace shmq
