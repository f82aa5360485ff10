// `shmq bench` end to end: runs the real binary and checks the JSON contract
// (keys, baselines, ratios, parameters, machine facts) and that the figures
// are positive. Shape only: never how fast anything is.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "support/hgrm_parse.hpp"
#include "support/json_value.hpp"

namespace {

using shmq::test::Value;

// ---- running the tool ------------------------------------------------------

struct ToolRun {
    int exit_code;
    std::string out, err;
    int pid;  // of the shmq process
};

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    ::unlink(path.c_str());
    return s.str();
}

ToolRun shmq(const std::string& args) {
    static int counter = 0;
    const std::string base = "/tmp/shmq-bench-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const std::string cmd = "sh -c 'echo $$ >" + base + ".pid; exec \"" SHMQ_TOOL "\" " + args + "' >" + base +
                            ".out 2>" + base + ".err";
    const int status = std::system(cmd.c_str());
    ToolRun r{WIFEXITED(status) ? WEXITSTATUS(status) : 128, slurp(base + ".out"), slurp(base + ".err"), 0};
    r.pid = std::atoi(slurp(base + ".pid").c_str());
    return r;
}

// Nothing the run created is left in /dev/shm (its names carry its pid).
void expect_nothing_left(int pid) {
    ASSERT_GT(pid, 0);
    const std::string tag = "-" + std::to_string(pid) + "-";
    DIR* d = ::opendir("/dev/shm");
    ASSERT_NE(d, nullptr);
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.find("bench-") != std::string::npos) {
            EXPECT_EQ(n.find(tag), std::string::npos) << "left behind: " << n;
        }
    }
    ::closedir(d);
}

