#include "daemon_scale.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

#include "daemon_clients.hpp"
#include "daemon_load.hpp"
#include "daemon_probes.hpp"
#include "harness.hpp"
#include "proc_stats.hpp"
#include "shmq/shmq.hpp"
#include "shmqd_child.hpp"

namespace shmq::cli::bench {

namespace {

constexpr int kClientRuns = 5;

void sleep_seconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// The N queues of one row: even ones lease 30 s (kill probes), odd ones
// the expiry probes' short lease. Registered before creation, so an
// interrupted run removes them too.
std::vector<std::string> create_queues(uint32_t n, uint32_t expiry_lease_ms) {
    std::vector<std::string> names;
    for (uint32_t i = 0; i < n; ++i) {
        const std::string name = unique_name("daemon");
        register_name(NameKind::shmq_queue, name);
        names.push_back(name);
        QueueOptions o;
        o.capacity = 64;
        o.max_message = 64;
        o.lease_ms = i % 2 == 0 ? kProbeLeaseMs : expiry_lease_ms;
        (void)Queue::create(name, o);
    }
    return names;
}

struct Cost {
    double cpu_pct = 0, wait_pct = 0;
    ProcMemory memory;
};

// shmqd's CPU time over `seconds` of wall time, and its time runnable but
// waiting for a CPU, as % of one core; its memory at the end.
Cost measure(ShmqdChild& d, double seconds) {
    d.check_alive();
    const CpuTimes c0 = cpu_times(d.pid());
    const uint64_t t0 = now_ns();
    sleep_seconds(seconds);
    const CpuTimes c1 = cpu_times(d.pid());
    const uint64_t t1 = now_ns();
    d.check_alive();
    const double wall = static_cast<double>(t1 - t0);
    return {100.0 * static_cast<double>(c1.run_ns - c0.run_ns) / wall,
            100.0 * static_cast<double>(c1.wait_ns - c0.wait_ns) / wall, memory_of(d.pid())};
}

void run_busy(const DaemonScaleConfig& cfg, const std::vector<std::string>& names, ShmqdChild& d, DaemonScaleRow& row) {
    row.busy_queues = static_cast<uint32_t>(
        std::clamp<double>(std::round(static_cast<double>(names.size()) * cfg.busy_pct / 100.0), 1, static_cast<double>(names.size())));
    row.busy_target_msgs_per_s = row.busy_queues * (kBusyBurst * 1000.0 / kBusyPeriodMs);
    BusyLoad load(std::vector<std::string>(names.begin(), names.begin() + row.busy_queues));
    sleep_seconds(cfg.warmup);
    load.check();
    const uint64_t r0 = load.received(), t0 = now_ns();
    const Cost busy = measure(d, cfg.seconds);
    const uint64_t r1 = load.received(), t1 = now_ns();
    load.stop();
    row.busy_cpu_pct = busy.cpu_pct;
    row.busy_wait_pct = busy.wait_pct;
    row.busy_rss_mib = busy.memory.rss_mib;
    row.busy_rss_anon_mib = busy.memory.rss_anon_mib;
    row.busy_msgs_per_s = static_cast<double>(r1 - r0) * 1e9 / static_cast<double>(t1 - t0);
}

void run_probes(const DaemonScaleConfig& cfg, const std::vector<std::string>& names, ShmqdChild& d, DaemonScaleRow& row) {
    Probes probes;
    const std::size_t evens = (names.size() + 1) / 2, odds = names.size() / 2;
    for (uint32_t k = 0; k < cfg.kills; ++k) {
        row.kill_ns.record(probes.kill_once(names[2 * (k % evens)]));
        d.check_alive();
    }
    for (uint32_t k = 0; k < cfg.expiries && odds > 0; ++k) {
        const int64_t late = probes.expiry_once(names[2 * (k % odds) + 1], cfg.expiry_lease_ms);
        row.expiry_late_ns.record(late > 0 ? static_cast<uint64_t>(late) : 0);
        if (late < 0) {
            ++row.expiry_early;
            row.expiry_earliest_ns = std::max(row.expiry_earliest_ns, static_cast<uint64_t>(-late));
        }
        d.check_alive();
    }
}

DaemonScaleRow run_row(const DaemonScaleConfig& cfg, uint32_t n) {
    DaemonScaleRow row;
    row.queues = n;
    const std::vector<std::string> names = create_queues(n, cfg.expiry_lease_ms);
    struct Remove {
        const std::vector<std::string>& names;
        ~Remove() {
            for (const auto& q : names) remove_name(NameKind::shmq_queue, q);
        }
    } remove{names};
    ShmqdChild d(cfg.shmqd, names, std::chrono::seconds(60) + std::chrono::milliseconds(100) * n);
    row.startup_ms = d.startup_ms();

    sleep_seconds(cfg.warmup);
    const Cost idle = measure(d, cfg.seconds);
    row.idle_cpu_pct = idle.cpu_pct;
    row.idle_wait_pct = idle.wait_pct;
    row.idle_rss_mib = idle.memory.rss_mib;
    row.idle_rss_anon_mib = idle.memory.rss_anon_mib;

    if (cfg.busy_pct > 0) run_busy(cfg, names, d, row);
    run_probes(cfg, names, d, row);

    const ClientTiming ls = time_ls(kClientRuns);
    row.ls_ms = ls.median_ms;
    row.ls_rows = ls.size;
    const ClientTiming scrape = time_scrape(d.metrics_port(), kClientRuns);
    row.scrape_ms = scrape.median_ms;
    row.scrape_bytes = scrape.size;
    d.check_alive();
    return row;
}

}  // namespace

std::vector<DaemonScaleRow> run_daemon_scale(const DaemonScaleConfig& cfg) {
    std::vector<DaemonScaleRow> rows;
    for (uint32_t n : cfg.queues) rows.push_back(run_row(cfg, n));
    return rows;
}

}  // namespace shmq::cli::bench
