// Drives the `shmq` binary end to end through a shell, as a user would.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/json_schema.hpp"
#include "support/scale.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;
using test::ShellRun;

std::string temp_path(const std::string& tag) {
    return "/tmp/shmq-cli-" + std::to_string(::getpid()) + "-" + tag;
}

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

struct CliQueue {
    std::string name = test::unique_queue_name("cli");
    ~CliQueue() { sh("$SHMQ delete " + name); }
};

TEST(CliTest, createListStatAndDelete) {
    CliQueue q;
    auto r = sh("$SHMQ create " + q.name + " --partitions 3 --capacity 64 --max-message 128 --on-full reject --lease-ms 500 --max-groups 4 --mode 0660");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("3 partition(s) x 64 slots"), std::string::npos) << r.out;
    struct stat st {};
    ASSERT_EQ(::stat(("/dev/shm/shmq." + q.name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);

    r = sh("$SHMQ ls --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("\"name\":\"" + q.name + "\",\"state\":\"live\",\"partitions\":3,\"capacity\":64"), std::string::npos)
        << r.out;
    r = sh("$SHMQ ls");
    EXPECT_NE(r.out.find(q.name), std::string::npos);

    r = sh("$SHMQ stat " + q.name + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* key : {"\"on_full\":\"reject\"", "\"lease_ms\":500", "\"max_groups\":4", "\"mode\":\"0660\"",
                            "\"partitions\":[{\"partition\":0", "\"groups\":[]", "\"participants\":[]", "\"dlq\":{"})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
    r = sh("$SHMQ stat " + q.name);
    EXPECT_NE(r.out.find("groups: none"), std::string::npos) << r.out;

    r = sh("$SHMQ delete " + q.name);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(Queue::exists(q.name));
}

