// The Prometheus text exposition format (version 0.0.4) of queue snapshots.
// Pure: no I/O and no clock; the caller passes in what it measured. Served at
// /metrics (metrics_http) and written to node_exporter's textfile collector
// (metrics_textfile); the families are listed in docs/METRICS.md.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shmq/internal/inspect.hpp"

namespace shmq::daemon::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Label {
    std::string_view name;   // a valid label name: the caller's literal
    std::string_view value;  // anything: escaped on output
};
using Labels = std::initializer_list<Label>;

enum class Type { counter, gauge, histogram };

// Builds one exposition. Invariant (the format's): a family's HELP and TYPE
// lines come once, before all of its samples, and the samples of one family
// are contiguous. Callers keep it by writing family() and then every sample
// of that family before the next family().
class Exposition {
public:
    void family(std::string_view name, Type type, std::string_view help);
    void sample(std::string_view name, Labels labels, uint64_t value);
    void sample(std::string_view name, Labels labels, double value);
    // The samples of one histogram of a family declared Type::histogram:
    // `bounds` are the ascending upper bounds of the buckets and `counts` the
    // observations in each bucket, not cumulative, with one more count than
    // bounds (the last: above every bound). Writes the cumulative
    // name_bucket{...,le="..."} series ending at le="+Inf", name_sum and
    // name_count. Throws std::invalid_argument if the sizes do not match.
    void histogram(std::string_view name, Labels labels, std::span<const double> bounds,
                   std::span<const uint64_t> counts, double sum);
    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void series(std::string_view name, Labels labels, const Label* extra = nullptr);
    std::string out_;
    // The `le` label values of the last histogram's bounds (text only, never a sample value).
    std::vector<double> le_bounds_;
    std::vector<std::string> le_text_;
};

// A label value as the format wants it: backslash, double quote and line feed
// escaped. Names read from a region are ASCII by construction (check_name);
// any other byte there means a corrupted region and becomes '?', so the
// exposition stays valid UTF-8 whatever the region holds.
std::string escape_label_value(std::string_view value);
// A HELP text: backslash and line feed escaped.
std::string escape_help(std::string_view help);
// A sample value: integers exactly, doubles shortest, NaN, +Inf, -Inf.
std::string format_value(double value);

struct ScrapeInfo {
    double duration_seconds = 0;  // time spent taking the snapshots
};

// One exchange's publish counters, as read from its object
// (shmq/internal/exchange_table.hpp, ExchangeTable::counters_guess).
struct ExchangeSample {
    std::string name;
    uint64_t routed = 0;      // publishes that reached at least one bound queue
    uint64_t unroutable = 0;  // publishes no binding matched (to the alternate or not)
};

// Every family of docs/METRICS.md, each with HELP and TYPE even when it has
// no sample; samples in the order of `queues`, then partitions, then groups;
// the exchanges' in the order of `exchanges`.
std::string render(std::span<const inspect::QueueSnapshot> queues, const ScrapeInfo& info,
                   std::span<const ExchangeSample> exchanges = {});

}  // namespace shmq::daemon::metrics
