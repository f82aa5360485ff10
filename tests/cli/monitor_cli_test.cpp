// The monitoring verbs end to end: ls/stat/groups JSON against the documented
// schemas (docs/schema), rates from two samples, stat --watch, check's
// monitoring-plugins exit codes and perfdata, top's plain output; ls and top
// over many queues and past regions still being created.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "shmq/internal/bridge_table.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/participants.hpp"
#include "support/json_schema.hpp"
#include "support/posix_regex.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;
using test::ShellRun;

struct Queue_ {
    std::string name = test::unique_queue_name("mon");
    explicit Queue_(const std::string& options) {
        const ShellRun r = sh("$SHMQ create " + name + " " + options);
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    ~Queue_() { sh("$SHMQ delete " + name); }
};

test::Value json_of(const ShellRun& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    try {
        return test::parse_json_text(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what() << " in: " << r.out.substr(0, 300);
        return {};
    }
}

void expect_schema(const test::Value& v, const char* schema_file) {
    const auto checker = test::SchemaChecker::from_file(std::string(SHMQ_SOURCE_DIR "/docs/schema/") + schema_file);
    for (const auto& e : checker.check(v)) ADD_FAILURE() << schema_file << ": " << e;
}

const test::Value* find_named(const test::Value& array, const std::string& name) {
    for (const auto& v : array)
        if (v.at("name").get<std::string>() == name) return &v;
    return nullptr;
}

TEST(MonitorCliTest, schemaCheckerCatchesUndocumentedMissingAndMistypedKeys) {
    const test::SchemaChecker checker(test::parse_json_text(
        R"({"type":"object","required":["a","b"],"additionalProperties":false,)"
        R"("properties":{"a":{"type":"integer","minimum":0},"b":{"enum":["x","y"]}}})"));
    EXPECT_TRUE(checker.check(test::parse_json_text(R"({"a":1,"b":"x"})")).empty());
    EXPECT_EQ(checker.check(test::parse_json_text(R"({"a":1,"b":"x","c":2})")).size(), 1u);  // undocumented
    EXPECT_EQ(checker.check(test::parse_json_text(R"({"b":"y"})")).size(), 1u);              // missing
    EXPECT_EQ(checker.check(test::parse_json_text(R"({"a":1.5,"b":"z"})")).size(), 2u);      // mistyped, not in enum
}

// A bridge's entry (as `shmq bridge` writes it) in stat's text and JSON.
TEST(MonitorCliTest, statShowsRunningBridgesFigures) {
    Queue_ q("--partitions 2 --capacity 256");
    ASSERT_EQ(sh("$SHMQ consume " + q.name + " --group to-nats --kind exclusive --count 0 --timeout-ms 10 >/dev/null")
                  .exit_code,
              0);
    auto region = detail::Region::open(q.name, detail::Access::read_write);
    detail::ScopedParticipant me(*region, layout::Role::admin);
    const auto g = detail::find_group(*region, "to-nats");
    ASSERT_TRUE(g);
    auto out = detail::BridgeStatus::claim(*region, me.get().token(), layout::BridgeDirection::out,
                                           static_cast<uint16_t>(*g), "ORDERS", "");
    auto in = detail::BridgeStatus::claim(*region, me.get().token(), layout::BridgeDirection::in, layout::kNoGroup,
                                          "ORDERS", "host-b");
    ASSERT_TRUE(out && in);
    out->set(layout::BridgeCounter::messages, 1234);
    out->set(layout::BridgeCounter::pending_acks, 17);
    out->set_connected(true);
    in->set(layout::BridgeCounter::lag, 55);

    const test::Value stat = json_of(sh("$SHMQ stat " + q.name + " --json"));
    expect_schema(stat, "stat.schema.json");
    const auto& bridges = stat.at("bridges");
    ASSERT_EQ(bridges.size(), 2u);
    EXPECT_EQ(bridges.at(0).at("direction").get<std::string>(), "out");
    EXPECT_EQ(bridges.at(0).at("group").get<std::string>(), "to-nats");
    EXPECT_EQ(bridges.at(0).at("stream").get<std::string>(), "ORDERS");
    EXPECT_TRUE(bridges.at(0).at("connected").get<bool>());
    EXPECT_EQ(bridges.at(0).at("messages").get<double>(), 1234);
    EXPECT_EQ(bridges.at(0).at("pending_acks").get<double>(), 17);
    EXPECT_EQ(bridges.at(1).at("direction").get<std::string>(), "in");
    EXPECT_EQ(bridges.at(1).at("consumer").get<std::string>(), "host-b");
    EXPECT_FALSE(bridges.at(1).at("connected").get<bool>());
    EXPECT_EQ(bridges.at(1).at("lag").get<double>(), 55);

    const ShellRun text = sh("$SHMQ stat " + q.name);
    EXPECT_NE(text.out.find("bridges (shmq bridge):"), std::string::npos) << text.out;
    EXPECT_TRUE(test::ere_search("  out +to-nats +ORDERS +connected +1.2K +17 ", text.out)) << text.out;
    EXPECT_TRUE(test::ere_search("  in +host-b +ORDERS +DOWN ", text.out)) << text.out;
}

TEST(MonitorCliTest, lsStatAndGroupsJsonFollowTheDocumentedSchema) {
    Queue_ q("--partitions 2 --capacity 256");
    ASSERT_EQ(sh("seq 1 150 | $SHMQ produce " + q.name + " --key a && seq 1 150 | $SHMQ produce " + q.name + " --key b")
                  .exit_code,
              0);
    ASSERT_EQ(sh("$SHMQ consume " + q.name + " --group g --kind exclusive --count 100 --timeout-ms 2000 >/dev/null")
                  .exit_code,
              0);

    const test::Value ls = json_of(sh("$SHMQ ls --json"));
    expect_schema(ls, "ls.schema.json");
    const test::Value* row = find_named(ls.at("queues"), q.name);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->at("published").get<double>(), 300);
    EXPECT_EQ(row->at("depth").get<double>(), 200);
    EXPECT_EQ(row->at("groups").get<double>(), 1);

    const test::Value stat = json_of(sh("$SHMQ stat " + q.name + " --json --sample-ms 100"));
    expect_schema(stat, "stat.schema.json");
    EXPECT_EQ(stat.at("published").get<double>(), 300);
    EXPECT_EQ(stat.at("acked").get<double>(), 100);
    EXPECT_EQ(stat.at("depth").get<double>(), 200);
    EXPECT_GE(stat.at("rates").at("interval_ms").get<double>(), 90);
    EXPECT_GT(stat.at("oldest_unacked_age_ms").get<double>(), 0);  // 200 messages wait
    ASSERT_EQ(stat.at("groups").size(), 1u);
    EXPECT_EQ(stat.at("groups").at(0).at("lag").get<double>(), 200);
    // Offset 0 of a consumed partition is a sample of the publish -> ACK histogram.
    const test::Value& latency = stat.at("groups").at(0).at("ack_latency");
    EXPECT_GE(latency.at("samples").get<double>(), 1);
    EXPECT_GT(latency.at("p50_le_ns").get<double>(), 0);
    EXPECT_GE(latency.at("max_le_ns").get<double>(), latency.at("p50_le_ns").get<double>());

    const test::Value groups = json_of(sh("$SHMQ groups " + q.name + " --json"));
    expect_schema(groups, "groups.schema.json");
    ASSERT_EQ(groups.at("groups").size(), 1u);
    EXPECT_EQ(groups.at("groups").at(0).at("kind").get<std::string>(), "exclusive");
    EXPECT_EQ(groups.at("groups").at(0).at("acked").get<double>(), 100);
}

TEST(MonitorCliTest, statRatesComeFromTwoSamplesOfLiveTraffic) {
    Queue_ q("--partitions 2 --capacity 1024");
    // A producer and a consumer that keep going until killed.
    const std::string pids = "/tmp/shmq-monitor-pids-" + std::to_string(::getpid());
    ASSERT_EQ(sh("(yes hello | $SHMQ produce " + q.name + " >/dev/null 2>&1 & echo $! >" + pids + ".p); ($SHMQ consume " +
                 q.name + " --group g >/dev/null 2>&1 & echo $! >" + pids + ".c)")
                  .exit_code,
              0);
    ::usleep(300'000);
    const test::Value stat = json_of(sh("$SHMQ stat " + q.name + " --json --sample-ms 500"));
    sh("kill $(cat " + pids + ".c) $(cat " + pids + ".p); pkill -f 'produce " + q.name + "'; rm -f " + pids + ".*");
    expect_schema(stat, "stat.schema.json");
    EXPECT_GT(stat.at("rates").at("published_per_s").get<double>(), 0);
    EXPECT_GT(stat.at("rates").at("acked_per_s").get<double>(), 0);
    EXPECT_GT(stat.at("groups").at(0).at("acked_per_s").get<double>(), 0);
    double partition_sum = 0;
    for (const auto& p : stat.at("partitions")) partition_sum += p.at("published_per_s").get<double>();
    EXPECT_GT(partition_sum, 0);
}

TEST(MonitorCliTest, statWatchPrintsOneObjectPerRefresh) {
    Queue_ q("--partitions 1 --capacity 64");
    const ShellRun r = sh("$SHMQ stat " + q.name + " --json --watch 0.1 --count 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
        const test::Value v = test::parse_json_text(line);
        expect_schema(v, "stat.schema.json");
        if (n > 0) {
            EXPECT_GE(v.at("rates").at("interval_ms").get<double>(), 90) << "refresh " << n;
        }
        ++n;
    }
    EXPECT_EQ(n, 3);
    const ShellRun text = sh("$SHMQ stat " + q.name + " --watch 0.1 --count 2 | grep -c '^partitions:'");
    EXPECT_EQ(text.out, "2\n");
}

TEST(MonitorCliTest, checkFollowsTheMonitoringPluginsConvention) {
    Queue_ q("--partitions 1 --capacity 256");
    ASSERT_EQ(sh("seq 1 50 | $SHMQ produce " + q.name).exit_code, 0);
    // One line: status, summary, perfdata (label=value[unit];warn;crit;min).
    const std::string line =
        "^SHMQ (OK|WARNING|CRITICAL) - queue [^ ]+: .* \\| depth=[0-9]+;[0-9]*;[0-9]*;0 lag=[0-9]+;[0-9]*;[0-9]*;0 "
        "dlq=[0-9]+;[0-9]*;[0-9]*;0 age=[0-9]+ms;[0-9]*;[0-9]*;0\n$";

    ShellRun r = sh("$SHMQ check " + q.name + " --warn-depth 100 --max-depth 1000");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(test::ere_search(line, r.out)) << r.out;
    EXPECT_NE(r.out.find("SHMQ OK"), std::string::npos);
    EXPECT_NE(r.out.find("depth=50;100;1000;0"), std::string::npos) << r.out;

    r = sh("$SHMQ check " + q.name + " --warn-depth 10 --max-depth 1000");
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_TRUE(test::ere_search(line, r.out)) << r.out;
    EXPECT_NE(r.out.find("SHMQ WARNING - queue " + q.name + ": depth 50 > 10"), std::string::npos) << r.out;

    r = sh("$SHMQ check " + q.name + " --warn-depth 10 --max-depth 40");
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.out.find("SHMQ CRITICAL"), std::string::npos) << r.out;

    // No group yet: depth counts everything; the age of the oldest message grows.
    ::usleep(50'000);
    r = sh("$SHMQ check " + q.name + " --max-age-ms 1");
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.out.find("age "), std::string::npos) << r.out;

    // A group that consumed everything: lag 0, depth 0.
    ASSERT_EQ(sh("$SHMQ consume " + q.name + " --group g --count 50 --timeout-ms 2000 >/dev/null").exit_code, 0);
    r = sh("$SHMQ check " + q.name + " --max-depth 0 --max-lag 0 --max-dlq 0");
    EXPECT_EQ(r.exit_code, 0) << r.out;

    r = sh("$SHMQ check no-such-queue-" + std::to_string(::getpid()));
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out.rfind("SHMQ UNKNOWN - ", 0), 0u) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST(MonitorCliTest, aPartitionAboveTheHighWatermarkMakesTheQueueOverloaded) {
    Queue_ q("--partitions 1 --capacity 64 --high-watermark 50");
    ASSERT_EQ(sh("seq 1 32 | $SHMQ produce " + q.name).exit_code, 0);  // 50% exactly: not above
    test::Value stat = json_of(sh("$SHMQ stat " + q.name + " --json --sample-ms 0"));
    expect_schema(stat, "stat.schema.json");
    EXPECT_EQ(stat.at("options").at("high_watermark_pct").get<double>(), 50);
    EXPECT_FALSE(stat.at("overloaded").get<bool>());
    EXPECT_EQ(sh("$SHMQ check " + q.name).exit_code, 0);

    ASSERT_EQ(sh("echo 33 | $SHMQ produce " + q.name).exit_code, 0);
    stat = json_of(sh("$SHMQ stat " + q.name + " --json --sample-ms 0"));
    EXPECT_TRUE(stat.at("overloaded").get<bool>());
    EXPECT_TRUE(stat.at("partitions").at(0).at("overloaded").get<bool>());
    EXPECT_NE(stat.at("overloaded_reason").get<std::string>().find("33 of 64"), std::string::npos) << stat.at("overloaded_reason").get<std::string>();
    const ShellRun check = sh("$SHMQ check " + q.name);
    EXPECT_EQ(check.exit_code, 1) << check.out;
    EXPECT_NE(check.out.find("SHMQ WARNING - queue " + q.name + ": overloaded: partition 0 holds 33 of 64"),
              std::string::npos)
        << check.out;
    EXPECT_EQ(sh("$SHMQ check " + q.name + " --max-depth 10").exit_code, 2);  // CRITICAL wins
    const test::Value ls = json_of(sh("$SHMQ ls --json"));
    const test::Value* row = find_named(ls.at("queues"), q.name);
    ASSERT_NE(row, nullptr);
    EXPECT_TRUE(row->at("overloaded").get<bool>());
    EXPECT_NE(sh("$SHMQ stat " + q.name + " --sample-ms 0").out.find("OVERLOADED: partition 0"), std::string::npos);

    const ShellRun bad = sh("$SHMQ create " + q.name + "-x --high-watermark 101");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("high-watermark"), std::string::npos) << bad.err;
}

