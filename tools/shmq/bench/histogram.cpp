#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace shmq::cli::bench {

void Histogram::merge(const Histogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
}

uint64_t Histogram::value_at(double percentile) const noexcept {
    if (total_ == 0) return 0;
    if (percentile <= 0) return min();
    if (percentile >= 100) return max_;
    auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(highest_of(i), min(), max_);
    }
    return max_;
}

std::vector<std::pair<double, uint64_t>> Histogram::distribution(int per_half) const {
    std::vector<std::pair<double, uint64_t>> out;
    if (total_ == 0) return out;
    // Percentiles 0, then per_half steps within each halving: 50%, 75%, 87.5%...
    const double last = 100.0 * (1.0 - 1.0 / static_cast<double>(total_));
    out.emplace_back(0.0, min());
    for (int half = 0; half < 64; ++half) {
        const double lo = 100.0 * (1.0 - std::ldexp(1.0, -half));
        const double hi = 100.0 * (1.0 - std::ldexp(1.0, -half - 1));
        bool done = false;
        for (int s = 1; s <= per_half; ++s) {
            double p = lo + (hi - lo) * s / per_half;
            if (p >= last) {
                p = last;
                done = true;
            }
            out.emplace_back(p, value_at(p));
            if (done) break;
        }
        if (done) break;
    }
    out.emplace_back(100.0, max_);
    return out;
}

LatencySummary summarize(const Histogram& h) {
    LatencySummary s;
    s.count = h.count();
    s.min_ns = h.min();
    s.p50_ns = h.value_at(50);
    s.p90_ns = h.value_at(90);
    s.p99_ns = h.value_at(99);
    s.p999_ns = h.value_at(99.9);
    s.p9999_ns = h.value_at(99.99);
    s.max_ns = h.max();
    s.mean_ns = h.mean();
    return s;
}

}  // namespace shmq::cli::bench
