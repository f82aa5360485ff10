// What another process costs, read from /proc: CPU time and resident memory.
// Used by `shmq bench daemon` to watch shmqd from outside.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shmq::cli::bench {

// CPU time (user + system) of every thread of `pid`, in nanoseconds: the sum
// of /proc/PID/task/*/schedstat run times (nanosecond resolution), or, where
// schedstat is missing, utime + stime of /proc/PID/stat (clock ticks, usually
// 10 ms). Throws BenchError when the process is gone.
uint64_t cpu_time_ns(pid_t pid);

struct ProcMemory {
    double rss_mib = 0;       // VmRSS: includes the pages of mapped queue regions it touched
    double rss_anon_mib = 0;  // RssAnon: its own heap and stacks
};
ProcMemory memory_of(pid_t pid);

}  // namespace shmq::cli::bench
