// on_full=spill end to end, with real processes: producers never block on a
// full ring, shmqd moves the overflow to disk and back in partition order;
// SIGKILLs of shmqd in the middle lose and duplicate nothing; a full disk
// answers `overloaded`; the CLI round trip of the done-criterion.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/record_checks.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using namespace test::checks;
using test::Worker;

QueueOptions spill_options(uint32_t capacity, uint32_t partitions) {
    QueueOptions o;
    o.capacity = capacity;
    o.partitions = partitions;
    o.max_message = 64;
    o.on_full = OnFull::spill;
    return o;
}

class SpillTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] record files and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    Worker& producer(const std::string& queue, uint32_t id, uint64_t count, const std::string& timeout_ms = "") {
        std::vector<std::string> args{"produce", queue, "--id", std::to_string(id), "--count", std::to_string(count),
                                      "--keys", "8"};
        if (!timeout_ms.empty()) args.insert(args.end(), {"--timeout-ms", timeout_ms});
        return workers.start("producer " + std::to_string(id), args);
    }
    Worker& consumer(const std::string& queue, const std::string& file, uint64_t count, int ack_delay_ms = 0) {
        return workers.start("consumer", {"consume", queue, "--group", "g", "--kind", "exclusive", "--out",
                                          dir.file(file).string(), "--count", std::to_string(count), "--idle-ms",
                                          "20000", "--ack-delay-ms", std::to_string(ack_delay_ms)});
    }

    test::TempDir dir{"spill"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

// The test: capacity 64, 2 producers x 8 keys, 2 partitions, one
// exclusive consumer: every message once, per-key order, and spilling happened.
TEST_F(SpillTest, overflowGoesToDiskAndBackInOrder) {
    test::TempQueue q("spill", spill_options(64, 2));
    shmqd.start("--queue " + q.name);
    const uint64_t per_producer = test::scaled(100'000);
    Worker& c = consumer(q.name, "c.rec", 2 * per_producer);
    Worker& p0 = producer(q.name, 0, per_producer);
    Worker& p1 = producer(q.name, 1, per_producer);
    ASSERT_TRUE(workers.wait({&p0, &p1, &c}, 240s, {&c}));
    const auto rs = test::read_records({dir.file("c.rec")});
    EXPECT_TRUE(exactly_once(rs, 2, per_producer));
    EXPECT_TRUE(per_key_order(rs, 2));
    EXPECT_TRUE(offsets_contiguous(rs, 2));
    const auto s = test::snapshot_of(q.name);
    EXPECT_GT(s.spilled, 0u) << "a 64-slot ring must have overflowed";
    EXPECT_EQ(s.spill_backlog, 0u);
    std::cout << "[ shmq ] spilled " << s.spilled << " of " << 2 * per_producer << " messages" << std::endl;
}

// Producers finish while no consumer exists: everything beyond the rings is
// on disk (stat shows it), then a consumer gets it all, in order.
TEST_F(SpillTest, backlogOnDiskShowsInStatAndDrains) {
    test::TempQueue q("spill", spill_options(64, 2));
    shmqd.start("--queue " + q.name);
    const uint64_t per_producer = test::scaled(20'000);
    Worker& p0 = producer(q.name, 0, per_producer);
    Worker& p1 = producer(q.name, 1, per_producer);
    ASSERT_TRUE(workers.wait({&p0, &p1}, 60s)) << "producers must never block on a full ring";
    // The staging rings drain to disk within a few polls.
    uint64_t on_disk = 0;
    for (int i = 0; i < 400 && on_disk + 2 * 64 < 2 * per_producer; ++i) {
        on_disk = 0;
        for (const auto& p : test::snapshot_of(q.name).partitions) on_disk += p.spill_disk_messages;
        std::this_thread::sleep_for(10ms);
    }
    const auto before = test::snapshot_of(q.name);
    EXPECT_EQ(before.spilled, 2 * per_producer - 2 * 64) << "all but the two rings' worth overflowed";
    EXPECT_EQ(on_disk, before.spilled) << "the whole backlog is on disk";
    EXPECT_GT(before.spill_disk_bytes, on_disk * 32) << "at least a record header per message";
    for (const auto& p : before.partitions) EXPECT_TRUE(p.spilling);

    Worker& c = consumer(q.name, "c.rec", 2 * per_producer);
    ASSERT_TRUE(workers.wait({&c}, 120s));
    const auto rs = test::read_records({dir.file("c.rec")});
    EXPECT_TRUE(exactly_once(rs, 2, per_producer));
    EXPECT_TRUE(per_key_order(rs, 2));
    bool idle = false;
    for (int i = 0; i < 200 && !idle; ++i) {  // shmqd stops spilling once all is refilled
        const auto s = test::snapshot_of(q.name);
        idle = s.spill_backlog == 0 && s.spill_disk_bytes == 0 && !s.partitions[0].spilling && !s.partitions[1].spilling;
        if (!idle) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(idle) << "spilling must stop when the backlog is refilled";
}

// SIGKILL shmqd at random instants while it spills and refills; restart it
// each time. Nothing is lost, nothing duplicated (refills are marked in the
// ring; the drain resumes at spill_head), order kept.
TEST_F(SpillTest, killedShmqdLosesNothingAndKeepsOrder) {
    test::TempQueue q("spill", spill_options(64, 2));
    Worker* d = &shmqd.start("--log-level debug --queue " + q.name);
    const uint64_t per_producer = test::scaled(60'000);
    Worker& c = consumer(q.name, "c.rec", 2 * per_producer, 1);  // slow: a backlog builds up and drains for seconds
    Worker& p0 = producer(q.name, 0, per_producer);
    Worker& p1 = producer(q.name, 1, per_producer);
    std::mt19937 rng(std::random_device{}());
    int kills = 0;
    for (; kills < 6 && (workers.running(p0) || workers.running(p1) || workers.running(c)); ++kills) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 250));
        workers.kill(*d);
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 50));
        d = &shmqd.start("--log-level debug --queue " + q.name);
    }
    ASSERT_TRUE(workers.wait({&p0, &p1, &c}, 240s, {&c}));
    const auto rs = test::read_records({dir.file("c.rec")});
    EXPECT_TRUE(exactly_once(rs, 2, per_producer));
    EXPECT_TRUE(per_key_order(rs, 2));
    std::cout << "[ shmq ] shmqd killed " << kills << " times; spilled " << test::snapshot_of(q.name).spilled << std::endl;
}

