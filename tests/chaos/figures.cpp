#include "figures.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace shmq::chaos {

namespace {

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

Percentiles percentiles(std::vector<uint64_t> v) {
    Percentiles p;
    p.n = v.size();
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    p.p50 = ms(v[v.size() / 2]);
    p.p99 = ms(v[std::min(v.size() - 1, v.size() * 99 / 100)]);
    p.max = ms(v.back());
    return p;
}

std::string json(const Percentiles& p) {
    return "{\"n\":" + std::to_string(p.n) + ",\"p50_ms\":" + fixed(p.p50, 2) + ",\"p99_ms\":" + fixed(p.p99, 2) +
           ",\"max_ms\":" + fixed(p.max, 2) + "}";
}

std::string words(const Percentiles& p) {
    if (p.n == 0) return "none measured";
    return "max " + fixed(p.max) + " ms, p99 " + fixed(p.p99) + " ms, p50 " + fixed(p.p50) + " ms over " +
           std::to_string(p.n) + " kills";
}

RedeliveryFigures redelivery_after_consumer_kills(const std::vector<Rec>& rs, uint32_t gi,
                                                  const std::vector<ConsumerRun>& consumers,
                                                  const ShmqdDowntime& shmqd_down) {
    RedeliveryFigures rf;
    std::vector<uint32_t> by_msg(rs.size());
    for (uint32_t i = 0; i < rs.size(); ++i) by_msg[i] = i;
    std::sort(by_msg.begin(), by_msg.end(), [&](uint32_t a, uint32_t b) {
        return rs[a].msg != rs[b].msg ? rs[a].msg < rs[b].msg : rs[a].ns < rs[b].ns;
    });
    std::vector<uint64_t> latencies, latencies_up;
    std::vector<std::pair<std::size_t, std::size_t>> file_range(consumers.size(), {0, 0});
    for (std::size_t i = 0; i < rs.size();) {  // records of a file are contiguous
        std::size_t j = i;
        while (j < rs.size() && rs[j].file == rs[i].file) ++j;
        file_range[rs[i].file] = {i, j};
        i = j;
    }
    for (uint32_t f = 0; f < consumers.size(); ++f) {
        const ConsumerRun& c = consumers[f];
        if (c.group != gi || !c.killed) continue;
        uint64_t first = UINT64_MAX;
        for (std::size_t i = file_range[f].first; i < file_range[f].second; ++i) {
            const Rec& held = rs[i];
            auto it = std::lower_bound(by_msg.begin(), by_msg.end(), held.msg,
                                       [&](uint32_t a, uint32_t m) { return rs[a].msg < m; });
            for (; it != by_msg.end() && rs[*it].msg == held.msg; ++it)
                if (rs[*it].ns > c.kill_ns && rs[*it].deliveries > held.deliveries) first = std::min(first, rs[*it].ns);
        }
        if (first != UINT64_MAX) {
            latencies.push_back(first - c.kill_ns);
            if (!shmqd_down.down_at(c.kill_ns)) latencies_up.push_back(first - c.kill_ns);
        }
        else ++rf.kills_without_redelivery;
    }
    rf.all = percentiles(std::move(latencies));
    rf.shmqd_up = percentiles(std::move(latencies_up));
    return rf;
}

ProducerKillFigures producer_kill_figures(const std::vector<std::vector<Rec>>& by_group,
                                          const std::vector<ProducerRun>& producers, uint32_t partitions,
                                          const ShmqdDowntime& shmqd_down) {
    ProducerKillFigures pk;
    std::vector<std::vector<std::pair<uint64_t, uint64_t>>> by_offset(partitions);  // (offset, ns)
    for (auto& g : by_group)
        for (const Rec& r : g)
            if (r.partition < partitions) by_offset[r.partition].push_back({r.offset, r.ns});
    std::vector<std::vector<uint64_t>> suffix_min(partitions);
    for (uint32_t p = 0; p < partitions; ++p) {
        auto& v = by_offset[p];
        std::sort(v.begin(), v.end());
        suffix_min[p].assign(v.size() + 1, UINT64_MAX);
        for (std::size_t i = v.size(); i-- > 0;) suffix_min[p][i] = std::min(suffix_min[p][i + 1], v[i].second);
    }
    std::vector<uint64_t> stalls, repairs, stalls_up, repairs_up;
    for (const ProducerRun& p : producers) {
        if (!p.killed) continue;
        const bool holding = p.phase == Phase::holding || p.phase == Phase::committing;
        if (!holding) {
            (p.phase == Phase::idle ? pk.idle : pk.in_send)++;
            continue;
        }
        if (p.claim_staged) {
            ++pk.staged_claim;
            continue;
        }
        ++pk.ring_claim;
        const bool up = !shmqd_down.down_at(p.kill_ns);
        if (p.repair_ns != 0) repairs.push_back(p.repair_ns);
        if (p.repair_ns != 0 && up) repairs_up.push_back(p.repair_ns);
        pk.repair_timed_out += p.repair_timed_out;
        pk.repair_no_snapshot += p.repair_no_snapshot;
        pk.repair_in_commit += p.phase == Phase::committing;
        if (p.claim_partition >= partitions) continue;
        const auto& v = by_offset[p.claim_partition];
        const auto i = static_cast<std::size_t>(
            std::lower_bound(v.begin(), v.end(), std::make_pair(p.claim_offset, uint64_t{0})) - v.begin());
        const uint64_t first = suffix_min[p.claim_partition][i];
        if (first == UINT64_MAX) ++pk.stall_unmeasured;
        else stalls.push_back(first > p.kill_ns ? first - p.kill_ns : 0);
        if (first != UINT64_MAX && up) stalls_up.push_back(first > p.kill_ns ? first - p.kill_ns : 0);
    }
    pk.stall = percentiles(std::move(stalls));
    pk.repair = percentiles(std::move(repairs));
    pk.stall_up = percentiles(std::move(stalls_up));
    pk.repair_up = percentiles(std::move(repairs_up));
    return pk;
}

}  // namespace shmq::chaos
