// `shmq transform IN --group G --to OUT -- COMMAND...`: consume IN, pipe
// each payload through COMMAND as one line, send its answer line to OUT,
// and commit the input ACKs with the outputs (shmq::Transaction).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shmq/shmq.hpp"

namespace shmq::cli::transform {

struct Config {
    std::string in, group, to;
    GroupKind kind = GroupKind::exclusive;
    uint32_t batch = 64;    // inputs per transaction, at most
    uint32_t idle_ms = 2;   // a batch commits once no further input came within this
    std::vector<std::string> command;
};

// Runs until SIGINT/SIGTERM (returns normally: exit 0) or a failure (prints
// its one line and throws CommandError(1, "")).
void run(const Config& config);

}  // namespace shmq::cli::transform
