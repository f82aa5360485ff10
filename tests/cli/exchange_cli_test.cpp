// `shmq exchange create|delete|ls|route`, `shmq bind` and `shmq unbind`
// driven through a shell, as a user would (docs/CLI.md, "Exchanges").
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "support/json_schema.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;
using test::ShellRun;

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

void expect_one_line_error(const ShellRun& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// Two queues and two exchanges with unique names, all removed at the end.
struct Names {
    std::string q1 = test::unique_queue_name("xcli-q"), q2 = test::unique_queue_name("xcli-q"),
                alt = test::unique_queue_name("xcli-alt"), x = test::unique_queue_name("xcli-x"),
                h = test::unique_queue_name("xcli-h");
    Names() {
        for (const auto& q : {q1, q2, alt}) EXPECT_EQ(sh("$SHMQ create " + q + " --capacity 2").exit_code, 0);
    }
    ~Names() {
        for (const auto& q : {q1, q2, alt}) sh("$SHMQ delete " + q);
        for (const auto& e : {x, h}) sh("$SHMQ exchange delete " + e);
    }
};

nlohmann::json exchange_in(const std::string& ls_json, const std::string& name) {
    const auto all = nlohmann::json::parse(ls_json);
    for (const auto& x : all.at("exchanges"))
        if (x.at("name") == name) return x;
    ADD_FAILURE() << name << " not in " << ls_json;
    return {};
}

TEST(ExchangeCliTest, createBindListRouteUnbindAndDelete) {
    Names n;
    auto r = sh("$SHMQ exchange create " + n.x + " --type topic --alternate " + n.alt);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("created exchange " + n.x + " (type topic, alternate " + n.alt + ")"), std::string::npos) << r.out;
    r = sh("$SHMQ bind " + n.x + " " + n.q1 + " --key 'eu.*.orders'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("(version 2)"), std::string::npos) << r.out;
    ASSERT_EQ(sh("$SHMQ bind " + n.x + " " + n.q2 + " --key '#'").exit_code, 0);
    r = sh("$SHMQ bind " + n.x + " " + n.q2 + " --key '#'");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("already bound"), std::string::npos) << r.out;
    ASSERT_EQ(sh("$SHMQ exchange create " + n.h + " --type headers").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ bind " + n.h + " " + n.q1 + " --match any --header format=pdf --header type=report").exit_code, 0);
    r = sh("$SHMQ bind " + n.x + " " + n.h + " --exchange --key 'eu.#'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("to exchange " + n.h), std::string::npos) << r.out;

    r = sh("$SHMQ exchange ls --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& e : test::SchemaChecker::from_file(SHMQ_SOURCE_DIR "/docs/schema/exchange_ls.schema.json")
                             .check(test::parse_json_text(r.out)))
        ADD_FAILURE() << "exchange_ls.schema.json: " << e;
    auto x = exchange_in(r.out, n.x);
    EXPECT_EQ(x.at("type"), "topic");
    EXPECT_EQ(x.at("alternate"), n.alt);
    EXPECT_EQ(x.at("version"), 4);
    EXPECT_EQ(x.at("routed"), 0);  // nothing published yet (publish_cli_test.cpp counts some)
    EXPECT_EQ(x.at("unroutable"), 0);
    EXPECT_EQ(x.at("bindings_to_deleted"), 0);
    ASSERT_EQ(x.at("bindings").size(), 3u);
    EXPECT_EQ(x.at("bindings")[0].at("destination"), n.q1);
    EXPECT_EQ(x.at("bindings")[0].at("key"), "eu.*.orders");
    EXPECT_EQ(x.at("bindings")[0].at("live"), true);
    EXPECT_EQ(x.at("bindings")[2].at("destination_kind"), "exchange");
    auto h = exchange_in(r.out, n.h);
    EXPECT_EQ(h.at("bindings")[0].at("match"), "any");
    EXPECT_EQ(h.at("bindings")[0].at("headers")[1], (nlohmann::json{{"key", "type"}, {"value", "report"}}));
    r = sh("$SHMQ exchange ls");
    EXPECT_NE(r.out.find("exchange " + n.x + " (topic, alternate " + n.alt +
                         ", version 4): routed 0, unroutable 0, 3 binding(s), 0 to deleted destinations"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("match any format=pdf type=report"), std::string::npos) << r.out;

    // Reached by two paths (eu.* and #), once; through the headers exchange it is not matched (no headers).
    r = sh("$SHMQ exchange route " + n.x + " --key eu.de.orders --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto route = nlohmann::json::parse(r.out);
    EXPECT_EQ(route.at("queues"), (nlohmann::json{n.q1, n.q2}));
    EXPECT_EQ(route.at("version"), 4);
    EXPECT_EQ(route.at("tables").size(), 2u);
    r = sh("$SHMQ exchange route " + n.x + " --key eu.x --header format=pdf --json");
    EXPECT_EQ(nlohmann::json::parse(r.out).at("queues"), (nlohmann::json{n.q2, n.q1}));

    // A deleted queue is skipped and shown as such; with nothing left, the alternate.
    ASSERT_EQ(sh("$SHMQ unbind " + n.x + " " + n.h + " --exchange --key 'eu.#'").exit_code, 0);
    ASSERT_EQ(sh("$SHMQ delete " + n.q2).exit_code, 0);
    r = sh("$SHMQ exchange ls --json");
    EXPECT_EQ(exchange_in(r.out, n.x).at("bindings")[1].at("live"), false);
    EXPECT_EQ(exchange_in(r.out, n.x).at("bindings_to_deleted"), 1);
    // `shmq stat` of an exchange: its entry of `exchange ls`, the deleted queue marked.
    r = sh("$SHMQ stat " + n.x + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto stat = nlohmann::json::parse(r.out);
    EXPECT_EQ(stat.at("name"), n.x);
    EXPECT_EQ(stat.at("bindings_to_deleted"), 1);
    EXPECT_EQ(stat.at("bindings").size(), 2u);
    r = sh("$SHMQ stat " + n.x);
    EXPECT_NE(r.out.find("routed 0, unroutable 0, 2 binding(s), 1 to deleted destinations"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("deleted"), std::string::npos) << r.out;
    r = sh("$SHMQ exchange route " + n.x + " --key us.orders --json");
    route = nlohmann::json::parse(r.out);
    EXPECT_EQ(route.at("unroutable"), true);
    EXPECT_EQ(route.at("to_alternate"), true);
    EXPECT_EQ(route.at("queues"), (nlohmann::json{n.alt}));
    EXPECT_EQ(route.at("skipped"), (nlohmann::json{n.q2}));

    r = sh("$SHMQ unbind " + n.x + " " + n.q1 + " --key 'eu.*.orders'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("(version 6)"), std::string::npos) << r.out;
    EXPECT_EQ(sh("$SHMQ exchange delete " + n.x).exit_code, 0);
    EXPECT_EQ(sh("$SHMQ exchange ls --json").out.find("\"" + n.x + "\""), std::string::npos);
}

TEST(ExchangeCliTest, badInputGetsOneLineAndNonZeroExitAndChangesNothing) {
    Names n;
    expect_one_line_error(sh("$SHMQ exchange create " + n.x + " --type sideways"), "--type 'sideways' is unknown");
    expect_one_line_error(sh("$SHMQ exchange create 'bad/name' --type direct"), "character '/'");
    expect_one_line_error(sh("$SHMQ bind " + n.x + " " + n.q1), "no exchange named '" + n.x + "'");
    ASSERT_EQ(sh("$SHMQ exchange create " + n.x + " --type direct").exit_code, 0);
    expect_one_line_error(sh("$SHMQ exchange create " + n.x + " --type direct"), "already exists");
    expect_one_line_error(sh("$SHMQ bind " + n.x + " no-such-queue-xcli"), "shmq create no-such-queue-xcli");
    expect_one_line_error(sh("$SHMQ bind " + n.x + " " + n.q1 + " --header a=b"), "headers exchanges only");
    expect_one_line_error(sh("$SHMQ bind " + n.x + " " + n.q1 + " --key $(printf 'k%.0s' $(seq 256))"),
                          "256 bytes; at most 255");
    expect_one_line_error(sh("$SHMQ unbind " + n.x + " " + n.q1 + " --key nope"), "has no binding");
    ASSERT_EQ(sh("$SHMQ exchange create " + n.h + " --type headers").exit_code, 0);
    expect_one_line_error(sh("$SHMQ bind " + n.h + " " + n.q1 + " --header novalue"), "is not KEY=VALUE");
    expect_one_line_error(sh("$SHMQ bind " + n.h + " " + n.q1 + " --match some --header a=b"), "--match 'some'");
    // Exchange to exchange: a cycle is refused, naming it.
    ASSERT_EQ(sh("$SHMQ bind " + n.x + " " + n.h + " --exchange").exit_code, 0);
    expect_one_line_error(sh("$SHMQ bind " + n.h + " " + n.x + " --exchange"),
                          "would create a cycle (" + n.h + " -> " + n.x + " -> " + n.h + ")");
    expect_one_line_error(sh("$SHMQ exchange delete no-such-exchange-xcli"), "no exchange named");
    auto r = sh("$SHMQ exchange ls --json");
    EXPECT_EQ(exchange_in(r.out, n.x).at("version"), 2);  // only the good bind changed it
    EXPECT_EQ(exchange_in(r.out, n.h).at("version"), 1);
}

}  // namespace
}  // namespace shmq
