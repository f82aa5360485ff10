// shmqd's options: command-line flags, optionally read from a config file
// (CLI11's INI/TOML reader), re-read on SIGHUP.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shmq::daemon {

struct Config {
    std::string config_file;
    std::string data_dir;
    std::string lock_file;
    std::string log_level = "info";
    uint32_t tick_ms = 1000;  // the longest sleep: shmqd wakes for events and deadlines
    // Integrity check (docs/RELIABILITY.md): every cell of every queue within
    // max(period, cells / max rate).
    uint32_t integrity_period_ms = 10'000;
    uint64_t integrity_max_cells_per_second = 1'000'000;
    std::vector<std::string> queues;  // empty: every shmq.* region we can open
    // Metrics (docs/METRICS.md). metrics_listen has passed parse_listen_address.
    std::string metrics_listen;    // HOST:PORT of the /metrics endpoint; empty: none
    bool metrics_allow_remote = false;
    std::string metrics_textfile;  // node_exporter textfile to refresh; empty: none
    uint32_t metrics_interval_ms = 5000;
    uint64_t journal_segment_bytes = 64ull << 20;  // journals roll their segments at this size
    // Whose regions shmqd serves: those owned by its own euid, plus these
    // (--serve-uid, names resolved by parse_config), or every one with
    // serve_all_uids. Others are skipped with a log line (docs/ARCHITECTURE.md).
    std::vector<std::string> serve_uid_args;  // as given: names or numbers
    std::vector<uint32_t> serve_uids;         // resolved
    bool serve_all_uids = false;
};

// True if shmqd with this config serves a region owned by `uid`.
bool serves_uid(const Config& c, uint32_t uid);

// Parses argv (and the --config file it names). Returns an exit code >= 0
// when the process should exit at once (--help, a bad option), else -1.
int parse_config(int argc, char** argv, Config& out);
std::string default_data_dir();
std::string default_lock_file();

}  // namespace shmq::daemon
