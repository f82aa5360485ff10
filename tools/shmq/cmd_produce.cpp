// shmq produce NAME [--key K] [--timeout-ms MS]: one message per stdin line.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "command.hpp"

namespace shmq::cli {

void register_produce(CLI::App& app) {
    struct Args {
        std::string name, key;
        int64_t timeout_ms = -1;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("produce", "Send one message per line of standard input");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    cmd->add_option("--key", args->key, "Key of every message (same key, same partition)");
    cmd->add_option("--timeout-ms", args->timeout_ms, "How long to wait for room in a full queue (default: forever)");
    cmd->footer(
        "Sends each line (without its newline) as one message and exits at end of input. With\n"
        "--on-full block a full queue makes it wait (up to --timeout-ms); a line that cannot be\n"
        "sent stops it with exit 1, saying how many were sent.\n\n"
        "Examples:\n"
        "  seq 1 1000 | shmq produce orders\n"
        "  echo 'resize 42' | shmq produce jobs --key photo-42 --timeout-ms 500");
    cmd->callback([args] {
        if (args->key.size() > kMaxKeyBytes)
            throw CommandError(2, "--key is " + std::to_string(args->key.size()) + " bytes; keys are at most 64");
        Queue q = [&] {
            try {
                return Queue::open(args->name);
            } catch (const Error& e) {
                throw CommandError(1, e.what());
            }
        }();
        auto producer = q.producer();
        SendOptions options;
        options.key = args->key;
        options.timeout = args->timeout_ms < 0 ? kForever : Millis(args->timeout_ms);
        std::ios::sync_with_stdio(false);
        std::string line;
        uint64_t sent = 0;
        while (std::getline(std::cin, line)) {
            Status st = producer.send(line, options);
            if (!st) {
                std::string why = st.message();
                if (st.code() == Errc::message_too_large)
                    why += " (" + std::to_string(line.size()) + " > " + std::to_string(q.options().max_message) + " bytes)";
                if (st.code() == Errc::timeout)
                    why = "no room in the queue within --timeout-ms " + std::to_string(args->timeout_ms) +
                          " (are consumers running?)";
                throw CommandError(1, "line " + std::to_string(sent + 1) + " not sent: " + why + "; " +
                                          std::to_string(sent) + " message(s) were sent");
            }
            ++sent;
        }
    });
}

}  // namespace shmq::cli
