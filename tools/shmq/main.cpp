// shmq: create, inspect and administer queues; produce and consume from a shell.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <csignal>
#include <iostream>

#include "command.hpp"
#include "format.hpp"

namespace shmq::cli {

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }
}  // namespace

void register_transform(CLI::App& app);  // cmd_transform.cpp
void register_exchange(CLI::App& app);   // cmd_exchange.cpp
void register_bind(CLI::App& app);       // cmd_bind.cpp: bind and unbind
void register_publish(CLI::App& app);    // cmd_publish.cpp

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: blocking waits return early
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

void sleep_interruptibly(uint64_t ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stop_requested()) {
        const auto left = until - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds::zero()) return;
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(50)));
    }
}

std::shared_ptr<detail::Region> open_region(const std::string& name, detail::Access access) {
    try {
        return detail::Region::open(name, access);
    } catch (const Error& e) {
        throw CommandError(1, e.what());
    }
}

}  // namespace shmq::cli

int main(int argc, char** argv) {
    using namespace shmq::cli;
    CLI::App app{"shmq: shared-memory message queues for processes on one host"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "shmq 0.1.0");
    app.footer(
        "Run `shmq VERB --help` for a verb's options and examples. The monitoring verbs (ls, stat,\n"
        "groups, check, top) read the regions directly and work without shmqd.\n"
        "Reference and JSON schemas: docs/CLI.md. Exit codes: 0 success, 1 failure, 2 bad usage\n"
        "(check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).");
    register_create(app);
    register_delete(app);
    register_ls(app);
    register_stat(app);
    register_groups(app);
    register_produce(app);
    register_consume(app);
    register_dlq(app);
    register_replay(app);
    register_bench(app);
    register_check(app);
    register_top(app);
    register_transform(app);
    register_exchange(app);
    register_bind(app);
    register_publish(app);
#ifdef SHMQ_HAVE_BRIDGE
    register_bridge(app);
#endif
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help/--version exit 0; every usage error exits 2 (CLI11's own codes vary).
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const CommandError& e) {  // error lines may quote names and keys: printed through printable()
        if (*e.what() != '\0') std::cerr << "shmq: " << printable(e.what()) << "\n";
        return e.exit_code;
    } catch (const shmq::Error& e) {
        std::cerr << "shmq: " << printable(e.what()) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "shmq: " << printable(e.what()) << "\n";
        return 1;
    }
    return 0;
}
