// `shmq bench daemon`: what shmqd costs as the number of queues grows. For
// each count N it creates N queues (capacity 64, max message 64) and a
// private shmqd serving only them, then measures, in this order:
//   idle:   shmqd's CPU share (% of one core) and RSS, no process attached;
//   busy:   the same while busy_pct% of the queues carry 10,000 msg/s each
//           (a burst of 100 every 10 ms) from one producer process to one
//           consumer process (shared group, every message ACKed);
//   kills:  SIGKILL of a consumer holding an unACKed message to the return
//           of that message to a peer waiting in receive (even queues,
//           30 s lease, so only shmqd's death handling can return it);
//   expiry: how late shmqd expires a lease past its deadline (odd queues,
//           200 ms lease; lateness = the expiry seen in the group's counter
//           - (receive call + lease), no consumer waiting meanwhile);
//   tools:  `shmq ls` (this binary, run as a child) and GET /metrics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace shmq::cli::bench {

struct DaemonScaleConfig {
    std::vector<uint32_t> queues{10, 100, 1000};
    double seconds = 10;     // measured seconds of the idle and of the busy phase
    double warmup = 2;       // seconds before each of them
    uint32_t kills = 100;
    uint32_t expiries = 20;
    uint32_t busy_pct = 10;
    uint32_t expiry_lease_ms = 200;
    std::string shmqd;       // the binary
};

inline constexpr uint32_t kBusyBurst = 100;      // messages per busy queue per period
inline constexpr uint32_t kBusyPeriodMs = 10;    // so 10,000 msg/s per busy queue
inline constexpr uint32_t kProbeLeaseMs = 30000; // of the kill probes' queues

struct DaemonScaleRow {
    uint32_t queues = 0, busy_queues = 0;
    double startup_ms = 0;  // shmqd's start to its last "watching queue"
    // CPU: % of one core on a CPU; wait: % of one core runnable but not
    // running (CPU + wait near 100: shmqd never sleeps, it is saturated).
    double idle_cpu_pct = 0, idle_wait_pct = 0, idle_rss_mib = 0, idle_rss_anon_mib = 0;
    double busy_cpu_pct = 0, busy_wait_pct = 0, busy_rss_mib = 0, busy_rss_anon_mib = 0;
    double busy_msgs_per_s = 0, busy_target_msgs_per_s = 0;  // received (and ACKed) during the measured busy time
    Histogram kill_ns, expiry_late_ns;                       // expiry: an early one counts as 0 late
    uint64_t expiry_early = 0, expiry_earliest_ns = 0;       // expiries before the deadline, and the earliest
    double ls_ms = 0, scrape_ms = 0;                         // medians of 5
    uint64_t ls_rows = 0, scrape_bytes = 0;
};

std::vector<DaemonScaleRow> run_daemon_scale(const DaemonScaleConfig& cfg);

}  // namespace shmq::cli::bench
