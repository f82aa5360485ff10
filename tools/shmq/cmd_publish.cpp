// shmq publish EXCHANGE [--routing-key K] [--key K] [--header k=v ...]
// [--timeout-ms MS]: one message per stdin line, through an exchange.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "command.hpp"
#include "exchange_args.hpp"
#include "format.hpp"

namespace shmq::cli {

namespace {

// What is done so far: the summary line at the end, the count in an error line.
struct Tally {
    uint64_t lines = 0;      // published
    uint64_t queues = 0;     // queue deliveries, summed over the lines
    uint64_t alternate = 0;  // lines that went to the alternate queue
    std::string text() const {
        return "shmq publish: " + std::to_string(lines) + " line(s) published, " + std::to_string(queues) +
               " queue(s) reached in total, " + std::to_string(alternate) + " to the alternate";
    }
};

std::string unroutable_line(uint64_t line, const std::string& exchange, const std::string& routing_key,
                            const std::vector<detail::HeaderKV>& headers, const std::string& alternate) {
    std::string s = "shmq publish: line " + std::to_string(line) + " is unroutable: no binding of exchange '" +
                    exchange + "' matches routing key '" + printable(routing_key) + "'";
    if (!headers.empty()) {
        s += " with headers";
        for (const auto& h : headers) s += " " + printable(h.key) + "=" + printable(h.value);
    }
    if (alternate.empty())
        s += " (bind a queue, or create the exchange with --alternate QUEUE)";
    else
        s += " and its alternate queue '" + alternate + "' does not exist (bind a queue, or `shmq create " +
             alternate + "`)";
    return s;
}

// Why a publish answered invalid_argument when its route has more queues
// than one all-or-nothing publish reaches; nullopt otherwise.
std::optional<std::string> too_many_targets(const std::string& exchange, const std::string& routing_key,
                                            const std::vector<MessageHeader>& headers) {
    try {
        RouteInfo route;
        if (!Exchange::open(exchange).route(routing_key, headers, route)) return std::nullopt;
        if (route.queues.size() <= kMaxTransactionOutputs) return std::nullopt;
        return "it routes to " + std::to_string(route.queues.size()) + " queues, and one publish reaches at most " +
               std::to_string(kMaxTransactionOutputs) + " (all or nothing); bind fewer queues to what it matches";
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace

void register_publish(CLI::App& app) {
    struct Args {
        std::string exchange, routing_key, key;
        std::vector<std::string> headers;
        int64_t timeout_ms = -1;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("publish", "Publish one message per line of standard input through an exchange");
    cmd->add_option("EXCHANGE", a->exchange, "Exchange name")->required();
    cmd->add_option("--routing-key", a->routing_key, "Routing key of every message (at most 255 bytes)");
    cmd->add_option("--key", a->key, "Partition key of every message in every queue it reaches (per-key order)");
    cmd->add_option("--header", a->headers, "Message header KEY=VALUE, matched by headers exchanges (repeatable, at most 8)");
    cmd->add_option("--timeout-ms", a->timeout_ms,
                    "How long to wait for room in a full on_full=block queue (default: forever)");
    cmd->footer(
        "Sends each line (without its newline) as one message to every queue the exchange's\n"
        "bindings route it to, each once; to several queues all or nothing. A line no binding\n"
        "matches goes to the exchange's alternate queue; without one it is unroutable: publish\n"
        "stops there with exit 1, naming the line (the lines before it were published). Any other\n"
        "failure stops it the same way. At the end a summary goes to stderr.\n\n"
        "Examples:\n"
        "  seq 1 100 | shmq publish orders --routing-key eu.de.orders\n"
        "  echo 'report' | shmq publish docs --header format=pdf --key customer-42");
    cmd->callback([a] {
        if (a->key.size() > kMaxKeyBytes)
            throw CommandError(2, "--key is " + std::to_string(a->key.size()) + " bytes; keys are at most 64");
        if (a->routing_key.size() > xlayout::kMaxKeyBytes)
            throw CommandError(2, "--routing-key is " + std::to_string(a->routing_key.size()) +
                                      " bytes; routing keys are at most 255");
        const auto pairs = parse_header_args(a->headers);
        if (auto err = detail::check_headers(pairs, "--header")) throw CommandError(2, *err);
        std::vector<MessageHeader> headers;
        for (const auto& h : pairs) headers.push_back({h.key, h.value});
        const std::string alternate = open_exchange(a->exchange, false)->alternate();
        Publisher publisher = [&] {
            try {
                return Publisher::open(a->exchange);
            } catch (const Error& e) {
                throw CommandError(1, e.what());
            }
        }();
        PublishOptions options;
        options.routing_key = a->routing_key;
        options.key = a->key;
        options.headers = headers;
        options.timeout = a->timeout_ms < 0 ? kForever : Millis(a->timeout_ms);
        std::ios::sync_with_stdio(false);
        Tally done;
        std::string line;
        while (std::getline(std::cin, line)) {
            PublishOutcome outcome;
            const Status st = publisher.publish(std::as_bytes(std::span(line.data(), line.size())), options, outcome);
            if (!st) {
                const uint64_t n = done.lines + 1;
                std::string why;
                switch (st.code()) {
                    case Errc::unroutable: why = unroutable_line(n, a->exchange, a->routing_key, pairs, alternate); break;
                    case Errc::timeout:
                        why = "shmq publish: line " + std::to_string(n) + " not published: no room in a queue within " +
                              "--timeout-ms " + std::to_string(a->timeout_ms) + " (are consumers running?)";
                        break;
                    case Errc::not_found:
                        why = "shmq publish: line " + std::to_string(n) + " not published: exchange '" + a->exchange +
                              "' was deleted";
                        break;
                    case Errc::invalid_argument:
                        why = "shmq publish: line " + std::to_string(n) + " not published: " +
                              too_many_targets(a->exchange, a->routing_key, headers).value_or(st.message());
                        break;
                    default:
                        why = "shmq publish: line " + std::to_string(n) + " not published: " + st.message();
                }
                std::cerr << why << "; " << done.lines << " line(s) published before it\n";
                throw CommandError(1, "");  // said above
            }
            ++done.lines;
            done.queues += outcome.queues;
            if (outcome.to_alternate) ++done.alternate;
        }
        std::cerr << done.text() << "\n";
    });
}

}  // namespace shmq::cli
