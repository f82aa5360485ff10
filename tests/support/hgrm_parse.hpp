// A strict reader of HdrHistogram's percentile distribution text (.hgrm),
// as outputPercentileDistribution writes it: the header line, a blank line,
// rows "Value Percentile TotalCount 1/(1-Percentile)" (the last, at
// percentile 1, without the fourth column), then the three #[...] lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace shmq::test {

struct HgrmRow {
    double value = 0, percentile = 0;
    uint64_t total_count = 0;
    std::optional<double> inverse;  // 1/(1-Percentile); absent on the 100% row
};

struct Hgrm {
    std::vector<HgrmRow> rows;
    double mean = 0, stddev = 0, max = 0;
    uint64_t total = 0;
    unsigned buckets = 0, sub_buckets = 0;
};

inline constexpr const char* kHgrmHeader = "       Value     Percentile TotalCount 1/(1-Percentile)";

// The parsed file, or nullopt with `why` naming the first line that is not as HdrHistogram writes it.
inline std::optional<Hgrm> parse_hgrm(const std::string& text, std::string& why) {
    std::istringstream in(text);
    std::string line;
    Hgrm h;
    if (!std::getline(in, line) || line != kHgrmHeader) return why = "header is [" + line + "]", std::nullopt;
    if (!std::getline(in, line) || !line.empty()) return why = "no blank line after the header", std::nullopt;
    while (std::getline(in, line) && !line.empty() && line[0] != '#') {
        HgrmRow r;
        unsigned long long count = 0;
        double inverse = 0;
        char rest = 0;
        const int got = std::sscanf(line.c_str(), "%lf %lf %llu %lf %c", &r.value, &r.percentile, &count, &inverse, &rest);
        if (got != 3 && got != 4) return why = "row is [" + line + "]", std::nullopt;
        r.total_count = count;
        if (got == 4) r.inverse = inverse;
        h.rows.push_back(r);
    }
    int used = 0;
    if (std::sscanf(line.c_str(), "#[Mean    = %lf, StdDeviation   = %lf]%n", &h.mean, &h.stddev, &used) != 2 ||
        used != static_cast<int>(line.size()))
        return why = "mean line is [" + line + "]", std::nullopt;
    unsigned long long total = 0;
    if (!std::getline(in, line) ||
        std::sscanf(line.c_str(), "#[Max     = %lf, Total count    = %llu]%n", &h.max, &total, &used) != 2 ||
        used != static_cast<int>(line.size()))
        return why = "max line is [" + line + "]", std::nullopt;
    h.total = total;
    if (!std::getline(in, line) ||
        std::sscanf(line.c_str(), "#[Buckets = %u, SubBuckets     = %u]%n", &h.buckets, &h.sub_buckets, &used) != 2 ||
        used != static_cast<int>(line.size()))
        return why = "buckets line is [" + line + "]", std::nullopt;
    if (std::getline(in, line)) return why = "text after the footer: [" + line + "]", std::nullopt;
    return h;
}

}  // namespace shmq::test
