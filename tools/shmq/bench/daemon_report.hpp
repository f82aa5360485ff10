// Reports of `shmq bench daemon`. JSON (documented in docs/CLI.md):
//   {"bench": "daemon", "params": {...}, "shmqd": PATH, "machine": {...},
//    "targets": {...}, "rows": [one object per queue count]}
// with CPU in % of one core, memory in MiB, times in milliseconds. The table
// has one row per queue count and the targets below it.
#pragma once

#include <string>
#include <vector>

#include "daemon_scale.hpp"
#include "harness.hpp"
#include "report.hpp"

namespace shmq::cli::bench {

std::string daemon_json(const std::vector<Param>& params, const std::string& shmqd, const Machine& m,
                        const std::vector<DaemonScaleRow>& rows);
std::string daemon_table(const std::string& title, const std::vector<DaemonScaleRow>& rows);

}  // namespace shmq::cli::bench