TEST(CliTest, badInputGetsOneLineAndNonZeroExitAndChangesNothing) {
    CliQueue q;
    auto expect_error = [](const ShellRun& r, const std::string& needle) {
        EXPECT_NE(r.exit_code, 0);
        EXPECT_EQ(count_lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    };
    expect_error(sh("$SHMQ create 'bad/name'"), "character '/'");
    expect_error(sh("$SHMQ create " + q.name + " --capacity 1000"), "power of two");
    expect_error(sh("$SHMQ create " + q.name + " --on-full sometimes"), "--on-full 'sometimes'");
    expect_error(sh("$SHMQ create " + q.name + " --mode 9"), "--mode");
    expect_error(sh("$SHMQ create " + q.name + " --on-full spill --spill-buffer 1000"), "power of two");
    expect_error(sh("$SHMQ create " + q.name + " --spill-buffer 1024"), "--spill-buffer needs --on-full spill");
    expect_error(sh("$SHMQ create " + q.name + " --fsync sometimes"), "--fsync 'sometimes'");
    EXPECT_FALSE(Queue::exists(q.name));
    expect_error(sh("$SHMQ stat " + q.name), "no queue named");
    expect_error(sh("$SHMQ delete " + q.name), "no queue named");
    expect_error(sh("echo hi | $SHMQ produce " + q.name), "no queue named");

    ASSERT_EQ(sh("$SHMQ create " + q.name + " --max-message 8").exit_code, 0);
    expect_error(sh("$SHMQ create " + q.name), "already exists");
    auto r = sh("printf 'ok\\nthis line is too long\\nnever\\n' | $SHMQ produce " + q.name);
    expect_error(r, "line 2 not sent");
    EXPECT_NE(r.err.find("1 message(s) were sent"), std::string::npos) << r.err;
    expect_error(sh("$SHMQ consume " + q.name + " --group g --kind neither"), "--kind");
    r = sh("$SHMQ consume " + q.name + " --group g --timeout-ms 200");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\n");
    expect_error(sh("$SHMQ consume " + q.name + " --group g --kind exclusive --timeout-ms 50"), "is shared");
}

TEST(CliTest, twoSharedConsumersPrintEachLineExactlyOnce) {
    CliQueue q;
    ASSERT_EQ(sh("$SHMQ create " + q.name).exit_code, 0);
    const std::string a = temp_path("a"), b = temp_path("b");
    auto r = sh("$SHMQ consume " + q.name + " --group g --kind shared --timeout-ms 3000 >" + a + " & " +
                "$SHMQ consume " + q.name + " --group g --kind shared --timeout-ms 3000 >" + b + " & " +
                "sleep 0.3; seq 1 100000 | $SHMQ produce " + q.name + "; wait");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::multiset<long> seen;
    std::size_t per_file[2] = {0, 0};
    int which = 0;
    for (const auto& path : {a, b}) {
        std::ifstream f(path);
        for (std::string line; std::getline(f, line);) {
            seen.insert(std::stol(line));
            ++per_file[which];
        }
        ::unlink(path.c_str());
        ++which;
    }
    EXPECT_EQ(seen.size(), 100000u);
    for (long v = 1; v <= 100000; ++v) ASSERT_EQ(seen.count(v), 1u) << "line " << v;
    std::cout << "consumer a printed " << per_file[0] << " lines, b " << per_file[1] << "\n";
    EXPECT_GT(per_file[0], 0u);
    EXPECT_GT(per_file[1], 0u);
}

TEST(CliTest, countNackAtMostOnceKeysAndGroups) {
    CliQueue q;
    ASSERT_EQ(sh("$SHMQ create " + q.name + " --partitions 4 --max-deliveries 3").exit_code, 0);
    ASSERT_EQ(sh("seq 1 10 | $SHMQ produce " + q.name + " --key same").exit_code, 0);
    // One key: one partition, in order, for an exclusive group.
    auto r = sh("$SHMQ consume " + q.name + " --group ordered --kind exclusive --count 10");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
    // --count stops early; the rest stays for the group.
    r = sh("$SHMQ consume " + q.name + " --group g --count 4");
    EXPECT_EQ(count_lines(r.out), 4u);
    // A failing worker NACKs: each message comes back until max-deliveries (3).
    r = sh("$SHMQ consume " + q.name + " --group g --nack --timeout-ms 500");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count_lines(r.out), 6u * 3u) << r.out;
    r = sh("$SHMQ stat " + q.name + " --json");
    EXPECT_NE(r.out.find("\"dead_lettered\":6"), std::string::npos) << r.out;
    // At-most-once: picked up means gone, even without a clean ACK.
    ASSERT_EQ(sh("seq 1 3 | $SHMQ produce " + q.name).exit_code, 0);
    r = sh("$SHMQ consume " + q.name + " --group amo --at-most-once --timeout-ms 300");
    EXPECT_EQ(count_lines(r.out), 13u);  // 10 keyed + 3 new: a new group starts at the oldest message held
    r = sh("$SHMQ groups " + q.name + " --json");
    EXPECT_NE(r.out.find("\"name\":\"ordered\",\"kind\":\"exclusive\""), std::string::npos) << r.out;
    r = sh("$SHMQ groups delete " + q.name + " ordered");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = sh("$SHMQ groups " + q.name);
    EXPECT_EQ(r.out.find("group ordered"), std::string::npos) << r.out;
    EXPECT_NE(sh("$SHMQ groups delete " + q.name + " nosuch").exit_code, 0);
}

