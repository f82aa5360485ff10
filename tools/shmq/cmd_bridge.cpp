// shmq bridge out QUEUE --group G --nats URL[,URL...] --stream NAME [--subject-prefix P]:
//   forward a queue to a NATS JetStream stream (docs/SCALING.md).
#include "bridge/bridge_out.hpp"
#include "command.hpp"

#include <csignal>

namespace shmq::cli {

namespace {

bool valid_prefix(const std::string& p) {
    if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != std::string::npos) return false;
    for (char c : p)
        if (c <= 0x20 || c > 0x7e || c == '*' || c == '>') return false;
    return true;
}

void register_bridge_out(CLI::App& bridge) {
    auto config = std::make_shared<bridge::OutConfig>();
    auto* cmd = bridge.add_subcommand("out", "Publish a queue's messages to a NATS JetStream stream");
    cmd->add_option("QUEUE", config->queue, "Queue to forward")->required();
    cmd->add_option("--group", config->group, "Consumer group the bridge consumes as (exclusive)")->required();
    cmd->add_option("--nats", config->urls, "NATS server URLs, comma-separated (nats://host:port,...)")->required();
    cmd->add_option("--stream", config->stream, "JetStream stream (created when missing)")->required();
    cmd->add_option("--subject-prefix", config->prefix, "Subjects are PREFIX.<queue>.p<partition>")
        ->default_val("shmq");
    cmd->add_option("--replicas", config->replicas, "Replicas of a stream the bridge creates (1..5)")
        ->default_val(1)->check(CLI::Range(1, 5));
    cmd->add_option("--duplicate-window-ms", config->duplicate_window_ms,
                    "Duplicate window of a stream the bridge creates")
        ->default_val(120000)->check(CLI::Range(int64_t{1000}, int64_t{86400000}));
    cmd->add_option("--window", config->window, "Messages held (leased, not yet stored) at once")
        ->default_val(1024)->check(CLI::Range(1, 65536));
    cmd->add_option("--ack-wait-ms", config->ack_wait_ms, "A publish without a PubAck this long is re-sent")
        ->default_val(5000)->check(CLI::Range(int64_t{100}, int64_t{600000}));
    cmd->footer(
        "Consumes QUEUE as the exclusive group GROUP and publishes each message to subject\n"
        "PREFIX.QUEUE.p<partition> with Nats-Msg-Id QUEUE:<epoch>:<partition>:<offset>; the local\n"
        "message is ACKed only after JetStream stored it (at-least-once; the stream's duplicate\n"
        "window drops what a restarted bridge sends again). While the cluster is away, messages\n"
        "stay leased here (leases extended) and are sent once it is back, in partition order.\n"
        "Creates the stream (subjects PREFIX.>, file storage) when it does not exist. Runs until\n"
        "SIGINT/SIGTERM.\n\n"
        "Examples:\n"
        "  shmq bridge out orders --group to-nats --nats nats://127.0.0.1:4222 --stream ORDERS\n"
        "  shmq bridge out orders --group to-nats --nats nats://a:4222,nats://b:4222 --stream ORDERS --replicas 3");
    cmd->callback([config] {
        if (!valid_prefix(config->prefix))
            throw CommandError(2, "--subject-prefix '" + config->prefix +
                                      "' is not a NATS subject prefix (tokens separated by '.', no spaces, '*' or '>')");
        std::signal(SIGPIPE, SIG_IGN);
        bridge::run_out(*config);
    });
}

}  // namespace

void register_bridge(CLI::App& app) {
    auto* bridge = app.add_subcommand("bridge", "Forward messages to or from a NATS JetStream cluster");
    bridge->require_subcommand(1);
    register_bridge_out(*bridge);
}

}  // namespace shmq::cli
