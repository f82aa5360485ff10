// Chaos under shmqd: consumers (3 in a shared group, 2 in an exclusive one)
// are SIGKILLed at random instants every ~50 ms and restarted while 2
// producers send their messages; in one variant shmqd itself is SIGKILLed and
// restarted too. For each group: nothing lost, and duplicates no more than
// the messages in flight at the kills. Prints the figures and the time from a
// kill to the first redelivery that followed it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/record_checks.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using namespace test::checks;
using test::Worker;

uint64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr uint32_t kBatch = 64;  // a consumer worker holds at most this many unACKed messages

struct Slot {
    std::string group;
    const char* kind;
    Worker* worker = nullptr;
    int incarnation = 0;
};

class ChaosTest : public testing::TestWithParam<bool> {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] record files and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    Worker& start_daemon(const std::string& queue) {
        const std::string cmd = std::string("exec '") + SHMQD_PATH + "' --queue " + queue +
                                " --tick-ms 10 --data-dir " + dir.file("data").string() + " --lock-file " +
                                dir.file("shmqd.lock").string() + " 2>>" + dir.file("shmqd.log").string();
        return workers.start_program("shmqd", "/bin/sh", {"-c", cmd});
    }
    void start_consumer(const std::string& queue, Slot& s, std::map<std::string, std::vector<std::filesystem::path>>& files) {
        const auto file = dir.file(s.group + "-" + std::to_string(&s - slots.data()) + "-" +
                                   std::to_string(s.incarnation++) + ".txt");
        std::ofstream(file).close();  // exists even if the worker is killed before it opens it
        files[s.group].push_back(file);
        s.worker = &workers.start("consumer " + file.stem().string(),
                                  {"consume", queue, "--group", s.group, "--kind", s.kind, "--out", file.string(),
                                   "--batch", std::to_string(kBatch), "--idle-ms", "3000",
                                   // hold each batch a moment, so kills catch messages in flight
                                   "--ack-delay-ms", "2"});
    }

    test::TempDir dir{"chaos"};
    test::Workers workers;
    std::vector<Slot> slots;
};

TEST_P(ChaosTest, killedConsumersLoseNothingAndDuplicateOnlyWhatWasInFlight) {
    const bool kill_daemon = GetParam();
    const uint64_t per_producer = test::scaled(250'000);
    QueueOptions o;
    o.partitions = 4;
    o.lease_ms = 20000;  // redelivery must come from death detection, not expiry
    o.max_deliveries = 1000;
    test::TempQueue q("chaos", o);
    { auto a = q->consumer("shared", {.kind = GroupKind::shared}); }  // both groups exist before message 0
    { auto b = q->consumer("excl", {.kind = GroupKind::exclusive}); }

    Worker* daemon = &start_daemon(q.name);
    std::this_thread::sleep_for(100ms);
    std::map<std::string, std::vector<std::filesystem::path>> files;
    for (int i = 0; i < 3; ++i) slots.push_back({"shared", "shared"});
    for (int i = 0; i < 2; ++i) slots.push_back({"excl", "exclusive"});
    for (auto& s : slots) start_consumer(q.name, s, files);
    std::vector<Worker*> producers;
    for (int k = 0; k < 2; ++k)
        producers.push_back(&workers.start("producer " + std::to_string(k),
                                           {"produce", q.name, "--id", std::to_string(k), "--count",
                                            std::to_string(per_producer), "--keys", "64"}));

    std::mt19937 rng(static_cast<unsigned>(monotonic_ns()));
    std::map<std::string, std::vector<uint64_t>> kills;  // group -> kill times
    int daemon_kills = 0;
    uint64_t next_daemon_kill = monotonic_ns() + 300'000'000;
    const auto deadline = std::chrono::steady_clock::now() + 200s;
    auto producing = [&] {
        return std::any_of(producers.begin(), producers.end(), [&](Worker* w) { return workers.running(*w); });
    };
    // Kill while producers send and until the consumers have caught up.
    auto consumers_behind = [&] {
        auto region = detail::Region::open(q.name, detail::Access::read_only);
        return inspect::snapshot(*region).depth > 0;
    };
    while ((producing() || consumers_behind()) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 40));
        Slot& s = slots[rng() % slots.size()];
        kills[s.group].push_back(monotonic_ns());
        workers.kill(*s.worker);
        start_consumer(q.name, s, files);
        if (kill_daemon && monotonic_ns() >= next_daemon_kill) {
            workers.kill(*daemon);
            ++daemon_kills;
            daemon = &start_daemon(q.name);
            next_daemon_kill = monotonic_ns() + 200'000'000 + rng() % 200'000'000;
        }
    }
    ASSERT_TRUE(workers.wait(producers, 10s)) << "producers did not finish";
    std::vector<Worker*> consumers;
    for (auto& s : slots) consumers.push_back(s.worker);
    ASSERT_TRUE(workers.wait(consumers, 60s)) << "consumers did not drain the queue";

    for (const auto& [group, group_files] : files) {
        const auto records = test::read_records(group_files, /*allow_torn_tail=*/true);
        const std::size_t bound = kills[group].size() * kBatch;
        std::map<uint64_t, uint32_t> seen;
        std::size_t duplicates = 0;
        for (const auto& r : records.records)
            if (seen[uint64_t{r.producer} << 40 | r.seq]++ == 1) ++duplicates;
        // Time from each kill to the first redelivery received after it (and
        // before the group's next kill): how fast a death is repaired.
        std::vector<uint64_t> latencies;
        auto& times = kills[group];
        for (std::size_t k = 0; k < times.size(); ++k) {
            const uint64_t until = k + 1 < times.size() ? times[k + 1] : UINT64_MAX;
            uint64_t first = UINT64_MAX;
            for (const auto& r : records.records)
                if (r.deliveries >= 2 && r.received_ns > times[k] && r.received_ns < until)
                    first = std::min(first, r.received_ns);
            if (first != UINT64_MAX) latencies.push_back(first - times[k]);
        }
        std::sort(latencies.begin(), latencies.end());
        const double p50 = latencies.empty() ? 0 : static_cast<double>(latencies[latencies.size() / 2]) / 1e6;
        const double max = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
        std::cout << "[ chaos ] group " << group << (kill_daemon ? " (shmqd killed " + std::to_string(daemon_kills) + "x)" : "")
                  << ": " << 2 * per_producer << " messages, " << times.size() << " consumer kills, lost "
                  << (2 * per_producer - seen.size()) << ", duplicates " << duplicates << " (bound: " << times.size()
                  << " kills x " << kBatch << " in flight = " << bound << "); kill -> redelivery p50 " << p50
                  << " ms, max " << max << " ms over " << latencies.size() << " kills" << std::endl;
        EXPECT_TRUE(exactly_once(records, 2, per_producer, bound)) << "group " << group;
        EXPECT_GT(times.size(), 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Shmqd, ChaosTest, testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "shmqdAlsoKilled" : "shmqdAlive"; });

}  // namespace
}  // namespace shmq
