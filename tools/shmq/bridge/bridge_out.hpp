// `shmq bridge out`: consume a queue as an exclusive group and publish every
// message to JetStream, ACKing it locally only after its PubAck.
#pragma once

#include <cstdint>
#include <string>

namespace shmq::cli::bridge {

struct OutConfig {
    std::string queue, group, urls, stream, prefix = "shmq";
    int64_t replicas = 1;              // of a stream the bridge creates
    int64_t duplicate_window_ms = 120000;
    uint32_t window = 1024;            // messages held (leased, unACKed) at once
    int64_t ack_wait_ms = 5000;        // a publish without an answer this long has failed
};

// Runs until SIGINT/SIGTERM; throws CommandError on a setup failure.
void run_out(const OutConfig& config);

}  // namespace shmq::cli::bridge