// Issue 3's check from a shell: with shmqd running, a NACKing consumer sends
// all 10 messages to the DLQ, each after exactly 3 deliveries.
TEST(CliTest, nackedMessagesEndInTheDlqAndCanBeRedrivenOrPurged) {
    CliQueue q;
    const std::string lock = temp_path("shmqd.lock"), data = temp_path("shmqd-data"), log = temp_path("shmqd.log");
    ASSERT_EQ(sh("$SHMQ create " + q.name + " --max-deliveries 3").exit_code, 0);
    auto r = sh("'" SHMQD "' --queue " + q.name + " --lock-file " + lock + " --data-dir " + data + " 2>" + log +
                " & daemon=$!; sleep 0.2; seq 1 10 | $SHMQ produce " + q.name + " && $SHMQ consume " + q.name +
                " --group g --kind shared --nack --timeout-ms 2000 >/dev/null; kill $daemon; wait $daemon");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = sh("$SHMQ dlq ls " + q.name + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::size_t entries = 0;
    for (std::size_t at = 0; (at = r.out.find("\"delivery_count\":3", at)) != std::string::npos; ++at) ++entries;
    EXPECT_EQ(entries, 10u) << r.out;
    EXPECT_EQ(r.out.find("\"delivery_count\":2"), std::string::npos);
    r = sh("$SHMQ dlq peek " + q.name + " --count 3");
    EXPECT_EQ(r.out, "1\n2\n3\n");
    r = sh("$SHMQ dlq redrive " + q.name + " --count 4");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = sh("$SHMQ consume " + q.name + " --group g --timeout-ms 300");
    EXPECT_EQ(r.out, "1\n2\n3\n4\n");  // back in order, each delivered afresh
    r = sh("$SHMQ dlq purge " + q.name);
    EXPECT_NE(r.out.find("purged 6"), std::string::npos) << r.out;
    r = sh("$SHMQ dlq ls " + q.name);
    EXPECT_NE(r.out.find("empty"), std::string::npos) << r.out;
    ::unlink(lock.c_str());
    ::unlink(log.c_str());
    std::filesystem::remove_all(data);
}

// Issue 4's check from a shell: a 64-slot queue with on-full spill takes
// 100,000 lines at once (the overflow goes to disk through shmqd), and an
// exclusive consumer prints all of them, in order. The produce must not wait
// for the consumer: it runs first, to the end, with no group to drain the ring.
TEST(CliTest, spillTakesAHundredThousandLinesIntoA64SlotQueueAndGivesThemBackInOrder) {
    CliQueue q;
    const std::string lock = temp_path("shmqd.lock"), data = temp_path("shmqd-data"), log = temp_path("shmqd.log");
    ASSERT_EQ(sh("$SHMQ create " + q.name + " --capacity 64 --on-full spill").exit_code, 0);
    const uint64_t n = test::scaled(100'000, 20'000);
    auto r = sh("'" SHMQD "' --queue " + q.name + " --lock-file " + lock + " --data-dir " + data + " 2>" + log +
                " & daemon=$!; sleep 0.2; seq 1 " + std::to_string(n) + " | timeout 60 $SHMQ produce " + q.name +
                " && timeout 120 $SHMQ consume " + q.name +
                " --group g --kind exclusive --timeout-ms 3000 > " + temp_path("spill.out") +
                " && $SHMQ stat " + q.name + " --json --sample-ms 0; status=$?; kill $daemon; wait $daemon; exit $status");
    EXPECT_EQ(r.exit_code, 0) << r.err << test::slurp_and_remove(log);
    EXPECT_NE(r.out.find("\"spilled\":" + std::to_string(n - 64)), std::string::npos)
        << "all but the first 64 overflowed: " << r.out.substr(0, 400);
    const ShellRun diff = sh("seq 1 " + std::to_string(n) + " | cmp - " + temp_path("spill.out"));
    EXPECT_EQ(diff.exit_code, 0) << "consume did not print 1.." << n << " in order: " << diff.out << diff.err;
    ::unlink(temp_path("spill.out").c_str());
    ::unlink(lock.c_str());
    ::unlink(log.c_str());
    std::filesystem::remove_all(data);
}

// Issue 19: an all-or-nothing publish accepts a spilling target. A fanout
// exchange to a 16-slot on-full spill queue and a plain one takes thousands
// of lines at once (the spilling queue's slots go through shmqd's staging,
// each prepared there until its publish commits); both give every line back
// in order.
TEST(CliTest, aFanoutPublishIntoASpillingQueueAndAPlainOneGivesEveryLineBackFromBoth) {
    CliQueue s, b;
    const std::string x = test::unique_queue_name("cli-fan");
    const std::string lock = temp_path("shmqd-fan.lock"), data = temp_path("shmqd-fan-data"),
                      log = temp_path("shmqd-fan.log"), out_s = temp_path("fan-s.out"), out_b = temp_path("fan-b.out");
    const uint64_t n = test::scaled(5'000, 2'000);
    ASSERT_EQ(sh("$SHMQ create " + s.name + " --capacity 16 --on-full spill").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ create " + b.name + " --capacity 8192").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ exchange create " + x + " --type fanout").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ bind " + x + " " + s.name + " && $SHMQ bind " + x + " " + b.name).exit_code, 0);
    auto r = sh("'" SHMQD "' --queue " + s.name + " --lock-file " + lock + " --data-dir " + data + " 2>" + log +
                " & daemon=$!; sleep 0.2; seq 1 " + std::to_string(n) + " | timeout 60 $SHMQ publish " + x +
                " && timeout 60 $SHMQ consume " + s.name + " --group g --kind exclusive --count " + std::to_string(n) +
                " --timeout-ms 3000 > " + out_s + " && timeout 60 $SHMQ consume " + b.name +
                " --group g --kind exclusive --count " + std::to_string(n) + " --timeout-ms 3000 > " + out_b +
                "; status=$?; kill $daemon; wait $daemon; exit $status");
    sh("$SHMQ exchange delete " + x);
    EXPECT_EQ(r.exit_code, 0) << r.err << test::slurp_and_remove(log);
    EXPECT_NE(r.err.find(std::to_string(n) + " line(s) published, " + std::to_string(2 * n) + " queue(s) reached"),
              std::string::npos)
        << r.err;
    for (const auto& out : {out_s, out_b}) {
        const ShellRun diff = sh("seq 1 " + std::to_string(n) + " | cmp - " + out);
        EXPECT_EQ(diff.exit_code, 0) << out << " is not 1.." << n << " in order: " << diff.out << diff.err;
        ::unlink(out.c_str());
    }
    ::unlink(lock.c_str());
    ::unlink(log.c_str());
    std::filesystem::remove_all(data);
}

// The README's journal example from a shell: `replay --from-offset` gives a
// group the journal again from there, in order; `replay` refuses bad input
// with exit 2 and a group with live consumers with exit 1; after
// `delete --region-only` shmqd recreates the queue from its journal.
TEST(CliTest, replayAndRestoreFromAShell) {
    CliQueue q;
    const std::string lock = temp_path("shmqd.lock"), data = temp_path("shmqd-data"), log = temp_path("shmqd.log");
    const std::string out = temp_path("replay.out");
    ASSERT_EQ(sh("$SHMQ create " + q.name + " --capacity 64 --journal").exit_code, 0);
    auto expect_error = [](const ShellRun& e, const std::string& needle, int code) {
        EXPECT_EQ(e.exit_code, code) << e.err;
        EXPECT_EQ(count_lines(e.err), 1u) << e.err;
        EXPECT_NE(e.err.find(needle), std::string::npos) << e.err;
    };
    expect_error(sh("$SHMQ replay " + q.name + " --group g --from-time yesterday"), "RFC 3339", 2);
    expect_error(sh("$SHMQ replay " + q.name + " --group g"), "--from-offset", 2);
    expect_error(sh("$SHMQ replay " + q.name + " --group g --from-start"), "no shmqd serves", 1);
    auto r = sh("'" SHMQD "' --queue " + q.name + " --lock-file " + lock + " --data-dir " + data + " 2>" + log +
                " & daemon=$!; sleep 0.2; "
                "$SHMQ consume " + q.name + " --group g --kind exclusive --timeout-ms 2000 > /dev/null & c=$!; "
                "seq 1 1000 | timeout 60 $SHMQ produce " + q.name + " && wait $c && "
                "timeout 30 $SHMQ replay " + q.name + " --group g --from-offset 250 && "
                "timeout 30 $SHMQ consume " + q.name + " --group g --kind exclusive --timeout-ms 1000 > " + out +
                " && $SHMQ delete " + q.name + " --region-only && sleep 2.5 && "
                "$SHMQ stat " + q.name + " --json --sample-ms 0; status=$?; kill $daemon; wait $daemon; exit $status");
    EXPECT_EQ(r.exit_code, 0) << r.err << test::slurp_and_remove(log);
    EXPECT_NE(r.out.find("\"published\":1000"), std::string::npos) << "restored with its offsets: " << r.out.substr(0, 300);
    const ShellRun diff = sh("seq 251 1000 | cmp - " + out);
    EXPECT_EQ(diff.exit_code, 0) << "the replay did not print 251..1000 in order: " << diff.out << diff.err;
    ::unlink(out.c_str());
    ::unlink(lock.c_str());
    ::unlink(log.c_str());
    std::filesystem::remove_all(data);
}

// Issue 19 §3 from a shell: `produce --delay-ms` holds lines back in the
// delay store; stat (text and JSON, schema-checked) shows how many wait and
// when the next is due; a queue without --delay-capacity refuses with a line
// naming it.
TEST(CliTest, produceDelayMsWaitsInTheDelayStoreAndStatShowsIt) {
    CliQueue q;
    auto r = sh("$SHMQ create " + q.name + " --partitions 2 --capacity 64 --delay-capacity 8");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = sh("printf 'a\\nb\\nc\\n' | $SHMQ produce " + q.name + " --delay-ms 600000");
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const test::Value stat = test::parse_json_text(sh("$SHMQ stat " + q.name + " --json --sample-ms 0").out);
    for (const auto& e : test::SchemaChecker::from_file(SHMQ_SOURCE_DIR "/docs/schema/stat.schema.json").check(stat))
        ADD_FAILURE() << "stat.schema.json: " << e;
    EXPECT_EQ(stat.at("delayed").get<double>(), 3);
    EXPECT_EQ(stat.at("published").get<double>(), 0);
    EXPECT_GT(stat.at("next_due_ms").get<double>(), 500000);
    EXPECT_LE(stat.at("next_due_ms").get<double>(), 600000);
    EXPECT_EQ(stat.at("options").at("delay_capacity").get<double>(), 8);
    r = sh("$SHMQ stat " + q.name + " --sample-ms 0");
    EXPECT_NE(r.out.find("delayed: 3 of 8 waiting, next due in "), std::string::npos) << r.out;

    r = sh("printf 'd\\ne\\nf\\ng\\nh\\ni\\n' | $SHMQ produce " + q.name + " --delay-ms 600000");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("delay store is full (8 delayed messages wait"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--delay-capacity"), std::string::npos) << r.err;

    CliQueue none;
    ASSERT_EQ(sh("$SHMQ create " + none.name).exit_code, 0);
    r = sh("echo x | $SHMQ produce " + none.name + " --delay-ms 10");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("create the queue with --delay-capacity N"), std::string::npos) << r.err;
    const test::Value empty = test::parse_json_text(sh("$SHMQ stat " + none.name + " --json --sample-ms 0").out);
    EXPECT_EQ(empty.at("delayed").get<double>(), 0);
    EXPECT_TRUE(empty.at("next_due_ms").is_null());
}

// Issue 18 from a shell: `produce --dedup-id-field 1` run twice over the same
// lines enqueues each id once, says how many were duplicates on stderr and
// exits 0; stat (text and JSON) and the consumer agree.
TEST(CliTest, dedupProducesEachIdOnceAndStatCountsTheDuplicates) {
    CliQueue q;
    auto r = sh("$SHMQ create " + q.name + " --partitions 2 --capacity 64 --dedup-window-ms 600000");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("dedup window 10 min"), std::string::npos) << r.out;

    r = sh("printf 'pay-1 charge Evan 50\\npay-2 charge Ann 5\\npay-3 refund Bo 7\\n' | $SHMQ produce " + q.name +
           " --dedup-id-field 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << "no duplicates, nothing to say";
    // The same three lines again (one with other text after its id), and a new one.
    r = sh("printf 'pay-1 charge Evan 50\\npay-2 charge Ann 5 again\\npay-3 refund Bo 7\\npay-4 charge Cy 1\\n' | "
           "$SHMQ produce " + q.name + " --dedup-id-field 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "shmq produce: 3 of 4 lines were duplicates within the dedup window; not enqueued again\n");

    const test::Value stat = test::parse_json_text(sh("$SHMQ stat " + q.name + " --json --sample-ms 0").out);
    for (const auto& e : test::SchemaChecker::from_file(SHMQ_SOURCE_DIR "/docs/schema/stat.schema.json").check(stat))
        ADD_FAILURE() << "stat.schema.json: " << e;
    EXPECT_EQ(stat.at("published").get<double>(), 4);
    EXPECT_EQ(stat.at("duplicates").get<double>(), 3);
    double per_partition = 0;
    for (const auto& p : stat.at("partitions")) per_partition += p.at("duplicates").get<double>();
    EXPECT_EQ(per_partition, 3);
    EXPECT_EQ(stat.at("options").at("dedup_window_ms").get<double>(), 600000);
    EXPECT_EQ(stat.at("options").at("dedup_capacity").get<double>(), 128) << "default: partitions x capacity";
    EXPECT_FALSE(stat.at("options").at("dedup_content").get<bool>());

    r = sh("$SHMQ stat " + q.name);
    EXPECT_NE(r.out.find("DUPLICATES"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("3 duplicate send(s) not enqueued again"), std::string::npos) << r.out;

    r = sh("$SHMQ consume " + q.name + " --group g --timeout-ms 300 | sort");
    EXPECT_EQ(r.out, "pay-1 charge Evan 50\npay-2 charge Ann 5\npay-3 refund Bo 7\npay-4 charge Cy 1\n");
}

TEST(CliTest, dedupFlagsRefuseBadCombinationsWithOneLine) {
    CliQueue q;
    auto expect_error = [](const ShellRun& r, const std::string& needle) {
        EXPECT_NE(r.exit_code, 0);
        EXPECT_EQ(count_lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    };
    expect_error(sh("$SHMQ create " + q.name + " --dedup-capacity 100"), "--dedup-capacity needs --dedup-window-ms");
    expect_error(sh("$SHMQ create " + q.name + " --dedup-content"), "--dedup-content needs --dedup-window-ms");
    expect_error(sh("$SHMQ create " + q.name + " --dedup-window-ms 604800001"), "over 7 days");
    expect_error(sh("$SHMQ create " + q.name + " --dedup-window-ms 1000 --dedup-capacity 4194305"), "--dedup-capacity");
    EXPECT_FALSE(Queue::exists(q.name));

    ASSERT_EQ(sh("$SHMQ create " + q.name).exit_code, 0);
    expect_error(sh("echo 'a b' | $SHMQ produce " + q.name + " --dedup-id-field 1"), "has no dedup window");
    ASSERT_EQ(sh("$SHMQ delete " + q.name).exit_code, 0);

    ASSERT_EQ(sh("$SHMQ create " + q.name + " --dedup-window-ms 60000 --dedup-content").exit_code, 0);
    auto r = sh("printf 'id-1 x\\nlonely\\nid-3 z\\n' | $SHMQ produce " + q.name + " --dedup-id-field 2");
    expect_error(r, "line 2 has 1 field(s), no field 2 for --dedup-id-field");
    EXPECT_NE(r.err.find("1 message(s) were sent"), std::string::npos) << r.err;
    expect_error(sh("echo \"$(head -c 129 /dev/zero | tr '\\0' i) x\" | $SHMQ produce " + q.name +
                    " --dedup-id-field 1"),
                 "line 1: its dedup id is 129 bytes; ids are at most 128");
    EXPECT_NE(sh("$SHMQ stat " + q.name + " --json").out.find("\"dedup_content\":true"), std::string::npos);
}

}  // namespace
}  // namespace shmq
