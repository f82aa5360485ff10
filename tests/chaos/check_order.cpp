#include "check_order.hpp"

#include <algorithm>

namespace shmq::chaos {

StorageOrderResult check_storage_order(const std::vector<std::vector<Rec>>& by_group,
                                       const std::vector<ProducerRun>& producers, const MessageSpace& space,
                                       uint64_t keys) {
    StorageOrderResult so;
    auto bad = [&](uint64_t& counter, std::string what) {
        ++counter;
        add_example(so.examples, std::move(what));
    };
    std::vector<uint64_t> offset_of(space.size(), UINT64_MAX);
    for (auto& g : by_group)
        for (const Rec& r : g) {
            if (offset_of[r.msg] == UINT64_MAX) offset_of[r.msg] = r.offset;
            else if (offset_of[r.msg] != r.offset)
                bad(so.two_offsets, "message " + space.name_of(r.msg) + " at offsets " + std::to_string(offset_of[r.msg]) +
                                        " and " + std::to_string(r.offset));
        }
    for (std::size_t k = 0; k < producers.size(); ++k)
        for (uint64_t key = 0; key < keys; ++key) {
            uint64_t prev = UINT64_MAX, prev_seq = 0;
            for (uint64_t seq = key; seq <= producers[k].acked; seq += keys) {
                const uint64_t o = offset_of[space.base[k] + seq];
                if (o == UINT64_MAX) continue;
                if (prev != UINT64_MAX && o <= prev)
                    bad(so.storage_order, "producer " + std::to_string(k) + " key-" + std::to_string(key) + ": seq " +
                                              std::to_string(seq) + " at offset " + std::to_string(o) + " after seq " +
                                              std::to_string(prev_seq) + " at " + std::to_string(prev));
                prev = o;
                prev_seq = seq;
            }
        }
    return so;
}

ExclusiveOrderResult check_exclusive_order(const std::vector<Rec>& rs, const std::vector<ConsumerRun>& consumers,
                                           const MessageSpace& space, uint32_t partitions) {
    ExclusiveOrderResult eo;
    // (a) each consumer: per partition, offsets rise.
    std::vector<std::vector<uint64_t>> last(consumers.size());
    for (const Rec& r : rs) {
        auto& l = last[r.file];
        if (l.empty()) l.assign(partitions, UINT64_MAX);
        if (r.partition < partitions && l[r.partition] != UINT64_MAX && r.offset <= l[r.partition] &&
            ++eo.within_consumer <= 4)
            add_example(eo.examples, consumers[r.file].file.filename().string() + ": partition " +
                                         std::to_string(r.partition) + " offset " + std::to_string(r.offset) +
                                         " after " + std::to_string(l[r.partition]));
        if (r.partition < partitions) l[r.partition] = r.offset;
    }
    // (b) first deliveries per partition in offset order, in time.
    std::vector<uint32_t> by_time(rs.size());
    for (uint32_t i = 0; i < rs.size(); ++i) by_time[i] = i;
    std::sort(by_time.begin(), by_time.end(), [&](uint32_t a, uint32_t b) { return rs[a].ns < rs[b].ns; });
    std::vector<uint8_t> seen(space.size(), 0);
    std::vector<uint64_t> highest(partitions, 0);
    std::vector<bool> any(partitions, false);
    for (uint32_t i : by_time) {
        const Rec& r = rs[i];
        if (seen[r.msg] || r.partition >= partitions) continue;
        seen[r.msg] = 1;
        if (any[r.partition] && r.offset < highest[r.partition]) {
            if (++eo.first_delivery <= 4)
                add_example(eo.examples, "first delivery of partition " + std::to_string(r.partition) + " offset " +
                                             std::to_string(r.offset) + " (" +
                                             consumers[r.file].file.filename().string() + ") after offset " +
                                             std::to_string(highest[r.partition]));
            continue;
        }
        highest[r.partition] = r.offset;
        any[r.partition] = true;
    }
    return eo;
}

}  // namespace shmq::chaos
