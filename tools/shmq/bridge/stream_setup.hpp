// The bridge's JetStream stream: created when missing (subjects `<prefix>.>`,
// file storage, a duplicate window for Nats-Msg-Id dedup), checked when it
// exists (it must take `<prefix>.>`, keep messages on file, and deduplicate).
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <string>

namespace shmq::cli::bridge {

struct StreamSpec {
    std::string name;
    std::string prefix;             // subjects: prefix + ".>"
    int64_t replicas = 1;           // when created
    int64_t duplicate_window_ms = 120000;  // when created; an existing stream needs > 0
};

// Throws CommandError(1) with what is wrong and what to do.
void ensure_stream(jsCtx* js, const StreamSpec& spec);

}  // namespace shmq::cli::bridge
