#include "rates.hpp"

namespace shmq::cli {

namespace {

double per_second(uint64_t before, uint64_t after, double seconds) {
    return after > before && seconds > 0 ? static_cast<double>(after - before) / seconds : 0.0;
}

const inspect::GroupStats* find_group(const inspect::QueueSnapshot& s, const inspect::GroupStats& like) {
    for (const auto& g : s.groups)
        if (g.index == like.index && g.name == like.name && g.kind == like.kind) return &g;
    return nullptr;
}

}  // namespace

const GroupRates* QueueRates::group(const std::string& name) const {
    for (const auto& g : groups)
        if (g.name == name) return &g;
    return nullptr;
}

QueueRates zero_rates(const inspect::QueueSnapshot& s) {
    QueueRates r;
    r.partitions.resize(s.partitions.size());
    for (const auto& g : s.groups) {
        GroupRates gr;
        gr.name = g.name;
        gr.partitions.resize(g.partitions.size());
        r.groups.push_back(std::move(gr));
    }
    return r;
}

QueueRates compute_rates(const inspect::QueueSnapshot& before, const inspect::QueueSnapshot& after) {
    QueueRates r = zero_rates(after);
    if (before.epoch != after.epoch || after.taken_mono_ns <= before.taken_mono_ns) return r;
    const uint64_t elapsed_ns = after.taken_mono_ns - before.taken_mono_ns;
    const double secs = static_cast<double>(elapsed_ns) / 1e9;
    r.interval_ms = elapsed_ns / 1'000'000;
    r.published_per_s = per_second(before.published, after.published, secs);
    r.acked_per_s = per_second(before.acked, after.acked, secs);
    for (std::size_t p = 0; p < after.partitions.size() && p < before.partitions.size(); ++p) {
        r.partitions[p].published_per_s = per_second(before.partitions[p].published, after.partitions[p].published, secs);
        r.partitions[p].acked_per_s = per_second(before.partitions[p].acked, after.partitions[p].acked, secs);
    }
    for (std::size_t i = 0; i < after.groups.size(); ++i) {
        const auto& g = after.groups[i];
        const auto* old = find_group(before, g);
        if (old == nullptr) continue;
        r.groups[i].delivered_per_s = per_second(old->total.delivered, g.total.delivered, secs);
        r.groups[i].acked_per_s = per_second(old->total.acked, g.total.acked, secs);
        for (std::size_t p = 0; p < g.partitions.size() && p < old->partitions.size(); ++p)
            r.groups[i].partitions[p].acked_per_s = per_second(old->partitions[p].acked, g.partitions[p].acked, secs);
    }
    return r;
}

}  // namespace shmq::cli
