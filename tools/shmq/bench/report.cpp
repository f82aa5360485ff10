#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "../format.hpp"

namespace shmq::cli::bench {

Json number(double v, int decimals) {
    if (!std::isfinite(v)) return nullptr;
    if (decimals == 0) return static_cast<int64_t>(std::llround(v));
    const double scale = std::pow(10.0, decimals);
    return std::round(v * scale) / scale;
}

double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

Json json_ratio(double r) {
    if (!std::isfinite(r)) return nullptr;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", r);
    return std::strtod(buf, nullptr);
}

std::string fmt(const char* form, double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, form, v);
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

namespace {

struct LatencyFigures {
    LatencySummary s;
    explicit LatencyFigures(const LatencyOutcome& o) : s(summarize(*o.hist)) {}
    std::vector<std::pair<const char*, uint64_t>> named() const {
        return {{"min", s.min_ns},   {"p50", s.p50_ns},     {"p90", s.p90_ns}, {"p99", s.p99_ns},
                {"p999", s.p999_ns}, {"p9999", s.p9999_ns}, {"max", s.max_ns}};
    }
};

void put_latency_figures(Json& j, const LatencyOutcome& o, bool wakeup) {
    const LatencyFigures f(o);
    j["count"] = f.s.count;
    for (const auto& [name, v] : f.named()) j[std::string(name) + "_ns"] = v;
    j["mean_ns"] = number(f.s.mean_ns, 1);
    j["rounds_p50_ns"] = o.round_p50;
    if (wakeup)
        j["asleep_pct"] =
            number(o.checked ? 100.0 * static_cast<double>(o.asleep) / static_cast<double>(o.checked) : 0.0, 1);
    j["method"] = o.how;
    j["depth"] = o.depth;
    Json distribution = Json::array();
    for (const auto& [p, v] : o.hist->distribution()) distribution.push_back({number(p, 6), v});
    j["distribution"] = std::move(distribution);
}

std::string fmt_ratio(double r) {
    if (!std::isfinite(r)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3gx", r);
    return buf;
}

std::string fmt_fixed(double v, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace

Json machine_json(const Machine& m) {
    return {{"cpu_model", m.cpu_model}, {"nproc", m.nproc}, {"kernel", m.kernel}, {"cpus", m.cpus}};
}

Json params_json(const std::vector<Param>& params) {
    Json p = Json::object();
    for (const auto& x : params) p[x.key] = x.value;
    return p;
}

Param param(const std::string& key, double v) { return {key, number(v, 3)}; }
Param param(const std::string& key, uint64_t v) { return {key, v}; }
Param param(const std::string& key, int v) { return {key, v}; }
Param param(const std::string& key, const std::string& v) { return {key, v}; }
Param param(const std::string& key, const std::vector<std::string>& v) { return {key, v}; }

std::string latency_json(const std::string& bench, const std::vector<Param>& params, const Machine& m,
                         const std::vector<LatencyOutcome>& outcomes) {
    const bool wakeup = bench == "wakeup";
    Json j;
    j["bench"] = bench;
    j["unit"] = "ns";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    const LatencyOutcome& me = outcomes.front();
    put_latency_figures(j, me, wakeup);
    Json baselines = Json::object(), ratios = Json::object();
    const LatencyFigures mine(me);
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        Json& b = baselines[outcomes[i].name] = Json::object();
        if (!outcomes[i].skipped.empty()) {
            b["skipped"] = outcomes[i].skipped;
            continue;
        }
        put_latency_figures(b, outcomes[i], wakeup);
        const LatencyFigures theirs(outcomes[i]);
        Json& r = ratios[outcomes[i].name] = Json::object();
        const auto a = mine.named(), t = theirs.named();
        for (std::size_t k = 0; k < a.size(); ++k)
            r[a[k].first] = json_ratio(ratio(static_cast<double>(a[k].second), static_cast<double>(t[k].second)));
    }
    j["baselines"] = std::move(baselines);
    j["ratios"] = std::move(ratios);
    return dump(j) + "\n";
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
    auto put_figures = [&](Json& j, const ThroughputOutcome& o) {
        const double rate = o.median_rate();
        j["msgs_per_s"] = number(rate, 0);
        j["mb_per_s"] = number(rate * static_cast<double>(size) / 1e6, 2);
        j["messages"] = o.messages;
        j["measured_s"] = number(o.seconds, 3);
        Json rounds = Json::array();
        for (double r : o.round_rates) rounds.push_back(number(r, 0));
        j["rounds_msgs_per_s"] = std::move(rounds);
        j["method"] = o.how;
        j["depth"] = o.depth;
    };
    Json j;
    j["bench"] = "throughput";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    put_figures(j, outcomes.front());
    Json baselines = Json::object(), ratios = Json::object();
    const double mine = outcomes.front().median_rate();
    for (std::size_t i = 1; i < outcomes.size(); ++i) {
        Json& b = baselines[outcomes[i].name] = Json::object();
        if (!outcomes[i].skipped.empty()) {
            b["skipped"] = outcomes[i].skipped;
            continue;
        }
        put_figures(b, outcomes[i]);
        const Json r = json_ratio(ratio(mine, outcomes[i].median_rate()));
        ratios[outcomes[i].name] = {{"msgs_per_s", r}, {"mb_per_s", r}};
    }
    j["baselines"] = std::move(baselines);
    j["ratios"] = std::move(ratios);
    return dump(j) + "\n";
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