TEST(MonitorCliTest, topPrintsPlainTablesSortedByDepthWhenNotATerminal) {
    Queue_ shallow("--partitions 1 --capacity 64");
    Queue_ deep("--partitions 1 --capacity 64");
    ASSERT_EQ(sh("seq 1 3 | $SHMQ produce " + shallow.name + " && seq 1 30 | $SHMQ produce " + deep.name).exit_code, 0);
    const ShellRun r = sh("$SHMQ top --count 2 --interval 0.1 </dev/null");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\033'), 0) << "no escape codes in plain mode";
    std::size_t refreshes = 0;
    for (std::size_t at = r.out.find("shmq top - "); at != std::string::npos; at = r.out.find("shmq top - ", at + 1))
        ++refreshes;
    EXPECT_EQ(refreshes, 2u);
    const auto deep_at = r.out.find(deep.name + " "), shallow_at = r.out.find(shallow.name + " ");
    ASSERT_NE(deep_at, std::string::npos) << r.out;
    ASSERT_NE(shallow_at, std::string::npos) << r.out;
    EXPECT_LT(deep_at, shallow_at) << "sorted by depth, deepest first:\n" << r.out;
}

// A region file whose creator has not published the header (still
// creating, or died doing so) is listed at once as `creating`, never waited
// for (Region::open would give a creator 2 s each: three would take 6 s).
TEST(MonitorCliTest, lsAndTopListRegionsStillBeingCreatedWithoutWaiting) {
    Queue_ live("--capacity 64 --max-message 64");
    struct stat st {};
    ASSERT_EQ(::stat(detail::region_path(live.name).c_str(), &st), 0);
    // Zero bytes at full size (the creator is filling it), and at size 0 (not yet sized).
    std::vector<std::string> creating;
    for (const off_t size : {off_t{st.st_size}, off_t{st.st_size}, off_t{0}}) {
        creating.push_back(test::unique_queue_name("creating"));
        const int fd = ::open(detail::region_path(creating.back()).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        EXPECT_EQ(::ftruncate(fd, size), 0);
        ::close(fd);
    }
    struct Unlink {
        const std::vector<std::string>& names;
        ~Unlink() {
            for (const auto& n : names) ::unlink(detail::region_path(n).c_str());
        }
    } unlink_them{creating};

    const auto start = std::chrono::steady_clock::now();
    const test::Value ls = json_of(sh("$SHMQ ls --json"));
    const ShellRun table = sh("$SHMQ ls");
    const ShellRun top = sh("$SHMQ top --count 1 </dev/null");
    // Generous: a bound on waiting for creators (2 s each), not a benchmark.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
    expect_schema(ls, "ls.schema.json");
    for (const auto& name : creating) {
        const test::Value* row = find_named(ls.at("queues"), name);
        ASSERT_NE(row, nullptr) << name;
        EXPECT_EQ(row->at("state").get<std::string>(), "creating");
        EXPECT_TRUE(test::ere_search(name + " +(- +)+creating", table.out)) << table.out;
        EXPECT_NE(top.out.find("creating: " + name + "\n"), std::string::npos) << top.out;
    }
    const test::Value* row = find_named(ls.at("queues"), live.name);  // the others are unaffected
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->at("state").get<std::string>(), "live");
    EXPECT_NE(top.out.find(live.name + " "), std::string::npos) << top.out;
}

