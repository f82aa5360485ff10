// shmq groups NAME [--json]: the groups of a queue (like kafka-consumer-groups --describe).
// shmq groups delete NAME GROUP: delete a group with no live consumers, releasing its hold.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "format.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/participants.hpp"
#include "snapshot_json.hpp"

namespace shmq::cli {

void register_groups(CLI::App& app) {
    struct Args {
        std::string name, group;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto del = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("groups", "List a queue's consumer groups, or delete one");
    cmd->add_option("NAME", args->name, "Queue name");
    cmd->add_flag("--json", args->json, "Machine-readable output");
    cmd->footer(
        "Per group: kind, members, partitions owned and the lag per partition (like\n"
        "kafka-consumer-groups --describe). `groups delete` removes a group with no live\n"
        "consumers, so it stops holding messages in the rings.\n\n"
        "Examples:\n"
        "  shmq groups orders\n"
        "  shmq groups orders --json\n"
        "  shmq groups delete orders billing");
    auto* rm = cmd->add_subcommand("delete", "Delete a group that has no live consumers");
    rm->add_option("NAME", del->name, "Queue name")->required();
    rm->add_option("GROUP", del->group, "Group name")->required();
    rm->callback([del] {
        auto region = open_region(del->name, detail::Access::read_write);
        try {
            detail::ScopedParticipant me(*region, layout::Role::admin);
            detail::delete_group(*region, del->group, me.get());
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
        std::cout << "deleted group " << printable(del->group) << " of queue " << del->name << "\n";
    });
    cmd->callback([args, cmd, rm] {
        if (rm->parsed()) return;
        if (args->name.empty()) throw CommandError(2, "groups: give a queue NAME (or `groups delete NAME GROUP`)");
        auto region = open_region(args->name, detail::Access::read_only);
        const auto s = inspect::snapshot(*region);
        if (args->json) {
            Json j;
            put_bytes(j, "queue", s.name);
            j["groups"] = Json::array();
            for (const auto& g : s.groups) j["groups"].push_back(group_json(g, true));
            std::cout << dump(j) << "\n";
            return;
        }
        if (s.groups.empty()) {
            std::cout << "queue " << printable(s.name) << " has no groups\n";
            return;
        }
        for (const auto& g : s.groups) {
            std::string members;
            for (uint32_t pid : g.member_pids) members += (members.empty() ? " (pid " : ", ") + std::to_string(pid);
            if (!members.empty()) members += ")";
            std::cout << "group " << printable(g.name) << " (" << (detail::group_kind_name(g.kind))
                      << "), " << g.member_pids.size() << " member(s)" << members << ", lag " << human_count(g.total.lag)
                      << ", in-flight " << human_count(g.total.in_flight) << "\n";
            Table t({"PARTITION", "OWNER", "NEXT", "FLOOR", "LAG", "IN-FLIGHT", "RETRYING"});
            for (const auto& p : g.partitions)
                t.add({std::to_string(p.partition),
                       g.kind == GroupKind::exclusive ? (p.owner_pid ? std::to_string(p.owner_pid) : "none") : "-",
                       std::to_string(p.next), std::to_string(p.floor), std::to_string(p.lag),
                       std::to_string(p.in_flight), std::to_string(p.retrying)});
            std::cout << t.render("  ");
        }
    });
}

}  // namespace shmq::cli
