// shmq dlq ls|peek|redrive|purge NAME: the queue's dead-letter queue.
//   ls [--json]        metadata of each dead letter, oldest first
//   peek [--count N]   payloads, one per line
//   redrive [--count N] back into the partition each came from, in order, delivery count reset
//   purge [--count N]  drop them
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "dlq/dlq_admin.hpp"
#include "participants.hpp"
#include "format.hpp"
#include "json.hpp"

namespace shmq::cli {

namespace {

struct DlqArgs {
    std::string name;
    uint64_t count = UINT64_MAX;
    bool json = false;
};

void ls(const DlqArgs& a) {
    auto region = open_region(a.name, detail::Access::read_only);
    const auto letters = dlq::list(*region, a.count);
    if (a.json) {
        Json j;
        j.begin_object().field("queue", a.name).begin_array("messages");
        for (const auto& l : letters)
            j.begin_object()
                .field("queue", a.name)
                .field("partition", l.partition)
                .field("offset", l.offset)
                .field("key", l.key)
                .field("deliveries", l.deliveries)
                .field("delivery_count", l.deliveries)
                .field("reason", l.reason)
                .field("group", l.group)
                .field("bytes", l.payload.size())
                .field("publish_unix_ns", l.publish_unix_ns)
                .field("first_delivery_unix_ns", l.first_delivery_unix_ns)
                .field("last_delivery_unix_ns", l.last_delivery_unix_ns)
                .field("dead_unix_ns", l.dead_unix_ns)
                .end_object();
        j.end_array().end_object();
        std::cout << j.str() << "\n";
        return;
    }
    if (letters.empty()) {
        std::cout << "queue " << a.name << ": the DLQ is empty\n";
        return;
    }
    Table t({"PARTITION", "OFFSET", "KEY", "DELIVERIES", "REASON", "GROUP", "BYTES"});
    for (const auto& l : letters)
        t.add({std::to_string(l.partition), std::to_string(l.offset), l.key.empty() ? "-" : l.key,
               std::to_string(l.deliveries), l.reason, l.group, std::to_string(l.payload.size())});
    std::cout << t.render();
}

void peek(const DlqArgs& a) {
    auto region = open_region(a.name, detail::Access::read_only);
    for (const auto& l : dlq::list(*region, a.count)) std::cout << l.payload << "\n";
}

struct Redrive : dlq::Handler {
    Producer producer;
    explicit Redrive(Producer p) : producer(std::move(p)) {}
    Status handle(const dlq::DeadLetter& l) override {
        SendOptions o;
        o.key = l.key;
        o.partition = l.partition;
        o.timeout = Millis(10000);
        return producer.send(l.payload, o);
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
        "  shmq dlq peek orders --count 10\n"
        "  shmq dlq redrive orders        (after fixing the consumer)\n"
        "  shmq dlq purge orders");
    auto add = [&](const char* verb, const char* help, auto run, bool json, bool count) {
        auto args = std::make_shared<DlqArgs>();
        auto* cmd = dlq->add_subcommand(verb, help);
        cmd->add_option("NAME", args->name, "Queue name")->required();
        if (json) cmd->add_flag("--json", args->json, "Machine-readable output");
        if (count) cmd->add_option("--count", args->count, "At most this many (default: all)");
        cmd->callback([args, run] { run(*args); });
    };
    add("ls", "List dead letters with their metadata", ls, true, true);
    add("peek", "Print dead letters' payloads, one per line", peek, false, true);
    add("redrive", "Send dead letters back to their partitions (delivery count reset, order kept)",
        [](const DlqArgs& a) { consume(a, true); }, false, true);
    add("purge", "Drop dead letters", [](const DlqArgs& a) { consume(a, false); }, false, true);
}

}  // namespace shmq::cli
