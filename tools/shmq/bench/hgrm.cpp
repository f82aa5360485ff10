#include "hgrm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace shmq::cli::bench {

namespace {

[[gnu::format(printf, 2, 3)]] void append(std::string& out, const char* format, ...) {
    char line[256];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n > 0) out.append(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
}

// HdrHistogram's PercentileIterator.incrementIterationLevel: the ticks that
// would divide 0..100% at the scale of `level` (ticks_per_half per half of
// the distance left, doubling at each halving), and one step of them.
double next_level(double level, int ticks_per_half) {
    const auto halvings = static_cast<int64_t>(std::log(100.0 / (100.0 - level)) / std::log(2.0));
    const double ticks = static_cast<double>(ticks_per_half) * std::ldexp(1.0, static_cast<int>(std::min<int64_t>(halvings, 1000)) + 1);
    return level + 100.0 / ticks;
}

// HdrHistogram's medianEquivalentValue: the middle of a bucket's range.
double middle_of(std::size_t bucket) {
    const uint64_t lo = Histogram::lowest_of(bucket), hi = Histogram::highest_of(bucket);
    return static_cast<double>(lo + (hi - lo + 1) / 2);
}

}  // namespace

std::string hgrm_text(const Histogram& h, double unit_ratio, int ticks_per_half) {
    std::string out;
    append(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    const uint64_t total = h.count();
    const auto value = [&](std::size_t bucket) {
        return static_cast<double>(std::clamp(Histogram::highest_of(bucket), h.min(), h.max())) / unit_ratio;
    };
    if (total > 0) {
        double level = 0.0;
        uint64_t cumulative = 0;
        std::size_t bucket = 0;
        bool counted = false;  // bucket's count is in `cumulative`
        while (cumulative < total) {
            // The first non-empty bucket at or after `bucket` whose cumulative count reaches `level`.
            for (;;) {
                if (!counted) {
                    cumulative += h.count_at(bucket);
                    counted = true;
                }
                if (h.count_at(bucket) != 0 && 100.0 * static_cast<double>(cumulative) / static_cast<double>(total) >= level)
                    break;
                ++bucket;  // never past the last: `cumulative` reaches `total` at the last non-empty one
                counted = false;
            }
            const double fraction = level / 100.0;
            append(out, "%12.3f %2.12f %10llu %14.2f\n", value(bucket), fraction, static_cast<unsigned long long>(cumulative),
                   1.0 / (1.0 - fraction));
            level = next_level(level, ticks_per_half);
        }
        // HdrHistogram's one more step, to 100%: no 1/(1-Percentile) there.
        append(out, "%12.3f %2.12f %10llu\n", value(bucket), 1.0, static_cast<unsigned long long>(total));
    }
    // The mean is exact (the Histogram keeps the sum); the deviation, as
    // HdrHistogram's, takes each record at the middle of its bucket.
    const double mean = h.mean();
    double squares = 0;
    for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
        if (h.count_at(i) == 0) continue;
        const double d = middle_of(i) - mean;
        squares += d * d * static_cast<double>(h.count_at(i));
    }
    const double deviation = total == 0 ? 0.0 : std::sqrt(squares / static_cast<double>(total));
    append(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean / unit_ratio, deviation / unit_ratio);
    append(out, "#[Max     = %12.3f, Total count    = %12llu]\n", static_cast<double>(h.max()) / unit_ratio,
           static_cast<unsigned long long>(total));
    // In HdrHistogram's terms: 2048 sub-buckets (3 significant digits), and
    // the buckets that reach kMaxValue: the exact first one plus one per power of two.
    append(out, "#[Buckets = %12u, SubBuckets     = %12u]\n", Histogram::kMaxBits - Histogram::kSubBits,
           static_cast<unsigned>(Histogram::kExact));
    return out;
}

std::string hgrm_path_for(const std::string& file, const std::string& transport) {
    const std::size_t slash = file.rfind('/');
    const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
    const std::size_t dot = file.rfind('.');
    const bool has_extension = dot != std::string::npos && dot > name_at;  // ".hgrm" alone is a name, not an extension
    if (!has_extension) return file + "." + transport;
    return file.substr(0, dot) + "." + transport + file.substr(dot);
}

}  // namespace shmq::cli::bench
