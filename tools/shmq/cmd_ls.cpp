// shmq ls [--json]: one row per queue in /dev/shm, read-only.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "format.hpp"
#include "snapshot_json.hpp"

namespace shmq::cli {

void register_ls(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("ls", "List queues");
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->footer(
        "One row per queue region in /dev/shm; reads the regions directly (no shmqd needed).\n"
        "Numbers are abbreviated (1.2M) in the table and exact in --json (schema: docs/CLI.md).\n\n"
        "Examples:\n"
        "  shmq ls\n"
        "  shmq ls --json | jq '.queues[] | select(.dlq_depth > 0) | .name'");
    cmd->callback([json] {
        Table table({"NAME", "PARTS", "CAPACITY", "DEPTH", "IN-FLIGHT", "GROUPS", "CONSUMERS", "PRODUCERS", "DLQ",
                     "SPILLED", "ON-FULL", "STATE"});
        Json j;
        j.begin_object().begin_array("queues");
        for (const auto& name : inspect::list_queue_names()) {
            try {
                auto region = detail::Region::open(name, detail::Access::read_only);
                const auto s = inspect::snapshot(*region);
                j.begin_object()
                    .field("name", s.name)
                    .field("state", s.state)
                    .field("partitions", s.options.partitions)
                    .field("capacity", s.options.capacity)
                    .field("max_message", s.options.max_message)
                    .field("on_full", inspect::on_full_name(s.options.on_full))
                    .field("published", s.published)
                    .field("depth", s.depth)
                    .field("in_flight", s.in_flight)
                    .field("groups", s.groups.size())
                    .field("consumers", s.consumers)
                    .field("producers", s.producers)
                    .field("dlq_depth", s.dlq.depth)
                    .field("spilled", s.spilled)
                    .field("overloaded", s.overloaded)
                    .end_object();
                table.add({s.name, std::to_string(s.options.partitions), human_count(s.options.capacity),
                           human_count(s.depth), human_count(s.in_flight), std::to_string(s.groups.size()),
                           std::to_string(s.consumers), std::to_string(s.producers), human_count(s.dlq.depth), human_count(s.spilled),
                           inspect::on_full_name(s.options.on_full), s.overloaded ? s.state + ", overloaded" : s.state});
            } catch (const Error& e) {
                j.begin_object().field("name", name).field("state", "unreadable").field("error", e.what()).end_object();
                table.add({name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "unreadable"});
            }
        }
        j.end_array().end_object();
        if (*json)
            std::cout << j.str() << "\n";
        else if (table.empty())
            std::cout << "no queues (create one with `shmq create NAME`)\n";
        else
            std::cout << table.render();
    });
}

}  // namespace shmq::cli
