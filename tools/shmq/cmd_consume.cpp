// shmq consume NAME --group G [--kind exclusive|shared|keyed] [--count N] [--timeout-ms MS]
//   [--at-most-once] [--nack]: one message per stdout line, ACKed after the
//   line is written and flushed (--nack: NACK each instead, a failing worker).
//   --json: each line a JSON object (docs/schema/consume.schema.json) with the
//   message's metadata, routing key and headers, and its payload.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "command.hpp"
#include "json.hpp"

namespace shmq::cli {

namespace {

// --json: the message as one line (docs/schema/consume.schema.json).
std::string json_line(const Message& m) {
    Json j;
    j["partition"] = m.partition();
    j["offset"] = m.offset();
    put_bytes(j, "key", m.key());
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    for (std::size_t i = 0; i < m.header_count(); ++i) headers.push_back(m.header_at(i));
    put_attributes(j, m.routing_key(), headers, m.attributes_malformed());
    j["deliveries"] = m.deliveries();
    j["publish_unix_ns"] = m.publish_unix_ns();
    put_bytes(j, "payload", m.text());
    return dump(j);
}

}  // namespace

void register_consume(CLI::App& app) {
    struct Args {
        std::string name, group, kind = "shared";
        uint64_t count = 0;
        int64_t timeout_ms = -1;
        bool at_most_once = false, nack = false, json = false;
        uint32_t max_in_flight = 1;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("consume", "Print one message per line, ACKing each after it is written");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    cmd->add_option("--group", args->group, "Consumer group (created on first use)")->required();
    cmd->add_option("--kind", args->kind, "Group kind when it is created: exclusive, shared or keyed")
        ->default_val("shared");
    cmd->add_option("--count", args->count, "Exit after this many messages");
    cmd->add_option("--timeout-ms", args->timeout_ms, "Exit after this long without a message (default: never)");
    cmd->add_flag("--at-most-once", args->at_most_once, "Free each message at pickup (never redelivered)");
    cmd->add_flag("--nack", args->nack, "NACK every message instead of ACKing it (a failing worker)");
    cmd->add_flag("--json", args->json,
                  "One JSON object per message: partition, offset, key, routing key, headers, deliveries, payload");
    cmd->footer(
        "Joins GROUP (creating it with --kind): each group sees every message; members of a\n"
        "shared group compete per message, an exclusive group gives each partition to one\n"
        "member (per-key order), a keyed group lets members compete but gives out one message\n"
        "of a key at a time, in order (SQS FIFO message groups). Each message is ACKed after its line is written; one that is\n"
        "not (the process dies) is redelivered after the lease or at once by shmqd.\n\n"
        "Examples:\n"
        "  shmq consume orders --group billing\n"
        "  shmq consume orders --group audit --kind exclusive --timeout-ms 3000\n"
        "  shmq consume orders --group payers --kind keyed     (one message per key at a time)\n"
        "  shmq consume orders --group audit --json    (routing key and headers of published messages)\n"
        "  shmq consume jobs --group workers --count 1 --nack    (simulate a failing worker)");
    cmd->callback([args] {
        ConsumerOptions options;
        if (args->kind == "exclusive") options.kind = GroupKind::exclusive;
        else if (args->kind == "keyed") options.kind = GroupKind::keyed;
        else if (args->kind != "shared")
            throw CommandError(2, "--kind '" + args->kind + "' is unknown; use exclusive, shared or keyed");
        options.at_most_once = args->at_most_once;
        options.max_in_flight = args->max_in_flight;
        install_stop_handlers();
        std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error we report, not a silent death
        auto consumer = [&] {
            try {
                return Queue::open(args->name).consumer(args->group, options);
            } catch (const Error& e) {
                throw CommandError(1, e.what());
            }
        }();
        using Clock = std::chrono::steady_clock;
        const bool forever = args->timeout_ms < 0;
        auto idle_since = Clock::now();
        uint64_t done = 0;
        while (!stop_requested() && (args->count == 0 || done < args->count)) {
            Millis slice(200);
            if (!forever) {
                auto left = Millis(args->timeout_ms) -
                            std::chrono::duration_cast<Millis>(Clock::now() - idle_since);
                if (left.count() <= 0) break;
                slice = std::min(slice, left);
            }
            auto m = consumer.receive(slice);
            if (!m) {
                if (m.code() == Errc::timeout) continue;
                throw CommandError(1, std::string("receive failed: ") + to_string(m.code()));
            }
            std::string line_json;
            if (args->json) line_json = json_line(*m);
            const auto text = args->json ? std::string_view(line_json) : m->text();
            const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
                                 std::fputc('\n', stdout) != EOF && std::fflush(stdout) == 0;
            if (!written) {
                (void)m->nack();
                throw CommandError(1, "cannot write to standard output; the message was returned to the queue");
            }
            Status st = args->nack ? m->nack() : m->ack();
            if (!st && st.code() != Errc::lease_lost)
                throw CommandError(1, std::string(args->nack ? "nack" : "ack") + " failed: " + st.message());
            ++done;
            idle_since = Clock::now();
        }
    });
}

}  // namespace shmq::cli
