// `shmq publish` driven through a shell (docs/CLI.md, "shmq publish").
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/shell.hpp"
#include "support/temp_exchange.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// A queue, an alternate and a direct exchange, all removed at the end.
struct PublishNames {
    std::string q = test::unique_queue_name("pcli-q"), alt = test::unique_queue_name("pcli-alt"),
                x = test::unique_queue_name("pcli-x");
    PublishNames() {
        for (const auto& name : {q, alt}) EXPECT_EQ(sh("$SHMQ create " + name + " --capacity 16").exit_code, 0);
    }
    ~PublishNames() {
        for (const auto& name : {q, alt}) sh("$SHMQ delete " + name);
        sh("$SHMQ exchange delete " + x);
    }
    std::string consume(const std::string& queue, int count) const {
        return sh("$SHMQ consume " + queue + " --group check --count " + std::to_string(count) + " --timeout-ms 200").out;
    }
};

nlohmann::json exchange_in(const std::string& ls_json, const std::string& name) {
    const auto all = nlohmann::json::parse(ls_json);  // alive through the loop
    for (const auto& x : all.at("exchanges"))
        if (x.at("name") == name) return x;
    ADD_FAILURE() << name << " not in " << ls_json;
    return {};
}

TEST(PublishCliTest, linesLandInTheBoundQueueInOrder) {
    PublishNames s;
    ASSERT_EQ(sh("$SHMQ exchange create " + s.x + " --type direct").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ bind " + s.x + " " + s.q + " --key orders").exit_code, 0);
    auto r = sh("seq 1 5 | $SHMQ publish " + s.x + " --routing-key orders --key k1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "shmq publish: 5 line(s) published, 5 queue(s) reached in total, 0 to the alternate\n");
    EXPECT_EQ(s.consume(s.q, 5), "1\n2\n3\n4\n5\n");
    r = sh("$SHMQ exchange ls --json");
    const auto x = exchange_in(r.out, s.x);
    EXPECT_EQ(x.at("routed"), 5);
    EXPECT_EQ(x.at("unroutable"), 0);
}

TEST(PublishCliTest, anUnroutableLineStopsItWithNonZeroExitNamingTheLine) {
    PublishNames s;
    ASSERT_EQ(sh("$SHMQ exchange create " + s.x + " --type direct").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ bind " + s.x + " " + s.q + " --key a").exit_code, 0);
    // Line 1 is published with routing key a; the second run's line 1 is not.
    ASSERT_EQ(sh("echo first | $SHMQ publish " + s.x + " --routing-key a").exit_code, 0);
    auto r = sh("printf 'x\\ny\\n' | $SHMQ publish " + s.x + " --routing-key b");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("shmq publish: line 1 is unroutable: no binding of exchange '" + s.x +
                         "' matches routing key 'b' (bind a queue, or create the exchange with --alternate QUEUE)"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(s.consume(s.q, 3), "first\n");  // nothing of the second run
    EXPECT_EQ(exchange_in(sh("$SHMQ exchange ls --json").out, s.x).at("unroutable"), 1);
}

TEST(PublishCliTest, withAnAlternateUnroutableLinesGoThere) {
    PublishNames s;
    ASSERT_EQ(sh("$SHMQ exchange create " + s.x + " --type topic --alternate " + s.alt).exit_code, 0);
    ASSERT_EQ(sh("$SHMQ bind " + s.x + " " + s.q + " --key 'eu.#'").exit_code, 0);
    auto r = sh("printf 'a\\nb\\n' | $SHMQ publish " + s.x + " --routing-key us.ny");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "shmq publish: 2 line(s) published, 2 queue(s) reached in total, 2 to the alternate\n");
    EXPECT_EQ(s.consume(s.alt, 2), "a\nb\n");
    EXPECT_EQ(s.consume(s.q, 2), "");
    r = sh("$SHMQ exchange ls");
    EXPECT_NE(r.out.find("routed 0, unroutable 2"), std::string::npos) << r.out;
}

// A fanout to three queues: each line in all of them; to 32: the same; to
// 33: refused, saying why (one all-or-nothing publish reaches at most 32).
// The 30 more queues and their bindings are made in this process (a shell
// per queue costs seconds under the sanitizers); the publishes are the tool's.
TEST(PublishCliTest, aFanoutLineGoesToEveryQueueUpTo32AndMoreAreRefusedWithTheReason) {
    const std::string x = test::unique_queue_name("pcli-fan");
    std::vector<std::string> qs;
    for (int i = 0; i < 3; ++i) qs.push_back(test::unique_queue_name("pcli-fq"));
    struct Cleanup {
        const std::string& x;
        const std::vector<std::string>& qs;
        ~Cleanup() {
            sh("$SHMQ exchange delete " + x);
            for (const auto& q : qs) sh("$SHMQ delete " + q);
        }
    } cleanup{x, qs};
    ASSERT_EQ(sh("$SHMQ exchange create " + x + " --type fanout").exit_code, 0);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(sh("$SHMQ create " + qs[i] + " --capacity 16").exit_code, 0);
        ASSERT_EQ(sh("$SHMQ bind " + x + " " + qs[i]).exit_code, 0);
    }
    auto r = sh("printf 'a\\nb\\n' | $SHMQ publish " + x);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "shmq publish: 2 line(s) published, 6 queue(s) reached in total, 0 to the alternate\n");
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(sh("$SHMQ consume " + qs[i] + " --group g --count 2 --timeout-ms 200").out, "a\nb\n") << qs[i];
    QueueOptions small;
    small.capacity = 16;
    std::vector<std::unique_ptr<test::TempQueue>> more;
    auto table = detail::ExchangeTable::open(x);
    for (int i = 3; i < 32; ++i) {
        more.push_back(std::make_unique<test::TempQueue>("pcli-fq", small));
        table->bind(test::to_queue(more.back()->name));
    }
    r = sh("echo c | $SHMQ publish " + x);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "shmq publish: 1 line(s) published, 32 queue(s) reached in total, 0 to the alternate\n");
    EXPECT_EQ(sh("$SHMQ consume " + qs[1] + " --group h --count 3 --timeout-ms 200").out, "a\nb\nc\n");
    EXPECT_EQ(sh("$SHMQ consume " + more.back()->name + " --group h --count 3 --timeout-ms 200").out, "c\n");
    more.push_back(std::make_unique<test::TempQueue>("pcli-fq", small));
    table->bind(test::to_queue(more.back()->name));
    r = sh("echo d | $SHMQ publish " + x);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("line 1 not published: it routes to 33 queues, and one publish reaches at most 32"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(sh("$SHMQ consume " + qs[0] + " --group g --timeout-ms 200").out, "c\n") << "nothing of d anywhere";
    table.reset();
}

TEST(PublishCliTest, badInputGetsOneLineAndNonZeroExit) {
    PublishNames s;
    auto r = sh("echo m | $SHMQ publish " + s.x);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("no exchange named '" + s.x + "'"), std::string::npos) << r.err;
    ASSERT_EQ(sh("$SHMQ exchange create " + s.x + " --type headers").exit_code, 0);
    r = sh("echo m | $SHMQ publish " + s.x + " --header novalue");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("is not KEY=VALUE"), std::string::npos) << r.err;
    r = sh("echo m | $SHMQ publish " + s.x + " --routing-key $(printf 'k%.0s' $(seq 256))");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("at most 255"), std::string::npos) << r.err;
    ASSERT_EQ(sh("$SHMQ bind " + s.x + " " + s.q + " --match all --header format=pdf").exit_code, 0);
    r = sh("printf '%.0s' | $SHMQ publish " + s.x + " --header format=pdf");  // no lines: nothing to do
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = sh("head -c 2000 /dev/zero | tr '\\0' x | $SHMQ publish " + s.x + " --header format=pdf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("line 1 not published: message is larger"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shmq