Value parse_json(const ToolRun& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    try {
        return shmq::test::parse_json_text(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what() << " in: " << r.out.substr(0, 400);
        return {};
    }
}

const char* const kLatencyKeys[] = {"min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"};
const char* const kRatioKeys[] = {"min", "p50", "p90", "p99", "p999", "p9999", "max"};

void expect_positive(const Value& o, const std::string& key, const std::string& where) {
    ASSERT_TRUE(o.contains(key)) << where << " lacks " << key;
    EXPECT_EQ(o.at(key).is_number(), true) << where << "." << key;
    EXPECT_GT(o.at(key).get<double>(), 0) << where << "." << key;
}

void expect_machine(const Value& v) {
    ASSERT_TRUE(v.contains("machine"));
    const Value& m = v.at("machine");
    EXPECT_FALSE(m.at("cpu_model").get<std::string>().empty());
    EXPECT_FALSE(m.at("kernel").get<std::string>().empty());
    expect_positive(m, "nproc", "machine");
    EXPECT_EQ(m.at("cpus").is_array(), true);
}

void expect_latency_figures(const Value& o, const std::string& where) {
    for (const char* k : kLatencyKeys) expect_positive(o, k, where);
    // Percentiles are ordered.
    double last = 0;
    for (const char* k : kLatencyKeys) {
        EXPECT_GE(o.at(k).get<double>(), last) << where << "." << k;
        last = o.at(k).get<double>();
    }
    expect_positive(o, "count", where);
    EXPECT_EQ(o.at("distribution").is_array(), true) << where;
    EXPECT_FALSE(o.at("method").get<std::string>().empty()) << where;
}

// Every baseline has the same keys as shmq (or says why it was skipped), and
// every measured one has a ratio entry with `ratio_keys`.
template <class Check, std::size_t N>
void expect_baselines(const Value& v, const std::vector<std::string>& expected, Check&& figures,
                      const char* const (&ratio_keys)[N]) {
    ASSERT_TRUE(v.contains("baselines"));
    ASSERT_TRUE(v.contains("ratios"));
    const Value& b = v.at("baselines");
    const Value& r = v.at("ratios");
    EXPECT_EQ(b.size(), expected.size());
    for (const auto& name : expected) {
        ASSERT_TRUE(b.contains(name)) << "baselines." << name;
        if (b.at(name).contains("skipped")) {
            EXPECT_FALSE(b.at(name).at("skipped").get<std::string>().empty());
            EXPECT_FALSE(r.contains(name));
            continue;
        }
        figures(b.at(name), "baselines." + name);
        ASSERT_TRUE(r.contains(name)) << "ratios." << name;
        for (const char* k : ratio_keys) expect_positive(r.at(name), k, "ratios." + name);
    }
}

const std::vector<std::string> kCommon{"bare", "boost_mq", "posix_mq", "pipe", "socketpair"};

TEST(BenchCliTest, latencyJsonHasShmqBaselinesAndRatios) {
    const ToolRun r = shmq("bench latency --count 2000 --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "latency");
    expect_latency_figures(v, "top level");
    EXPECT_EQ(v.at("count").get<double>(), 2000);
    EXPECT_EQ(v.at("params").at("size").get<double>(), 64);
    EXPECT_EQ(v.at("params").at("count").get<double>(), 2000);
    expect_machine(v);
    expect_baselines(v, kCommon, expect_latency_figures, kRatioKeys);
    // The bare hand-off is the hardware limit: it must have run.
    EXPECT_FALSE(v.at("baselines").at("bare").contains("skipped"));
    expect_nothing_left(r.pid);
}

// --hgrm: shmq's distribution in FILE, the bare baseline's in FILE with
// .bare before the extension, both as HdrHistogram writes them, agreeing
// with the JSON (microseconds there, nanoseconds here).
TEST(BenchCliTest, latencyHgrmWritesHdrHistogramsTextForShmqAndEachBaseline) {
    char dir_template[] = "/tmp/shmq-hgrm-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const std::string file = dir + "/lat.hgrm";
    const ToolRun r = shmq("bench latency --count 300 --rounds 1 --baselines bare --json --hgrm " + file);
    const Value v = parse_json(r);
    std::map<std::string, double> max_us{{file, v.at("max_ns").get<double>() / 1000.0},
                                         {dir + "/lat.bare.hgrm", v.at("baselines").at("bare").at("max_ns").get<double>() / 1000.0}};
    for (const auto& [path, max] : max_us) {
        std::ifstream f(path);
        ASSERT_TRUE(f.good()) << "no " << path;
        std::stringstream text;
        text << f.rdbuf();
        std::string why;
        const auto h = shmq::test::parse_hgrm(text.str(), why);
        ASSERT_TRUE(h) << path << ": " << why << "\n" << text.str();
        ASSERT_GE(h->rows.size(), 2u) << path;
        EXPECT_EQ(h->rows.front().percentile, 0.0) << path;
        EXPECT_EQ(h->rows.back().percentile, 1.0) << path;
        EXPECT_EQ(h->rows.back().total_count, 300u) << path;
        EXPECT_EQ(h->total, 300u) << path;
        EXPECT_NEAR(h->max, max, 0.0005) << path << ": the footer's max (us) is the JSON's max_ns";
        EXPECT_NEAR(h->rows.back().value, max, 0.0005) << path;
        EXPECT_GT(h->mean, 0.0) << path;
        EXPECT_EQ(h->sub_buckets, 2048u) << path;
        ::unlink(path.c_str());
    }
    EXPECT_EQ(::rmdir(dir.c_str()), 0) << "only the two files were written in " << dir;
    const ToolRun bad = shmq("bench latency --count 10 --hgrm /nonexistent-dir/lat.hgrm");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--hgrm: cannot write /nonexistent-dir/lat.hgrm"), std::string::npos) << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    expect_nothing_left(r.pid);
}

TEST(BenchCliTest, throughputJsonHasShmqBaselinesAndRatios) {
    const ToolRun r = shmq("bench throughput --seconds 1 --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "throughput");
    expect_positive(v, "msgs_per_s", "top level");
    expect_positive(v, "mb_per_s", "top level");
    for (const char* k : {"size", "producers", "consumers", "partitions", "batch", "seconds"})
        expect_positive(v.at("params"), k, "params");
    EXPECT_EQ(v.at("params").at("group").get<std::string>(), "exclusive");
    EXPECT_EQ(v.at("params").at("ack").get<std::string>(), "none");
    expect_machine(v);
    static const char* const keys[] = {"msgs_per_s", "mb_per_s"};
    expect_baselines(
        v, kCommon,
        [](const Value& o, const std::string& where) {
            expect_positive(o, "msgs_per_s", where);
            expect_positive(o, "mb_per_s", where);
        },
        keys);
    expect_nothing_left(r.pid);
}

TEST(BenchCliTest, wakeupJsonHasFutexBaselineAndRatios) {
    const ToolRun r = shmq("bench wakeup --count 200 --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "wakeup");
    expect_latency_figures(v, "top level");
    EXPECT_EQ(v.at("params").at("count").get<double>(), 200);
    expect_machine(v);
    std::vector<std::string> expected{"futex"};
    expected.insert(expected.end(), kCommon.begin(), kCommon.end());
    expect_baselines(v, expected, expect_latency_figures, kRatioKeys);
    EXPECT_FALSE(v.at("baselines").at("futex").contains("skipped"));
    expect_nothing_left(r.pid);
}

TEST(BenchCliTest, baselinesNoneAndAList) {
    ToolRun r = shmq("bench latency --count 500 --baselines none --json");
    Value v = parse_json(r);
    expect_latency_figures(v, "top level");
    EXPECT_TRUE(v.at("baselines").empty());
    EXPECT_TRUE(v.at("ratios").empty());
    expect_nothing_left(r.pid);

    r = shmq("bench throughput --seconds 0.3 --rounds 1 --ack each --baselines none --json");
    v = parse_json(r);
    expect_positive(v, "msgs_per_s", "top level");
    EXPECT_TRUE(v.at("baselines").empty());
    EXPECT_EQ(v.at("params").at("ack").get<std::string>(), "each");
    expect_nothing_left(r.pid);

    r = shmq("bench throughput --seconds 0.3 --rounds 1 --ack batch --batch 16 --baselines bare,pipe --json");
    v = parse_json(r);
    expect_positive(v, "msgs_per_s", "top level");
    EXPECT_EQ(v.at("baselines").size(), 2u);
    expect_positive(v.at("ratios").at("bare"), "msgs_per_s", "ratios.bare");
    expect_positive(v.at("ratios").at("pipe"), "msgs_per_s", "ratios.pipe");
    expect_nothing_left(r.pid);
}

// bare_batch: the bare ring publishing once per --batch N, run beside bare
// when named; `all` lists it only with --batch > 1.
TEST(BenchCliTest, throughputBareBatchBaseline) {
    ToolRun r = shmq("bench throughput --batch 8 --seconds 0.2 --rounds 1 --baselines bare,bare_batch --json");
    Value v = parse_json(r);
    EXPECT_EQ(v.at("baselines").size(), 2u);
    expect_positive(v.at("baselines").at("bare"), "msgs_per_s", "baselines.bare");
    expect_positive(v.at("baselines").at("bare_batch"), "msgs_per_s", "baselines.bare_batch");
    expect_positive(v.at("ratios").at("bare_batch"), "msgs_per_s", "ratios.bare_batch");
    expect_nothing_left(r.pid);

    r = shmq("bench throughput --seconds 0.1 --rounds 1 --baselines all --json");  // batch 1
    v = parse_json(r);
    EXPECT_FALSE(v.at("baselines").contains("bare_batch"));
    expect_nothing_left(r.pid);
}

TEST(BenchCliTest, humanTableShowsRatios) {
    const ToolRun r = shmq("bench latency --count 500 --baselines bare");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("p99.99"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("shmq / bare"), std::string::npos) << r.out;
}

// `bench daemon` on 3 queues: every documented key, counts as asked, figures
// non-negative, and nothing left behind (queues, temporary directory, shmqd).
TEST(BenchCliTest, daemonJsonHasOneRowPerQueueCountWithEveryKey) {
    const ToolRun r = shmq("bench daemon --queues 3,4 --seconds 0.5 --warmup 0 --kills 3 --expiries 2 --shmqd \"" SHMQD_PATH
                           "\" --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "daemon");
    EXPECT_EQ(v.at("shmqd").get<std::string>(), SHMQD_PATH);
    EXPECT_EQ(v.at("params").at("kills").get<double>(), 3);
    EXPECT_EQ(v.at("params").at("expiries").get<double>(), 2);
    EXPECT_EQ(v.at("params").at("busy_pct").get<double>(), 10);
    for (const char* k : {"queues", "idle_cpu_pct", "busy_cpu_pct", "kill_redelivery_p99_ms", "expiry_late_p99_ms"})
        EXPECT_TRUE(v.at("targets").contains(k)) << "targets." << k;
    expect_machine(v);
    const Value& rows = v.at("rows");
    ASSERT_EQ(rows.size(), 2u);
    const double counts[] = {3, 4};
    for (std::size_t i = 0; i < 2; ++i) {
        const Value& row = rows.at(i);
        const std::string where = "rows[" + std::to_string(i) + "]";
        EXPECT_EQ(row.at("queues").get<double>(), counts[i]);
        EXPECT_EQ(row.at("busy_queues").get<double>(), 1) << where;  // 10% of 3 or 4, at least one
        EXPECT_EQ(row.at("kills").get<double>(), 3) << where;
        EXPECT_EQ(row.at("expiries").get<double>(), 2) << where;
        for (const char* k : {"startup_ms", "idle_cpu_pct", "idle_wait_pct", "idle_rss_mib", "idle_rss_anon_mib",
                              "busy_cpu_pct", "busy_wait_pct", "busy_rss_mib", "busy_rss_anon_mib", "busy_msgs_per_s", "busy_target_msgs_per_s",
                              "kill_redelivery_p50_ms", "kill_redelivery_p99_ms", "kill_redelivery_max_ms",
                              "expiry_late_p50_ms", "expiry_late_p99_ms", "expiry_late_max_ms", "expiry_early",
                              "expiry_earliest_ms", "ls_ms", "ls_rows",
                              "scrape_ms", "scrape_bytes"}) {
            ASSERT_TRUE(row.contains(k)) << where << " lacks " << k;
            EXPECT_TRUE(row.at(k).is_number()) << where << "." << k;
            EXPECT_GE(row.at(k).get<double>(), 0) << where << "." << k;
        }
        for (const char* k : {"idle_rss_mib", "busy_msgs_per_s", "kill_redelivery_max_ms", "ls_ms", "scrape_ms", "scrape_bytes"})
            EXPECT_GT(row.at(k).get<double>(), 0) << where << "." << k;
        EXPECT_EQ(row.at("busy_target_msgs_per_s").get<double>(), 10000) << where;
        EXPECT_GE(row.at("ls_rows").get<double>(), counts[i]) << where;  // ours, and whatever else is in /dev/shm
        EXPECT_LE(row.at("kill_redelivery_p50_ms").get<double>(), row.at("kill_redelivery_p99_ms").get<double>());
        EXPECT_LE(row.at("expiry_late_p99_ms").get<double>(), row.at("expiry_late_max_ms").get<double>());
    }
    expect_nothing_left(r.pid);
    DIR* d = ::opendir("/tmp");
    ASSERT_NE(d, nullptr);
    const std::string dir = "shmq-bench-daemon-" + std::to_string(r.pid) + "-";
    while (dirent* e = ::readdir(d)) EXPECT_NE(std::string(e->d_name).rfind(dir, 0), 0u) << "left behind: /tmp/" << e->d_name;
    ::closedir(d);
}

// `bench transaction`: a tiny run; the four variants, the ratios and the
// targets in the JSON, nothing left behind. Shape only, never the figures' size.
TEST(BenchCliTest, delayJsonHasLatenessBaselineAndNoneEarly) {
    const ToolRun r = shmq("bench delay --count 300 --max-delay-ms 200 --shmqd \"" SHMQD_PATH "\" --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "delay");
    EXPECT_EQ(v.at("unit").get<std::string>(), "ms");
    EXPECT_EQ(v.at("params").at("count").get<double>(), 300);
    EXPECT_EQ(v.at("params").at("max_delay_ms").get<double>(), 200);
    EXPECT_EQ(v.at("received").get<double>(), 300);
    EXPECT_EQ(v.at("early").get<double>(), 0) << "a delayed message came before its due time";
    for (const char* spread : {"lateness_ms", "baseline_ms"})
        for (const char* k : {"p50", "p99", "max"}) EXPECT_TRUE(v.at(spread).contains(k)) << spread << "." << k;
    EXPECT_EQ(v.at("target").at("p99_ms").get<double>(), 20);
    expect_machine(v);
}

TEST(BenchCliTest, transactionJsonHasFourVariantsRatiosAndTargets) {
    const ToolRun r = shmq("bench transaction --count 2000 --rounds 1 --json");
    const Value v = parse_json(r);
    EXPECT_EQ(v.at("bench").get<std::string>(), "transaction");
    for (const char* k : {"size", "partitions", "batch", "count", "rounds", "capacity"})
        expect_positive(v.at("params"), k, "params");
    EXPECT_EQ(v.at("params").at("group").get<std::string>(), "exclusive");
    EXPECT_EQ(v.at("params").at("batch").get<double>(), 64);
    expect_machine(v);
    const Value& variants = v.at("variants");
    ASSERT_EQ(variants.size(), 4u);
    const char* const names[] = {"tx1", "tx64", "plain1", "plain64"};
    for (std::size_t i = 0; i < 4; ++i) {
        const Value& o = variants.at(i);
        const std::string where = std::string("variants.") + names[i];
        EXPECT_EQ(o.at("name").get<std::string>(), names[i]);
        EXPECT_EQ(o.at("transactional").get<bool>(), i < 2) << where;
        for (const char* k : {"median", "min", "max"}) expect_positive(o.at("messages_per_sec"), k, where);
        EXPECT_EQ(o.at("messages_per_sec").at("rounds").size(), 1u) << where;
        EXPECT_GE(o.at("messages_per_sec").at("max").get<double>(), o.at("messages_per_sec").at("min").get<double>());
        EXPECT_FALSE(o.at("method").get<std::string>().empty()) << where;
    }
    for (const char* k : {"tx1_vs_plain1", "tx64_vs_plain64"}) {
        expect_positive(v.at("ratios"), k, "ratios");
        expect_positive(v.at("targets"), k, "targets");
        ASSERT_TRUE(v.at("targets_met").contains(k)) << k;
        EXPECT_EQ(v.at("targets_met").at(k).get<bool>(),
                  v.at("ratios").at(k).get<double>() >= v.at("targets").at(k).get<double>())
            << k;
    }
    expect_nothing_left(r.pid);

    // --batch names the batched variants and the key of their ratio; the table says whether each target is met.
    const ToolRun t = shmq("bench transaction --count 2000 --rounds 1 --batch 8 --partitions 2 --group shared");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("tx8 / plain8"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("tx1 / plain1"), std::string::npos) << t.out;
    expect_nothing_left(t.pid);
}

TEST(BenchCliTest, badArgumentsGetOneLineAndNonZeroExit) {
    for (const char* args : {"bench throughput --ack sometimes", "bench latency --baselines nope", "bench wakeup --size 4",
                             "bench throughput --group neither --seconds 0.1", "bench latency --size 0",
                             "bench daemon --queues 1", "bench daemon --queues 10,x", "bench daemon --busy-pct 101",
                             "bench daemon --shmqd /nonexistent/shmqd --queues 2", "bench transaction --batch 1",
                             "bench transaction --group neither", "bench transaction --capacity 64 --batch 64"}) {
        const ToolRun r = shmq(args);
        EXPECT_NE(r.exit_code, 0) << args;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
        EXPECT_EQ(r.out, "") << args;
    }
}

}  // namespace
