#include "proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "harness.hpp"

namespace shmq::cli::bench {

namespace {

// The first two numbers of /proc/PID/task/TID/schedstat: time on a CPU and
// time waiting on a run queue, ns.
bool schedstat_sum(pid_t pid, CpuTimes& total) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return false;
    bool any = false;
    total = {};
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(dir + "/" + e->d_name + "/schedstat");
        unsigned long long run = 0, wait = 0;
        if (f >> run >> wait) {
            total.run_ns += run;
            total.wait_ns += wait;
            any = true;
        }
    }
    ::closedir(d);
    return any;
}

// utime + stime (fields 14 and 15 of /proc/PID/stat, after the ") ").
bool stat_ticks(pid_t pid, uint64_t& ns) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return false;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {  // field 3 is the state
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    const long hz = ::sysconf(_SC_CLK_TCK);
    ns = (utime + stime) * (1'000'000'000ull / static_cast<unsigned long long>(hz > 0 ? hz : 100));
    return true;
}

}  // namespace

CpuTimes cpu_times(pid_t pid) {
    CpuTimes t;
    if (schedstat_sum(pid, t) || stat_ticks(pid, t.run_ns)) return t;
    throw BenchError("cannot read the CPU time of process " + std::to_string(pid) + " (has it exited?)");
}

ProcMemory memory_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    ProcMemory m;
    for (std::string line; std::getline(f, line);) {
        double kib = 0;
        if (std::sscanf(line.c_str(), "VmRSS: %lf kB", &kib) == 1) m.rss_mib = kib / 1024;
        else if (std::sscanf(line.c_str(), "RssAnon: %lf kB", &kib) == 1) m.rss_anon_mib = kib / 1024;
    }
    return m;
}

}  // namespace shmq::cli::bench
