// `shmq bridge in`: a JetStream pull consumer (AckExplicit) whose messages are
// sent into a queue; each is ACKed to JetStream only after the local send.
// A message's Nats-Msg-Id becomes its dedup id (msg_id.hpp): on a queue with
// a dedup window a message already there is answered duplicate and ACKed.
#pragma once

#include <cstdint>
#include <string>

namespace shmq::cli::bridge {

struct InConfig {
    std::string queue, urls, stream, durable, subject;  // subject: filter; empty: the whole stream
    int batch = 256;             // messages per fetch
    int64_t ack_wait_ms = 30000;  // of a consumer the bridge creates
};

// Runs until SIGINT/SIGTERM; throws CommandError on a setup failure.
void run_in(const InConfig& config);

}  // namespace shmq::cli::bridge
