// A Histogram as HdrHistogram's percentile distribution text (.hgrm), the
// output of its outputPercentileDistribution(out, ticks, scale), which
// HdrHistogram's plotters and HistogramLogAnalyzer read:
//
//        Value     Percentile TotalCount 1/(1-Percentile)
//
//        0.311 0.000000000000          1           1.00
//        ...                                             (one row per tick)
//        9.421 1.000000000000     100000
// #[Mean    =        0.352, StdDeviation   =        0.101]
// #[Max     =        9.421, Total count    =       100000]
// #[Buckets =           30, SubBuckets     =         2048]
//
// Rows follow HdrHistogram's PercentileIterator: ticks start at 0% and
// `ticks_per_half` of them divide each half of the remaining distance to
// 100%; a row reports the first bucket whose cumulative count reaches its
// tick (its highest value, clamped to the recorded min and max) and that
// cumulative count; the rows stop once every record is counted, and a last
// row at 100% gives the max. Values are divided by `unit_ratio`: the
// Histogram holds nanoseconds, 1000 writes microseconds.
#pragma once

#include <string>

#include "histogram.hpp"

namespace shmq::cli::bench {

std::string hgrm_text(const Histogram& h, double unit_ratio = 1000.0, int ticks_per_half = 5);

// Where a baseline's distribution goes beside `file`: its transport's name
// before the extension ("lat.hgrm", "bare" -> "lat.bare.hgrm"; "lat" -> "lat.bare").
std::string hgrm_path_for(const std::string& file, const std::string& transport);

}  // namespace shmq::cli::bench