// ls --json and one top frame over a couple of hundred queues: every queue
// listed once, the output valid. (Their speed is scripts/many-queues' business.)
TEST(MonitorCliTest, lsJsonAndOneTopFrameListManyQueues) {
    constexpr int kQueues = 200;
    QueueOptions options;
    options.capacity = 64;
    options.max_message = 64;
    std::vector<std::unique_ptr<test::TempQueue>> queues;
    for (int i = 0; i < kQueues; ++i) queues.push_back(std::make_unique<test::TempQueue>("many", options));

    const test::Value ls = json_of(sh("$SHMQ ls --json"));
    expect_schema(ls, "ls.schema.json");
    const ShellRun top = sh("$SHMQ top --count 1 </dev/null");
    ASSERT_EQ(top.exit_code, 0) << top.err;
    EXPECT_EQ(top.out.find("shmq top - "), 0u) << top.out.substr(0, 200);
    for (const auto& q : queues) {
        const test::Value* row = find_named(ls.at("queues"), q->name);
        ASSERT_NE(row, nullptr) << q->name;
        EXPECT_EQ(row->at("state").get<std::string>(), "live");
        EXPECT_EQ(row->at("capacity").get<double>(), 64);
        EXPECT_TRUE(test::ere_search("\n" + q->name + " +1 +0 ", top.out)) << q->name;
    }
}

TEST(MonitorCliTest, everyVerbHasHelpWithExamples) {
    for (const char* verb : {"create", "delete", "ls", "stat", "groups", "produce", "consume", "dlq", "bench", "check",
                             "top", "publish", "bench latency", "bench throughput", "bench wakeup", "bench publish"}) {
        const ShellRun r = sh(std::string("$SHMQ ") + verb + " --help");
        EXPECT_EQ(r.exit_code, 0) << verb;
        EXPECT_NE(r.out.find("Usage:"), std::string::npos) << verb;
        if (std::string(verb).rfind("bench ", 0) != 0) {
            EXPECT_NE(r.out.find("Example"), std::string::npos) << verb << " --help has no examples";
        }
    }
}

}  // namespace
}  // namespace shmq
