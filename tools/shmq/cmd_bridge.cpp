// shmq bridge out QUEUE --group G --nats URL[,URL...] --stream NAME [--subject-prefix P]:
//   forward a queue to a NATS JetStream stream;
// shmq bridge in QUEUE --nats URL --stream NAME --durable D [--subject S]:
//   and a stream's messages into a queue (docs/SCALING.md).
#include "bridge/bridge_in.hpp"
#include "bridge/bridge_out.hpp"
#include "bridge/nats_session.hpp"
#include "command.hpp"

#include <CLI/CLI.hpp>
#include <nats/nats.h>

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
        (void)bridge::split_urls(config->urls);  // a usage error before anything is opened
        std::signal(SIGPIPE, SIG_IGN);
        bridge::run_out(*config);
        nats_Close();  // libnats' threads and global state, before exit
    });
}

void register_bridge_in(CLI::App& bridge) {
    auto config = std::make_shared<bridge::InConfig>();
    auto* cmd = bridge.add_subcommand("in", "Send a NATS JetStream stream's messages into a queue");
    cmd->add_option("QUEUE", config->queue, "Queue to send into")->required();
    cmd->add_option("--nats", config->urls, "NATS server URLs, comma-separated (nats://host:port,...)")->required();
    cmd->add_option("--stream", config->stream, "JetStream stream to read")->required();
    cmd->add_option("--durable", config->durable, "Durable pull consumer (created when missing)")->required();
    cmd->add_option("--subject", config->subject, "Only this subject (wildcards allowed; default: the whole stream)");
    cmd->add_option("--batch", config->batch, "Messages per fetch")->default_val(256)->check(CLI::Range(1, 4096));
    cmd->add_option("--ack-wait-ms", config->ack_wait_ms, "AckWait of a consumer the bridge creates")
        ->default_val(30000)->check(CLI::Range(int64_t{1000}, int64_t{3600000}));
    cmd->footer(
        "Reads STREAM through the durable pull consumer DURABLE (AckExplicit; created when missing,\n"
        "with unlimited redeliveries) and sends each message into QUEUE, keyed by its Shmq-Key\n"
        "header (set by bridge out) or else its subject; the JetStream message is ACKed only\n"
        "after the local send (at-least-once: a bridge killed in between gets it again). While\n"
        "QUEUE is full the bridge waits, telling JetStream the message is in progress. A message\n"
        "QUEUE can never take (too large) is terminated in JetStream and reported. Runs until\n"
        "SIGINT/SIGTERM.\n\n"
        "Examples:\n"
        "  shmq bridge in orders --nats nats://127.0.0.1:4222 --stream ORDERS --durable host-b\n"
        "  shmq bridge in eu --nats nats://a:4222,nats://b:4222 --stream ORDERS --durable eu --subject 'shmq.orders.>'");
    cmd->callback([config] {
        if (config->durable.find_first_of(". *>") != std::string::npos)
            throw CommandError(2, "--durable '" + config->durable + "' may not contain '.', ' ', '*' or '>'");
        (void)bridge::split_urls(config->urls);
        std::signal(SIGPIPE, SIG_IGN);
        bridge::run_in(*config);
        nats_Close();
    });
}

}  // namespace

void register_bridge(CLI::App& app) {
    auto* bridge = app.add_subcommand("bridge", "Forward messages to or from a NATS JetStream cluster");
    bridge->require_subcommand(1);
    register_bridge_out(*bridge);
    register_bridge_in(*bridge);
}

}  // namespace shmq::cli
