// shmq stat NAME [--json]: partitions, groups, participants and DLQ of a queue, read-only.
#include <ctime>
#include <iostream>

#include "command.hpp"
#include "format.hpp"
#include "snapshot_json.hpp"

namespace shmq::cli {

namespace {

std::string owner_cell(const inspect::GroupPartitionStats& p, GroupKind kind) {
    if (kind != GroupKind::exclusive) return "-";
    return p.owner_pid == 0 ? "none" : std::to_string(p.owner_pid);
}

void print_text(const inspect::QueueSnapshot& s) {
    const auto& o = s.options;
    std::cout << "queue " << s.name << " (" << s.state << "): " << o.partitions << " partition(s) x " << o.capacity
              << " slots of " << human_bytes(o.max_message) << ", on-full " << inspect::on_full_name(o.on_full)
              << ", lease " << human_ms(o.lease_ms) << ", max-deliveries " << o.max_deliveries << ", mode "
              << octal_mode(o.mode) << ", " << human_bytes(s.region_bytes) << "\n";
    std::cout << "published " << s.published << ", depth " << s.depth << ", in-flight " << s.in_flight << ", "
              << s.producers << " producer(s), " << s.consumers << " consumer(s)\n\n";

    Table parts({"PARTITION", "PUBLISHED", "DEPTH", "DELIVERED", "ACKED", "NACKED", "REDELIVERED", "REJECTED",
                 "TIMEOUTS", "ABORTED"});
    for (const auto& p : s.partitions)
        parts.add({std::to_string(p.partition), std::to_string(p.published), std::to_string(p.depth),
                   std::to_string(p.delivered), std::to_string(p.acked), std::to_string(p.nacked),
                   std::to_string(p.redelivered), std::to_string(p.rejected), std::to_string(p.timeouts),
                   std::to_string(p.aborted)});
    std::cout << "partitions:\n" << parts.render("  ") << "\n";

    if (s.groups.empty()) {
        std::cout << "groups: none (messages wait for the first group)\n\n";
    } else {
        Table groups({"GROUP", "KIND", "PARTITION", "OWNER", "LAG", "IN-FLIGHT", "DELIVERED", "ACKED", "NACKED",
                      "REDELIVERED", "EXPIRED", "DEAD-LETTERED"});
        for (const auto& g : s.groups) {
            const char* kind = g.kind == GroupKind::exclusive ? "exclusive" : "shared";
            for (const auto& p : g.partitions)
                groups.add({g.name, kind, std::to_string(p.partition), owner_cell(p, g.kind), std::to_string(p.lag),
                            std::to_string(p.in_flight), std::to_string(p.delivered), std::to_string(p.acked),
                            std::to_string(p.nacked), std::to_string(p.redelivered), std::to_string(p.expired),
                            std::to_string(p.dead_lettered)});
            if (g.partitions.size() > 1)
                groups.add({g.name, kind, "all", "-", std::to_string(g.total.lag), std::to_string(g.total.in_flight),
                            std::to_string(g.total.delivered), std::to_string(g.total.acked),
                            std::to_string(g.total.nacked), std::to_string(g.total.redelivered),
                            std::to_string(g.total.expired), std::to_string(g.total.dead_lettered)});
        }
        std::cout << "groups:\n" << groups.render("  ") << "\n";
    }

    if (s.participants.empty()) {
        std::cout << "participants: none\n\n";
    } else {
        Table people({"PID", "ROLE", "GROUP", "PARTITIONS", "STATE", "HEARTBEAT", "OPS"});
        for (const auto& p : s.participants) {
            std::string owned = "-";
            if (!p.partitions_owned.empty()) {
                owned.clear();
                for (uint32_t part : p.partitions_owned) owned += (owned.empty() ? "" : ",") + std::to_string(part);
            }
            std::string role = inspect::role_name(p.role);
            if (p.at_most_once) role += " (at-most-once)";
            people.add({std::to_string(p.pid), role, p.group.empty() ? "-" : p.group, owned, p.liveness,
                        human_ms(p.heartbeat_age_ms) + " ago", human_count(p.operations)});
        }
        std::cout << "participants:\n" << people.render("  ") << "\n";
    }
    std::cout << "dlq: depth " << s.dlq.depth << " of " << s.dlq.capacity << ", dead-lettered " << s.dlq.dead_lettered
              << ", redriven " << s.dlq.redriven << ", purged " << s.dlq.purged << ", blocked " << s.dlq.blocked
              << "\n";
}

}  // namespace

void register_stat(CLI::App& app) {
    struct Args {
        std::string name;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("stat", "Show a queue's partitions, groups, participants and DLQ");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    cmd->add_flag("--json", args->json, "Machine-readable output");
    cmd->callback([args] {
        auto region = open_region(args->name, detail::Access::read_only);
        const auto s = inspect::snapshot(*region);
        if (args->json) {
            Json j;
            write_snapshot(j, s);
            std::cout << j.str() << "\n";
        } else {
            print_text(s);
        }
    });
}

}  // namespace shmq::cli
