// What every verb of the tool shares: registration, errors, opening queues.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "shmq/internal/region.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace shmq::cli {

// Thrown by a verb: printed as "shmq: <message>", exit with `exit_code`.
struct CommandError : std::runtime_error {
    int exit_code;
    CommandError(int code, const std::string& message) : std::runtime_error(message), exit_code(code) {}
};

// Set by SIGINT/SIGTERM: long-running verbs finish their current item and exit.
bool stop_requested();
void install_stop_handlers();
// Sleeps up to `ms`, returning early once a stop was requested.
void sleep_interruptibly(uint64_t ms);

std::shared_ptr<detail::Region> open_region(const std::string& name, detail::Access access);

void register_create(CLI::App& app);
void register_delete(CLI::App& app);
void register_ls(CLI::App& app);
void register_stat(CLI::App& app);
void register_groups(CLI::App& app);
void register_produce(CLI::App& app);
void register_consume(CLI::App& app);
void register_dlq(CLI::App& app);
void register_bench(CLI::App& app);
void register_check(CLI::App& app);
void register_top(CLI::App& app);
void register_replay(CLI::App& app);
#ifdef SHMQ_HAVE_BRIDGE
void register_bridge(CLI::App& app);  // shmq bridge (libnats)
#endif

}  // namespace shmq::cli
