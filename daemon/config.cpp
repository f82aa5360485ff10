#include "config.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <pwd.h>
#include <unistd.h>
#include <vector>

#include "log.hpp"
#include "metrics_http.hpp"
#include "shmq/internal/names.hpp"

namespace shmq::daemon {

std::string default_data_dir() {
    if (::geteuid() == 0) return "/var/lib/shmq";
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) return std::string(state) + "/shmq";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/shmq";
    return "/tmp/shmq-" + std::to_string(::geteuid());
}

std::string default_lock_file() {
    if (const char* path = std::getenv("SHMQD_LOCK_FILE"); path && *path) return path;
    return "/dev/shm/shmqd.lock";  // one per host: not a "shmq." region name
}

namespace {

// A user name (passwd, NSS) or a number.
std::optional<uint32_t> resolve_uid(const std::string& text) {
    if (!text.empty() && text.size() <= 10 && text.find_first_not_of("0123456789") == std::string::npos) {
        const unsigned long uid = std::stoul(text);
        if (uid < UINT32_MAX) return static_cast<uint32_t>(uid);
    }
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r(text.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
    return static_cast<uint32_t>(found->pw_uid);
}

}  // namespace

bool serves_uid(const Config& c, uint32_t uid) {
    return c.serve_all_uids || uid == ::geteuid() ||
           std::find(c.serve_uids.begin(), c.serve_uids.end(), uid) != c.serve_uids.end();
}

int parse_config(int argc, char** argv, Config& out) {
    CLI::App app{"shmqd: supervisor of shmq queues (reaps dead participants, redelivers, dead-letters)"};
    Config c;
    c.data_dir = default_data_dir();
    c.lock_file = default_lock_file();
    app.set_config("--config", "", "Read options from this INI/TOML file (re-read on SIGHUP)");
    app.footer(
        "One shmqd per host (the --lock-file). It watches /dev/shm for shmq queues and, at once on a\n"
        "death (pidfd), returns a dead consumer's unACKed messages for redelivery,\n"
        "aborts a dead producer's open claim, frees a dead owner's exclusive partitions, expires\n"
        "leases and moves messages past --max-deliveries to the DLQ. Queues work without it;\n"
        "repairs then wait for lease expiry. SIGHUP re-reads --config; SIGTERM stops it.\n"
        "It serves only queues whose region its own user owns, unless --serve-uid/--serve-all-uids.\n\n"
        "Examples:\n"
        "  shmqd                                         watch every queue\n"
        "  shmqd --queue orders --queue jobs --log-level debug\n"
        "  shmqd --metrics-listen 127.0.0.1:9464         Prometheus at /metrics\n"
        "  shmqd --serve-uid app --serve-uid 1001        also serve queues users app and 1001 own\n"
        "  shmqd --config /etc/shmq/shmqd.toml           (packaging/shmqd.toml; systemd: packaging/shmqd.service)\n"
        "Metrics: docs/METRICS.md. Crash handling: docs/ARCHITECTURE.md.");
    app.add_option("--data-dir", c.data_dir, "Directory for spill and journal files")->capture_default_str();
    app.add_option("--tick-ms", c.tick_ms,
                   "Longest sleep in milliseconds (shmqd otherwise wakes only for events and deadlines)")
        ->capture_default_str()
        ->check(CLI::Range(1, 60000));
    app.add_option("--integrity-period-ms", c.integrity_period_ms,
                   "Every cell of every queue is integrity-checked at least once in this period, unless that "
                   "needs more than --integrity-max-cells-per-second (docs/RELIABILITY.md)")
        ->capture_default_str()
        ->check(CLI::Range(100, 86'400'000));
    app.add_option("--integrity-max-cells-per-second", c.integrity_max_cells_per_second,
                   "Ceiling of the integrity check's rate, shared by all queues (bounds its CPU)")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{1000}, uint64_t{1} << 32));
    app.add_option("--queue", c.queues, "Queue to watch (repeat); default: every queue");
    app.add_option("--log-level", c.log_level, "error, warn, info or debug")->capture_default_str();
    app.add_option("--lock-file", c.lock_file, "The one-per-host lock (env SHMQD_LOCK_FILE)")->capture_default_str();
    app.add_option("--metrics-listen", c.metrics_listen,
                   "Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free port, logged)");
    app.add_flag("--metrics-allow-remote", c.metrics_allow_remote,
                 "Allow --metrics-listen on an address other hosts can reach");
    app.add_option("--metrics-textfile", c.metrics_textfile,
                   "Also write the metrics to this file (node_exporter's textfile collector), replaced atomically");
    app.add_option("--metrics-interval-ms", c.metrics_interval_ms, "Refresh period of --metrics-textfile")
        ->capture_default_str()
        ->check(CLI::Range(100, 3'600'000));
    app.add_option("--journal-segment-bytes", c.journal_segment_bytes,
                   "Journal segment size: retention deletes whole segments")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 34));
    app.add_option("--serve-uid", c.serve_uid_args,
                   "Also serve queues whose region this user owns (name or UID; repeat). Default: only regions "
                   "owned by shmqd's own user");
    app.add_flag("--serve-all-uids", c.serve_all_uids,
                 "Serve every user's queues (a root shmqd then reads and journals regions any local user made)");
    try {
        app.parse(argc, argv);
        c.config_file = app.get_config_ptr()->as<std::string>();
        Level level;
        if (!parse_level(c.log_level, level))
            throw CLI::ValidationError("--log-level", "'" + c.log_level + "' is not error, warn, info or debug");
        for (const auto& q : c.queues)
            if (auto err = detail::check_name(q, "queue")) throw CLI::ValidationError("--queue", *err);
        for (const auto& u : c.serve_uid_args) {
            auto uid = resolve_uid(u);
            if (!uid) throw CLI::ValidationError("--serve-uid", "'" + u + "' is neither a user name nor a number");
            c.serve_uids.push_back(*uid);
        }
        ListenAddress address;
        if (!c.metrics_listen.empty())
            if (auto err = parse_listen_address(c.metrics_listen, c.metrics_allow_remote, address))
                throw CLI::ValidationError("--metrics-listen", *err);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() != 0) {
            std::cerr << "shmqd: " << e.what() << "\n";
            return 2;
        }
        return app.exit(e);
    }
    out = c;
    return -1;
}

}  // namespace shmq::daemon
