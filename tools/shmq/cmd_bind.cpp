// shmq bind|unbind EXCHANGE DEST [--key K] [--match all|any --header k=v ...] [--exchange]:
// an exchange's bindings to queues, or (--exchange) to other exchanges.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "exchange_args.hpp"
#include "format.hpp"

namespace shmq::cli {

namespace {

struct BindArgs {
    std::string exchange, dest, key, match;
    std::vector<std::string> headers;
    bool to_exchange = false;
};

void add_common(CLI::App* cmd, BindArgs& a) {
    cmd->add_option("EXCHANGE", a.exchange, "Exchange name")->required();
    cmd->add_option("QUEUE", a.dest, "Destination queue (an exchange with --exchange)")->required();
    cmd->add_option("--key", a.key, "Binding key (at most 255 bytes; topic: * one word, # zero or more)");
    cmd->add_flag("--exchange", a.to_exchange, "QUEUE names an exchange: bind exchange to exchange");
}

std::string describe(const BindArgs& a) {
    return "exchange " + a.exchange + " to " + (a.to_exchange ? "exchange " : "queue ") + a.dest +
           (a.key.empty() ? std::string() : " with key '" + a.key + "'");
}

int exit_code_of(Errc code) { return code == Errc::invalid_argument ? 2 : 1; }

}  // namespace

void register_bind(CLI::App& app) {
    auto a = std::make_shared<BindArgs>();
    auto* cmd = app.add_subcommand("bind", "Bind an exchange to a queue (or to another exchange)");
    add_common(cmd, *a);
    cmd->add_option("--match", a->match, "Headers exchanges: all (every --header) or any (one); default all");
    cmd->add_option("--header", a->headers, "Headers exchanges: KEY=VALUE to match (repeatable, at most 8)");
    cmd->footer(
        "The destination must exist. Binding again with the same key (and headers) changes\n"
        "nothing. An exchange-to-exchange binding that would close a cycle is refused.\n"
        "Takes effect for every route that starts after it returns.\n\n"
        "Examples:\n"
        "  shmq bind orders eu-orders --key 'eu.*.orders'\n"
        "  shmq bind docs pdfs --match all --header format=pdf --header type=report\n"
        "  shmq bind orders audit --exchange --key '#'");
    cmd->callback([a] {
        detail::Binding b;
        b.kind = a->to_exchange ? xlayout::DestKind::exchange : xlayout::DestKind::queue;
        b.dest = a->dest;
        b.key = a->key;
        b.headers = parse_header_args(a->headers);
        auto x = open_exchange(a->exchange, true);
        if (!a->match.empty())
            b.match = parse_match_arg(a->match);
        else if (x->type() == xlayout::ExchangeType::headers)
            b.match = xlayout::HeaderMatch::all;  // RabbitMQ's default x-match
        detail::BindOutcome out;
        try {
            out = x->bind(b);
        } catch (const Error& e) {
            throw CommandError(exit_code_of(e.code()), e.what());
        }
        std::cout << printable((out.changed ? "bound " : "already bound: ") + describe(*a)) << " (version "
                  << out.version << ")\n";
    });

    auto u = std::make_shared<BindArgs>();
    auto* un = app.add_subcommand("unbind", "Remove an exchange's binding to a queue (or exchange)");
    add_common(un, *u);
    un->footer(
        "Removes the bindings to QUEUE with exactly that key (all of them, whatever their\n"
        "headers). Takes effect for every route that starts after it returns.\n\n"
        "Examples:\n"
        "  shmq unbind orders eu-orders --key 'eu.*.orders'\n"
        "  shmq unbind orders audit --exchange --key '#'");
    un->callback([u] {
        auto x = open_exchange(u->exchange, true);
        uint64_t version = 0;
        try {
            version = x->unbind(u->to_exchange ? xlayout::DestKind::exchange : xlayout::DestKind::queue, u->dest, u->key);
        } catch (const Error& e) {
            throw CommandError(exit_code_of(e.code()), e.what());
        }
        std::cout << printable("unbound " + describe(*u)) << " (version " << version << ")\n";
    });
}

}  // namespace shmq::cli
