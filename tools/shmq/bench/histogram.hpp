// A log-linear latency histogram in the style of HdrHistogram, 3 significant
// digits: values below 2048 are counted exactly; above, each power-of-two
// range is split into 1024 equal sub-buckets, so any recorded value is known
// to within 1/1024 (< 0.1%). Values are nanoseconds up to 2^40 (~18 min);
// larger ones are clamped. The object is trivially copyable and holds no
// pointers, so it can live in MAP_SHARED memory written by a child process.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace shmq::cli::bench {

class Histogram {
public:
    static constexpr unsigned kSubBits = 10;                      // 1024 sub-buckets per power of two
    static constexpr uint64_t kExact = uint64_t{2} << kSubBits;  // 2048 values counted exactly
    static constexpr unsigned kMaxBits = 40;
    static constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxBits) - 1;
    static constexpr std::size_t kBuckets = kExact + (kMaxBits - kSubBits - 1) * (std::size_t{1} << kSubBits);

    void record(uint64_t value) noexcept {
        if (value > kMaxValue) value = kMaxValue;
        ++counts_[index_of(value)];
        ++total_;
        sum_ += value;
        if (value < min_) min_ = value;
        if (value > max_) max_ = value;
    }
    void merge(const Histogram& o) noexcept;
    void clear() noexcept { *this = Histogram(); }

    uint64_t count() const noexcept { return total_; }
    uint64_t count_at(std::size_t bucket) const noexcept { return counts_[bucket]; }
    uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
    uint64_t max() const noexcept { return max_; }
    double mean() const noexcept { return total_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(total_); }
    // The value at `percentile` (0..100): the highest value equivalent to the
    // bucket holding the ceil(p/100 * count)-th smallest record, clamped to
    // [min, max]. 0 gives the exact min, 100 the exact max.
    uint64_t value_at(double percentile) const noexcept;
    // HdrHistogram-style percentile distribution: `per_half` points per halving
    // of the distance to 100%, until 1/count; each (percentile, value).
    std::vector<std::pair<double, uint64_t>> distribution(int per_half = 5) const;

    static std::size_t index_of(uint64_t v) noexcept {
        if (v < kExact) return static_cast<std::size_t>(v);
        const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
        const unsigned shift = msb - kSubBits;  // >= 1
        const uint64_t sub = v >> shift;        // in [1024, 2048)
        return static_cast<std::size_t>(kExact + (shift - 1) * (uint64_t{1} << kSubBits) + (sub - (uint64_t{1} << kSubBits)));
    }
    static uint64_t lowest_of(std::size_t i) noexcept {
        if (i < kExact) return i;
        const uint64_t k = (i - kExact) >> kSubBits;  // shift - 1
        const uint64_t sub = ((i - kExact) & ((uint64_t{1} << kSubBits) - 1)) + (uint64_t{1} << kSubBits);
        return sub << (k + 1);
    }
    static uint64_t highest_of(std::size_t i) noexcept {
        if (i < kExact) return i;
        const uint64_t k = (i - kExact) >> kSubBits;
        return lowest_of(i) + (uint64_t{1} << (k + 1)) - 1;
    }

private:
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t total_ = 0;
    uint64_t sum_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t max_ = 0;
};

// The fixed figures every latency report carries.
struct LatencySummary {
    uint64_t count = 0;
    uint64_t min_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, p9999_ns = 0, max_ns = 0;
    double mean_ns = 0;
};
LatencySummary summarize(const Histogram& h);

}  // namespace shmq::cli::bench