// The data dir is "full" (RLIMIT_FSIZE makes writes fail with EFBIG): once
// staging fills, sends answer `overloaded` at once and stat says why;
// nothing accepted is lost once shmqd can write again.
TEST_F(SpillTest, fullDiskAnswersOverloadedAndLosesNothing) {
    QueueOptions o = spill_options(64, 1);
    o.spill_buffer = 256;
    test::TempQueue q("spill", o);
    Worker* d = &shmqd.start("--queue " + q.name, "ulimit -f 64; trap '' XFSZ; ");  // 64 blocks: a few KiB of segments
    auto producer_handle = q.queue.producer();
    uint64_t sent = 0;
    Status st;
    SendOptions so;
    so.timeout = Millis(5000);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    char payload[64];
    while (std::chrono::steady_clock::now() < deadline) {
        const int n = std::snprintf(payload, sizeof payload, "0:%llu", static_cast<unsigned long long>(sent));
        st = producer_handle.send(std::string_view(payload, static_cast<std::size_t>(n)), so);
        if (!st) break;
        ++sent;
    }
    ASSERT_EQ(st.code(), Errc::overloaded) << "after " << sent << " sends: " << st.message();
    EXPECT_GT(sent, 64u + 256u) << "the ring, staging and some disk took messages first";
    const auto s = test::snapshot_of(q.name);
    EXPECT_EQ(s.partitions[0].spill_status, "disk full");
    EXPECT_GE(s.partitions[0].spill_refused, 1u);
    EXPECT_TRUE(shmqd.wait_for_log("overloaded")) << shmqd.log_text();

    // Room again: a shmqd without the limit takes over; every accepted message arrives in order.
    workers.kill(*d);
    shmqd.start("--queue " + q.name);
    Worker& c = workers.start("consumer", {"consume", q.name, "--group", "g", "--kind", "exclusive", "--out",
                                           dir.file("c.rec").string(), "--count", std::to_string(sent), "--idle-ms",
                                           "20000"});
    ASSERT_TRUE(workers.wait({&c}, 60s));
    const auto rs = test::read_records({dir.file("c.rec")});
    EXPECT_TRUE(exactly_once(rs, 1, sent));
    EXPECT_TRUE(offsets_contiguous(rs, 1));
}

}  // namespace
}  // namespace shmq
