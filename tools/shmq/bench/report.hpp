// Reports of `shmq bench`: the JSON contract (read by other tools) and the
// human tables. JSON: shmq's figures at the top level, each baseline under
// baselines.<name> with the same keys (or {"skipped": reason}), and shmq's
// ratio to each baseline under ratios.<name>; latencies in nanoseconds
// (min_ns, p50_ns, p90_ns, p99_ns, p999_ns, p9999_ns, max_ns), throughput
// as msgs_per_s and mb_per_s; plus the parameters and the machine.
#pragma once

#include <string>
#include <vector>

#include "../json.hpp"
#include "harness.hpp"
#include "runs.hpp"

namespace shmq::cli::bench {

// One parameter of the run: its key and its JSON value.
struct Param {
    std::string key;
    Json value;
};
Param param(const std::string& key, double v);
Param param(const std::string& key, uint64_t v);
Param param(const std::string& key, int v);
Param param(const std::string& key, const std::string& v);
Param param(const std::string& key, const std::vector<std::string>& v);

// Figures for reports. number: rounded to `decimals` places as printf's
// %.*f shows it (0: an integer); json_ratio: 4 significant digits. Both null
// when not finite (JSON has no NaN/inf). ratio: a / b, NaN unless b > 0.
// fmt_rate: a rate for tables, "2.27M".
Json number(double v, int decimals);
Json json_ratio(double r);
double ratio(double a, double b);
std::string fmt_rate(double v);
// fmt: one double through a printf format ("%.3fx").
std::string fmt(const char* form, double v);

// {"cpu_model", "nproc", "kernel", "cpus"}: the "machine" of every report.
Json machine_json(const Machine& m);
// {"params": {key: value...}}: the "params" object of every report.
Json params_json(const std::vector<Param>& params);

// `bench` is "latency" or "wakeup"; outcomes[0] is shmq.
std::string latency_json(const std::string& bench, const std::vector<Param>& params, const Machine& m,
                         const std::vector<LatencyOutcome>& outcomes);
std::string latency_table(const std::string& title, const std::vector<LatencyOutcome>& outcomes, bool show_asleep);

std::string throughput_json(const std::vector<Param>& params, const Machine& m, std::size_t size,
                            const std::vector<ThroughputOutcome>& outcomes);
std::string throughput_table(const std::string& title, std::size_t size, const std::vector<ThroughputOutcome>& outcomes);

}  // namespace shmq::cli::bench
