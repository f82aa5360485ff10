// shmq delete NAME [--region-only]: removes the region; attached processes get queue_deleted.
#include <CLI/CLI.hpp>
#include <iostream>

#include "command.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"

namespace shmq::cli {

void register_delete(CLI::App& app) {
    auto name = std::make_shared<std::string>();
    auto region_only = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("delete", "Delete a queue (attached processes see it deleted)");
    cmd->footer(
        "Marks the region deleted (attached producers and consumers get `queue_deleted`) and\n"
        "unlinks it; memory is freed when the last process detaches. The shmqd serving a\n"
        "journaled queue then sets its journal aside (DATA/journal/NAME.deleted-<time>).\n"
        "--region-only removes the region as a reboot would: shmqd keeps the journal and\n"
        "recreates the queue from it, every group at its saved position.\n\n"
        "Examples:\n"
        "  shmq delete orders\n"
        "  shmq delete orders --region-only");
    cmd->add_option("NAME", *name, "Queue name")->required();
    cmd->add_flag("--region-only", *region_only, "Keep a journaled queue's journal: shmqd recreates the queue from it");
    cmd->callback([name, region_only] {
        bool journaled_alone = false;
        try {
            auto r = detail::Region::open(*name, detail::Access::read_only);
            journaled_alone = r->params().journal != 0 && !detail::served_by_shmqd(*r);
        } catch (const Error&) {
        }
        try {
            detail::Region::remove(*name, *region_only);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
        std::cout << "deleted queue " << *name << (*region_only ? " (region only; its journal stays)" : "") << "\n";
        if (journaled_alone && !*region_only)
            std::cerr << "shmq: note: no shmqd serves " << *name << ", so its journal stays in shmqd's data dir and a "
                      << "shmqd started later recreates the queue from it; remove DATA/journal/" << *name
                      << " to forget it\n";
    });
}

}  // namespace shmq::cli
