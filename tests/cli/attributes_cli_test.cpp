// A published message's routing key and headers through the tool:
// `shmq consume --json` shows them, `shmq dlq ls` lists them, and a
// `shmq dlq redrive` keeps them (docs/CLI.md).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/json_schema.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;

void expect_schema(const test::Value& v, const char* schema_file) {
    const auto checker = test::SchemaChecker::from_file(std::string(SHMQ_SOURCE_DIR "/docs/schema/") + schema_file);
    for (const auto& e : checker.check(v)) ADD_FAILURE() << schema_file << ": " << e << " in " << v.dump();
}

// Each line of `out` as JSON, checked against consume.schema.json.
std::vector<test::Value> json_lines(const std::string& out) {
    std::vector<test::Value> v;
    for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
        v.push_back(test::parse_json_text(out.substr(at, nl - at)));
        expect_schema(v.back(), "consume.schema.json");
    }
    return v;
}

struct Names {
    std::string q = test::unique_queue_name("acli-q"), x = test::unique_queue_name("acli-x");
    explicit Names(const std::string& create_args = "") {
        EXPECT_EQ(sh("$SHMQ create " + q + " --capacity 16 " + create_args).exit_code, 0);
        EXPECT_EQ(sh("$SHMQ exchange create " + x + " --type direct").exit_code, 0);
        EXPECT_EQ(sh("$SHMQ bind " + x + " " + q + " --key orders").exit_code, 0);
    }
    ~Names() {
        sh("$SHMQ delete " + q);
        sh("$SHMQ exchange delete " + x);
    }
};

const test::Value kHeaders = test::Value::array({{{"key", "lang"}, {"value", "en"}}, {{"key", "n"}, {"value", ""}}});

TEST(AttributesCliTest, consumeJsonShowsRoutingKeyAndHeaders) {
    Names s;
    auto r = sh("echo one | $SHMQ publish " + s.x + " --routing-key orders --header lang=en --header n=");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(sh("echo two | $SHMQ produce " + s.q + " --key k").exit_code, 0);
    r = sh("$SHMQ consume " + s.q + " --group g --count 2 --timeout-ms 2000 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[0].at("routing_key"), "orders");
    EXPECT_EQ(lines[0].at("headers"), kHeaders);
    EXPECT_EQ(lines[0].at("payload"), "one");
    EXPECT_EQ(lines[0].at("deliveries"), 1);
    EXPECT_EQ(lines[1].at("routing_key"), "") << "a plain send has none";
    EXPECT_EQ(lines[1].at("headers"), test::Value::array());
    EXPECT_EQ(lines[1].at("key"), "k");
    EXPECT_EQ(lines[1].at("payload"), "two");
}

TEST(AttributesCliTest, aDeadLetterKeepsThemThroughLsAndRedrive) {
    Names s("--max-deliveries 1");
    ASSERT_EQ(sh("echo poison | $SHMQ publish " + s.x + " --routing-key orders --key k --header lang=en --header n=")
                  .exit_code,
              0);
    ASSERT_EQ(sh("$SHMQ consume " + s.q + " --group g --count 1 --nack --timeout-ms 2000").exit_code, 0);
    auto r = sh("$SHMQ dlq ls " + s.q + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto ls = test::parse_json_text(r.out);
    expect_schema(ls, "dlq_ls.schema.json");
    ASSERT_EQ(ls.at("messages").size(), 1u) << r.out;
    EXPECT_EQ(ls.at("messages")[0].at("routing_key"), "orders");
    EXPECT_EQ(ls.at("messages")[0].at("headers"), kHeaders);
    EXPECT_EQ(ls.at("messages")[0].at("bytes"), 6) << "the payload alone";
    r = sh("$SHMQ dlq ls " + s.q);
    EXPECT_NE(r.out.find("ROUTING-KEY"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("orders"), std::string::npos) << r.out;
    r = sh("$SHMQ dlq peek " + s.q);
    EXPECT_EQ(r.out, "poison\n") << "peek shows the payload, not the block";
    ASSERT_EQ(sh("$SHMQ dlq redrive " + s.q).exit_code, 0);
    r = sh("$SHMQ consume " + s.q + " --group g --count 1 --timeout-ms 2000 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_EQ(lines[0].at("routing_key"), "orders");
    EXPECT_EQ(lines[0].at("headers"), kHeaders);
    EXPECT_EQ(lines[0].at("key"), "k");
    EXPECT_EQ(lines[0].at("payload"), "poison");
}

}  // namespace
}  // namespace shmq
