// shmq delete NAME: removes the region; attached processes get queue_deleted.
#include <iostream>

#include "command.hpp"

namespace shmq::cli {

void register_delete(CLI::App& app) {
    auto name = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("delete", "Delete a queue (attached processes see it deleted)");
    cmd->footer(
        "Marks the region deleted (attached producers and consumers get `queue_deleted`) and\n"
        "unlinks it; memory is freed when the last process detaches.\n\n"
        "Example:\n"
        "  shmq delete orders");
    cmd->add_option("NAME", *name, "Queue name")->required();
    cmd->callback([name] {
        try {
            Queue::remove(*name);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
        std::cout << "deleted queue " << *name << "\n";
    });
}

}  // namespace shmq::cli
