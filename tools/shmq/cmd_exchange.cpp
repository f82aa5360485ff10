// shmq exchange create|delete|ls|route: exchanges, RabbitMQ-style routing
// tables in shared memory (docs/CLI.md, "Exchanges"). `route` shows where a
// message would go; `shmq publish` (cmd_publish.cpp) sends it there.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "exchange_args.hpp"
#include "exchange_report.hpp"
#include "format.hpp"
#include "json.hpp"

namespace shmq::cli {

namespace {

void register_exchange_create(CLI::App& parent) {
    struct Args {
        std::string name, type, alternate;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = parent.add_subcommand("create", "Create an exchange");
    cmd->add_option("NAME", a->name, "Exchange name")->required();
    cmd->add_option("--type", a->type, "direct, topic, fanout or headers")->required();
    cmd->add_option("--alternate", a->alternate, "Queue that takes what no binding routes");
    cmd->footer(
        "Examples:\n"
        "  shmq exchange create orders --type topic --alternate unrouted\n"
        "  shmq exchange create docs --type headers");
    cmd->callback([a] {
        const auto type = detail::exchange_type_from(a->type);
        if (!type) throw CommandError(2, "--type '" + a->type + "' is unknown; use direct, topic, fanout or headers");
        try {
            auto x = detail::ExchangeTable::create(a->name, *type, a->alternate);
        } catch (const Error& e) {
            throw CommandError(e.code() == Errc::invalid_argument ? 2 : 1, e.what());
        }
        std::cout << "created exchange " << printable(a->name) << " (type " << a->type
                  << (a->alternate.empty() ? "" : ", alternate " + printable(a->alternate)) << ")\n";
        if (!a->alternate.empty() && !Queue::exists(a->alternate))
            std::cerr << "shmq: note: alternate queue " << printable(a->alternate)
                      << " does not exist yet; unroutable messages have nowhere to go until `shmq create "
                      << printable(a->alternate) << "`\n";
    });
}

void register_exchange_delete(CLI::App& parent) {
    auto name = std::make_shared<std::string>();
    auto* cmd = parent.add_subcommand("delete", "Delete an exchange");
    cmd->add_option("NAME", *name, "Exchange name")->required();
    cmd->footer(
        "Bindings of other exchanges to it stay, and are skipped while it is gone.\n\n"
        "Example:\n"
        "  shmq exchange delete orders");
    cmd->callback([name] {
        try {
            detail::ExchangeTable::remove(*name);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
        std::cout << "deleted exchange " << printable(*name) << "\n";
    });
}

void register_exchange_ls(CLI::App& parent) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = parent.add_subcommand("ls", "List exchanges and their bindings");
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->footer(
        "Reads each exchange's table without locks (a consistent version of it), and says\n"
        "whether each destination is live (deleted ones are skipped by routing). routed counts\n"
        "the publishes that reached at least one bound queue, unroutable those no binding matched\n"
        "(sent to the alternate queue or not).\n\n"
        "Examples:\n"
        "  shmq exchange ls\n"
        "  shmq exchange ls --json | jq '.exchanges[].bindings[] | select(.live | not)'");
    cmd->callback([json] {
        Json all = Json::array();
        std::string text;
        for (const auto& name : detail::ExchangeTable::list_names()) all.push_back(describe_exchange(name, text));
        if (*json)
            std::cout << dump(Json{{"exchanges", std::move(all)}}) << "\n";
        else if (all.empty())
            std::cout << "no exchanges (create one with `shmq exchange create NAME --type TYPE`)\n";
        else
            std::cout << text;  // names are printable() above; Table cells are too
    });
}

void register_exchange_route(CLI::App& parent) {
    struct Args {
        std::string name, key;
        std::vector<std::string> headers;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = parent.add_subcommand("route", "Show where a message would go (nothing is sent)");
    cmd->add_option("NAME", a->name, "Exchange name")->required();
    cmd->add_option("--key", a->key, "Routing key (at most 255 bytes)");
    cmd->add_option("--header", a->headers, "Message header KEY=VALUE (repeatable, at most 8)");
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->footer(
        "Resolves the bindings as `shmq publish` does: each live queue once, deleted ones\n"
        "skipped, the alternate when nothing matched.\n\n"
        "Examples:\n"
        "  shmq exchange route orders --key eu.de.orders\n"
        "  shmq exchange route docs --header format=pdf --json");
    cmd->callback([a] {
        const auto headers = parse_header_args(a->headers);
        auto x = open_exchange(a->name, false);
        detail::RouteResult r;
        std::string why;
        const Errc rc = detail::route(*x, a->key, headers, detail::default_route_env(), r, &why);
        if (rc != Errc::ok) throw CommandError(rc == Errc::invalid_argument ? 2 : 1, why);
        if (a->json) {
            Json j;
            put_bytes(j, "exchange", a->name);
            j["version"] = r.version;
            j["matched"] = r.matched;
            j["unroutable"] = r.unroutable;
            j["to_alternate"] = r.to_alternate;
            j["queues"] = Json::array();
            for (const auto& q : r.queues) j["queues"].push_back(q);
            j["skipped"] = Json::array();
            for (const auto& s : r.skipped) j["skipped"].push_back(s);
            j["tables"] = Json::array();
            for (const auto& t : r.tables) j["tables"].push_back(Json{{"exchange", t.exchange}, {"version", t.version}});
            std::cout << dump(j) << "\n";
            return;
        }
        std::string line = "version " + std::to_string(r.version) + ": " + std::to_string(r.matched) + " queue(s) matched";
        if (r.to_alternate) line += "; unroutable, to the alternate " + r.queues.front();
        else if (r.unroutable) line += "; unroutable (no live alternate)";
        for (const auto& q : r.queues) line += "\n  " + q;  // names: [A-Za-z0-9._-] only
        for (const auto& s : r.skipped) line += "\n  skipped (deleted): " + s;
        std::cout << line << "\n";
    });
}

}  // namespace

void register_exchange(CLI::App& app) {
    auto* cmd = app.add_subcommand("exchange", "Create, delete and list exchanges (RabbitMQ-style routing)");
    cmd->require_subcommand(1);
    cmd->footer(
        "An exchange routes by its bindings (`shmq bind`): direct (key equals), topic (words,\n"
        "* one word, # zero or more), fanout (all), headers (--match all|any). At most 256\n"
        "bindings each. Publish through one with `shmq publish`. See docs/CLI.md.");
    register_exchange_create(*cmd);
    register_exchange_delete(*cmd);
    register_exchange_ls(*cmd);
    register_exchange_route(*cmd);
}

}  // namespace shmq::cli
