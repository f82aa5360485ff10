// shmq ls [--json]: one row per queue in /dev/shm, read-only.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "format.hpp"
#include "shmq/internal/inspect.hpp"
#include "json.hpp"

namespace shmq::cli {

void register_ls(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("ls", "List queues");
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->footer(
        "One row per queue region in /dev/shm; reads the regions directly (no shmqd needed).\n"
        "A region whose creator has not finished it shows as `creating` (never waited for).\n"
        "Numbers are abbreviated (1.2M) in the table and exact in --json (schema: docs/CLI.md).\n\n"
        "Examples:\n"
        "  shmq ls\n"
        "  shmq ls --json | jq '.queues[] | select(.dlq_depth > 0) | .name'");
    cmd->callback([json] {
        Table table({"NAME", "PARTS", "CAPACITY", "DEPTH", "IN-FLIGHT", "GROUPS", "CONSUMERS", "PRODUCERS", "DLQ",
                     "SPILLED", "ON-FULL", "STATE"});
        Json queues = Json::array();
        for (const auto& name : inspect::list_queue_names()) {
            Json q;
            try {
                auto region = inspect::open_listed(name);
                if (!region) {  // its creator has not published it (yet): listed, never waited for
                    put_bytes(q, "name", name);
                    q["state"] = inspect::kStateCreating;
                    table.add({name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", inspect::kStateCreating});
                    queues.push_back(std::move(q));
                    continue;
                }
                const auto s = inspect::snapshot(*region);
                put_bytes(q, "name", s.name);
                q["state"] = s.state;
                q["partitions"] = s.options.partitions;
                q["capacity"] = s.options.capacity;
                q["max_message"] = s.options.max_message;
                q["on_full"] = inspect::on_full_name(s.options.on_full);
                q["published"] = s.published;
                q["depth"] = s.depth;
                q["in_flight"] = s.in_flight;
                q["groups"] = s.groups.size();
                q["consumers"] = s.consumers;
                q["producers"] = s.producers;
                q["dlq_depth"] = s.dlq.depth;
                q["spilled"] = s.spilled;
                q["overloaded"] = s.overloaded;
                table.add({s.name, std::to_string(s.options.partitions), human_count(s.options.capacity),
                           human_count(s.depth), human_count(s.in_flight), std::to_string(s.groups.size()),
                           std::to_string(s.consumers), std::to_string(s.producers), human_count(s.dlq.depth), human_count(s.spilled),
                           inspect::on_full_name(s.options.on_full), s.overloaded ? s.state + ", overloaded" : s.state});
            } catch (const Error& e) {
                q = Json();
                put_bytes(q, "name", name);
                q["state"] = "unreadable";
                put_bytes(q, "error", e.what());
                table.add({name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "unreadable"});
            }
            queues.push_back(std::move(q));
        }
        if (*json)
            std::cout << dump(Json{{"queues", std::move(queues)}}) << "\n";
        else if (table.empty())
            std::cout << "no queues (create one with `shmq create NAME`)\n";
        else
            std::cout << table.render();
    });
}

}  // namespace shmq::cli
