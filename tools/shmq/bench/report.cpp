#include "report.hpp"

#include <cmath>
#include <cstdio>

#include "../format.hpp"

namespace shmq::cli::bench {

namespace {

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::string number(double v, int decimals) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// A small streaming JSON writer with numbers of any kind (json.hpp has
// integers only); keys and values are appended in order, commas handled.
class Writer {
public:
    Writer& open(const std::string& key, char c) {
        sep(key);
        out_ += c;
        first_.push_back(true);
        return *this;
    }
    Writer& close(char c) {
        out_ += c;
        first_.pop_back();
        return *this;
    }
    Writer& raw(const std::string& key, const std::string& json) {
        sep(key);
        out_ += json;
        return *this;
    }
    Writer& str(const std::string& key, const std::string& v) { return raw(key, quote(v)); }
    Writer& num(const std::string& key, uint64_t v) { return raw(key, std::to_string(v)); }
    Writer& num(const std::string& key, double v, int decimals) { return raw(key, number(v, decimals)); }
    std::string done() { return out_ + "\n"; }

private:
    void sep(const std::string& key) {
        if (!first_.empty()) {
            if (!first_.back()) out_ += ',';
            first_.back() = false;
        }
        if (!key.empty()) out_ += quote(key) + ':';
    }
    std::string out_;
    std::vector<bool> first_;
};

void write_params(Writer& w, const std::vector<Param>& params) {
    w.open("params", '{');
    for (const auto& p : params) w.raw(p.key, p.json);
    w.close('}');
}

void write_machine(Writer& w, const Machine& m) {
    w.open("machine", '{');
    w.str("cpu_model", m.cpu_model);
    w.num("nproc", static_cast<uint64_t>(m.nproc));
    w.str("kernel", m.kernel);
    w.open("cpus", '[');
    for (int c : m.cpus) w.num("", static_cast<uint64_t>(c));
    w.close(']');
    w.close('}');
}

double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

struct LatencyFigures {
    LatencySummary s;
    explicit LatencyFigures(const LatencyOutcome& o) : s(summarize(*o.hist)) {}
    std::vector<std::pair<const char*, uint64_t>> named() const {
        return {{"min", s.min_ns},   {"p50", s.p50_ns},     {"p90", s.p90_ns}, {"p99", s.p99_ns},
                {"p999", s.p999_ns}, {"p9999", s.p9999_ns}, {"max", s.max_ns}};
    }
};

void write_latency_figures(Writer& w, const LatencyOutcome& o, bool wakeup) {
    const LatencyFigures f(o);
    w.num("count", f.s.count);
    for (const auto& [name, v] : f.named()) w.num(std::string(name) + "_ns", v);
    w.num("mean_ns", f.s.mean_ns, 1);
    w.open("rounds_p50_ns", '[');
    for (uint64_t v : o.round_p50) w.num("", v);
    w.close(']');
    if (wakeup) w.num("asleep_pct", o.checked ? 100.0 * static_cast<double>(o.asleep) / static_cast<double>(o.checked) : 0.0, 1);
    w.str("method", o.how);
    w.num("depth", static_cast<uint64_t>(o.depth));
    w.open("distribution", '[');
    for (const auto& [p, v] : o.hist->distribution()) {
        w.open("", '[');
        w.num("", p, 6);
        w.num("", v);
        w.close(']');
    }
    w.close(']');
}

std::string fmt_ratio(double r) {
    if (!std::isfinite(r)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3gx", r);
    return buf;
}

// A ratio for JSON: 4 significant digits (0.0001234 stays visible).
std::string json_ratio(double r) {
    if (!std::isfinite(r)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", r);
    return buf;
}

std::string fmt_rate(double v) {
    char buf[32];
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
    else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
    else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.3gK", v / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

std::string fmt_fixed(double v, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace

Param param(const std::string& key, double v) { return {key, number(v, 3)}; }
Param param(const std::string& key, uint64_t v) { return {key, std::to_string(v)}; }
Param param(const std::string& key, int v) { return {key, std::to_string(v)}; }
Param param(const std::string& key, const std::string& v) { return {key, quote(v)}; }
Param param(const std::string& key, const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + quote(v[i]);
    return {key, s + "]"};
}

std::string latency_json(const std::string& bench, const std::vector<Param>& params, const Machine& m,
                         const std::vector<LatencyOutcome>& outcomes) {
    const bool wakeup = bench == "wakeup";
    Writer w;
    w.open("", '{');
    w.str("bench", bench);
    w.str("unit", "ns");
    write_params(w, params);
    write_machine(w, m);
    const LatencyOutcome& me = outcomes.front();
    write_latency_figures(w, me, wakeup);
    w.open("baselines", '{');
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        w.open(outcomes[i].name, '{');
        if (!outcomes[i].skipped.empty()) w.str("skipped", outcomes[i].skipped);
        else write_latency_figures(w, outcomes[i], wakeup);
        w.close('}');
    }
    w.close('}');
    w.open("ratios", '{');
    const LatencyFigures mine(me);
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        if (!outcomes[i].skipped.empty()) continue;
        const LatencyFigures theirs(outcomes[i]);
        w.open(outcomes[i].name, '{');
        const auto a = mine.named(), b = theirs.named();
        for (std::size_t k = 0; k < a.size(); ++k)
            w.raw(a[k].first, json_ratio(ratio(static_cast<double>(a[k].second), static_cast<double>(b[k].second))));
        w.close('}');
    }
    w.close('}');
    w.close('}');
    return w.done();
}

std::string latency_table(const std::string& title, const std::vector<LatencyOutcome>& outcomes, bool show_asleep) {
    std::vector<std::string> header{"transport", "min", "p50", "p90", "p99", "p99.9", "p99.99", "max"};
    if (show_asleep) header.push_back("asleep");
    Table figures(header);
    std::vector<std::string> skipped;
    for (const auto& o : outcomes) {
        if (!o.skipped.empty()) {
            skipped.push_back(o.name + " skipped: " + o.skipped);
            continue;
        }
        const LatencyFigures f(o);
        std::vector<std::string> row{o.name};
        for (const auto& [name, v] : f.named()) row.push_back(std::to_string(v));
        if (show_asleep)
            row.push_back(fmt_fixed(o.checked ? 100.0 * static_cast<double>(o.asleep) / static_cast<double>(o.checked) : 0, 0) + "%");
        figures.add(row);
    }
    std::string out = title + "\n" + figures.render("  ");
    const std::string first = outcomes.front().name;  // "shmq", or "bridge" for `shmq bench bridge`
    Table ratios({"ratio (below 1: " + first + " lower)", "min", "p50", "p90", "p99", "p99.9", "p99.99", "max"});
    const LatencyFigures mine(outcomes.front());
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        if (!outcomes[i].skipped.empty()) continue;
        const LatencyFigures theirs(outcomes[i]);
        std::vector<std::string> row{first + " / " + outcomes[i].name};
        const auto a = mine.named(), b = theirs.named();
        for (std::size_t k = 0; k < a.size(); ++k)
            row.push_back(fmt_ratio(ratio(static_cast<double>(a[k].second), static_cast<double>(b[k].second))));
        ratios.add(row);
    }
    if (!ratios.empty()) out += "\n" + ratios.render("  ");
    for (const auto& s : skipped) out += "  " + s + "\n";
    return out;
}

std::string throughput_json(const std::vector<Param>& params, const Machine& m, std::size_t size,
                            const std::vector<ThroughputOutcome>& outcomes) {
    auto figures = [&](Writer& w, const ThroughputOutcome& o) {
        const double rate = o.median_rate();
        w.num("msgs_per_s", rate, 0);
        w.num("mb_per_s", rate * static_cast<double>(size) / 1e6, 2);
        w.num("messages", o.messages);
        w.num("measured_s", o.seconds, 3);
        w.open("rounds_msgs_per_s", '[');
        for (double r : o.round_rates) w.num("", r, 0);
        w.close(']');
        w.str("method", o.how);
        w.num("depth", static_cast<uint64_t>(o.depth));
    };
    Writer w;
    w.open("", '{');
    w.str("bench", "throughput");
    write_params(w, params);
    write_machine(w, m);
    figures(w, outcomes.front());
    w.open("baselines", '{');
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        w.open(outcomes[i].name, '{');
        if (!outcomes[i].skipped.empty()) w.str("skipped", outcomes[i].skipped);
        else figures(w, outcomes[i]);
        w.close('}');
    }
    w.close('}');
    w.open("ratios", '{');
    const double mine = outcomes.front().median_rate();
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        if (!outcomes[i].skipped.empty()) continue;
        const double r = ratio(mine, outcomes[i].median_rate());
        w.open(outcomes[i].name, '{');
        w.raw("msgs_per_s", json_ratio(r));
        w.raw("mb_per_s", json_ratio(r));
        w.close('}');
    }
    w.close('}');
    w.close('}');
    return w.done();
}

std::string throughput_table(const std::string& title, std::size_t size, const std::vector<ThroughputOutcome>& outcomes) {
    Table t({"transport", "msgs/s", "MB/s", "rounds (msgs/s)", "shmq / it"});
    std::vector<std::string> skipped;
    const double mine = outcomes.front().median_rate();
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const auto& o = outcomes[i];
        if (!o.skipped.empty()) {
            skipped.push_back(o.name + " skipped: " + o.skipped);
            continue;
        }
        const double rate = o.median_rate();
        std::string rounds;
        for (double r : o.round_rates) rounds += (rounds.empty() ? "" : " ") + fmt_rate(r);
        t.add({o.name, fmt_rate(rate), fmt_fixed(rate * static_cast<double>(size) / 1e6, rate * static_cast<double>(size) / 1e6 < 100 ? 1 : 0),
               rounds, i == 0 ? "" : fmt_ratio(ratio(mine, rate))});
    }
    std::string out = title + "\n" + t.render("  ");
    for (const auto& s : skipped) out += "  " + s + "\n";
    return out;
}

}  // namespace shmq::cli::bench
