// Percentiles of a set of latencies (nearest rank), and their display.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace photo_pipeline {

struct Percentiles {
    uint64_t count = 0;
    uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;  // nanoseconds
};

inline Percentiles percentiles(std::vector<uint64_t> ns) {
    Percentiles p;
    p.count = ns.size();
    if (ns.empty()) return p;
    std::sort(ns.begin(), ns.end());
    auto rank = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1) + 0.5)]; };
    p.p50 = rank(0.50);
    p.p90 = rank(0.90);
    p.p99 = rank(0.99);
    p.max = ns.back();
    return p;
}

// 850 ns, 12.3 us, 4.56 ms, 1.23 s: three significant digits at most.
inline std::string format_ns(uint64_t ns) {
    char buf[32];
    const auto d = static_cast<double>(ns);
    if (ns < 1000)
        std::snprintf(buf, sizeof buf, "%llu ns", static_cast<unsigned long long>(ns));
    else if (ns < 1'000'000)
        std::snprintf(buf, sizeof buf, "%.3g us", d / 1e3);
    else if (ns < 1'000'000'000)
        std::snprintf(buf, sizeof buf, "%.3g ms", d / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.3g s", d / 1e9);
    return buf;
}

}  // namespace photo_pipeline
