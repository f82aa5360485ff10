// shmq dlq ls|peek|redrive|purge NAME: the queue's dead-letter queue.
//   ls [--json]        metadata of each dead letter, oldest first
//   peek [--count N] [--raw]  payloads, one per line (escaped on a terminal unless --raw)
//   redrive [--count N] back into the partition each came from, in order, delivery count reset
//   purge [--count N]  drop them
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string_view>
#include <unistd.h>

#include "command.hpp"
#include "shmq/internal/carried_send.hpp"
#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/participants.hpp"
#include "format.hpp"
#include "json.hpp"

namespace shmq::cli {

namespace {

struct DlqArgs {
    std::string name;
    uint64_t count = UINT64_MAX;
    bool json = false;
    bool raw = false;  // peek: payload bytes as they are, even on a terminal
};

void ls(const DlqArgs& a) {
    auto region = open_region(a.name, detail::Access::read_only);
    const auto letters = dlq::list(*region, a.count);
    if (a.json) {
        Json messages = Json::array();
        for (const auto& l : letters) {
            Json m;
            m["queue"] = a.name;
            m["partition"] = l.partition;
            m["offset"] = l.offset;
            put_bytes(m, "key", l.key);  // producer's bytes: "key" or "key_hex"
            if (!l.dedup_id.empty()) put_bytes(m, "dedup_id", l.dedup_id);
            put_attributes(m, l.routing_key, l.headers, l.attributes_malformed);
            m["deliveries"] = l.deliveries;
            m["delivery_count"] = l.deliveries;
            m["reason"] = l.reason;
            put_bytes(m, "group", l.group);  // read from the region
            m["bytes"] = l.payload.size();
            m["publish_unix_ns"] = l.publish_unix_ns;
            m["first_delivery_unix_ns"] = l.first_delivery_unix_ns;
            m["last_delivery_unix_ns"] = l.last_delivery_unix_ns;
            m["dead_unix_ns"] = l.dead_unix_ns;
            messages.push_back(std::move(m));
        }
        std::cout << dump(Json{{"queue", a.name}, {"messages", std::move(messages)}}) << "\n";
        return;
    }
    if (letters.empty()) {
        std::cout << "queue " << a.name << ": the DLQ is empty\n";
        return;
    }
    // ROUTING-KEY only when some letter was published through an exchange.
    const bool routed = std::any_of(letters.begin(), letters.end(), [](const auto& l) {
        return !l.routing_key.empty() || !l.headers.empty() || l.attributes_malformed;
    });
    std::vector<std::string> columns{"PARTITION", "OFFSET", "KEY", "DELIVERIES", "REASON", "GROUP", "BYTES"};
    if (routed) columns.insert(columns.begin() + 3, "ROUTING-KEY");
    Table t(columns);
    for (const auto& l : letters) {
        std::vector<std::string> row{std::to_string(l.partition), std::to_string(l.offset), l.key.empty() ? "-" : l.key,
                                     std::to_string(l.deliveries), l.reason, l.group, std::to_string(l.payload.size())};
        if (routed)
            row.insert(row.begin() + 3, l.attributes_malformed ? "(malformed)" : l.routing_key.empty() ? "-" : l.routing_key);
        t.add(row);
    }
    std::cout << t.render();
}

// On a terminal each payload is shown through printable() (a payload can hold
// escape sequences); piped, or with --raw, its bytes are written as they are.
void peek(const DlqArgs& a) {
    auto region = open_region(a.name, detail::Access::read_only);
    const bool escape = !a.raw && ::isatty(STDOUT_FILENO) == 1;
    for (const auto& l : dlq::list(*region, a.count)) std::cout << (escape ? printable(l.payload) : l.payload) << "\n";
}

struct Redrive : dlq::Handler {
    Producer producer;
    explicit Redrive(Producer p) : producer(std::move(p)) {}
    Status handle(const dlq::DeadLetter& l) override {
        SendOptions o;
        o.key = l.key;
        o.partition = l.partition;
        o.timeout = Millis(10000);
        // Not blocked by the dedup window: the copy keeps its id, one more redrive counted.
        // Its routing key and headers too: the block goes back in front of the payload.
        return detail::send_carrying_id(producer, std::as_bytes(std::span(l.payload.data(), l.payload.size())), o,
                                        l.dedup_id, static_cast<uint16_t>(std::min<uint32_t>(l.redrives + 1, 0xffff)),
                                        std::as_bytes(std::span(l.attributes.data(), l.attributes.size())));
    }
};

void consume(const DlqArgs& a, bool redrive) {
    try {
        auto region = detail::Region::open(a.name, detail::Access::read_write);
        detail::ScopedParticipant me(*region, layout::Role::admin);
        uint64_t n = 0;
        if (redrive) {
            Queue q = Queue::open(a.name);
            Redrive handler(q.producer());
            n = dlq::consume(*region, me.get(), a.count, &handler);
        } else {
            n = dlq::consume(*region, me.get(), a.count, nullptr);
        }
        std::cout << (redrive ? "redrove " : "purged ") << n << " message(s) of queue " << a.name << "'s DLQ\n";
    } catch (const Error& e) {
        throw CommandError(1, e.what());
    }
}

}  // namespace

void register_dlq(CLI::App& app) {
    auto* dlq = app.add_subcommand("dlq", "The dead-letter queue: ls, peek, redrive, purge");
    dlq->require_subcommand(1);
    dlq->footer(
        "A message goes to the DLQ after --max-deliveries failed deliveries (nacks, expired\n"
        "leases, dead consumers), with its key, partition, offset, deliveries and reason.\n\n"
        "Examples:\n"
        "  shmq dlq ls orders --json\n"
        "  shmq dlq peek orders --count 10   (escaped as \\xNN on a terminal; --raw: as they are)\n"
        "  shmq dlq redrive orders        (after fixing the consumer)\n"
        "  shmq dlq purge orders");
    auto add = [&](const char* verb, const char* help, auto run, bool json, bool count) {
        auto args = std::make_shared<DlqArgs>();
        auto* cmd = dlq->add_subcommand(verb, help);
        cmd->add_option("NAME", args->name, "Queue name")->required();
        if (json) cmd->add_flag("--json", args->json, "Machine-readable output");
        if (count) cmd->add_option("--count", args->count, "At most this many (default: all)");
        if (std::string_view(verb) == "peek")
            cmd->add_flag("--raw", args->raw, "Write payload bytes as they are, even on a terminal");
        cmd->callback([args, run] { run(*args); });
    };
    add("ls", "List dead letters with their metadata", ls, true, true);
    add("peek", "Print dead letters' payloads, one per line", peek, false, true);
    add("redrive", "Send dead letters back to their partitions (delivery count reset, order kept)",
        [](const DlqArgs& a) { consume(a, true); }, false, true);
    add("purge", "Drop dead letters", [](const DlqArgs& a) { consume(a, false); }, false, true);
}

}  // namespace shmq::cli
