// What another process costs, read from /proc: CPU time and resident memory.
// Used by `shmq bench daemon` to watch shmqd from outside.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shmq::cli::bench {

struct CpuTimes {
    uint64_t run_ns = 0;   // on a CPU (user + system)
    uint64_t wait_ns = 0;  // runnable, waiting for a CPU (0 where schedstat is missing)
};
// CPU times of every thread of `pid`: the sums of /proc/PID/task/*/schedstat
// (nanoseconds), or, where schedstat is missing, utime + stime of
// /proc/PID/stat (clock ticks, usually 10 ms). Throws BenchError when the
// process is gone.
CpuTimes cpu_times(pid_t pid);

struct ProcMemory {
    double rss_mib = 0;       // VmRSS: includes the pages of mapped queue regions it touched
    double rss_anon_mib = 0;  // RssAnon: its own heap and stacks
};
ProcMemory memory_of(pid_t pid);

}  // namespace shmq::cli::bench
