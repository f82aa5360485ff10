// The run's outcome and the short report printed at the end. The lines
// "lost N" and "dead-lettered N photo(s)" are what scripts (and the CTest
// test) look for.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "latency.hpp"
#include "shmq_tool.hpp"
#include "tally.hpp"

namespace photo_pipeline {

struct UploadResult {
    uint64_t sent = 0;
    uint64_t elapsed_ns = 0;
    Percentiles send;  // latency of Producer::send
};

struct KillResult {
    std::string label;  // empty: no worker was killed
    pid_t pid = -1;
    uint32_t held = 0;     // unACKed messages it held when stopped, by its own count
    uint64_t unix_ns = 0;  // when it was killed (CLOCK_REALTIME)
    std::string group;
};

struct RunSummary {
    std::string queue;
    std::string dir;
    pid_t shmqd_pid = -1;  // -1: run without shmqd
    uint64_t rate = 0;
    Expected expected;
    UploadResult upload;
    KillResult kill;
    std::vector<GroupResult> groups;
    QueueCounters counters;
    std::vector<DeadLetter> dlq;
    std::vector<std::string> problems;  // failed processes, timeouts: each one line

    uint64_t lost() const;
    bool ok() const;  // nothing lost, no problem, nothing corrupt processed
};

void print_report(std::ostream& out, const RunSummary& s);

}  // namespace photo_pipeline
