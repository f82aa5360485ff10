// Checks over the records consumer workers write (support/processes.hpp):
// exactly-once delivery, redelivery counts, contiguous offsets, per-key
// order. Each returns an AssertionResult that names the first offenders.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "shmq/shmq.hpp"
#include "support/processes.hpp"

namespace shmq::test::checks {

constexpr std::size_t kShowFirst = 8;  // offending messages listed in a failure message

inline std::string msg_name(uint32_t producer, uint64_t seq) { return std::to_string(producer) + ":" + std::to_string(seq); }

inline std::string where(const Records& rs, const Record& r) {
    return rs.files[r.file].filename().string() + ":" + std::to_string(r.line);
}

inline std::string join_first(const std::vector<std::string>& items, std::size_t total) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
    if (total > items.size()) s += ", ...";
    return s;
}

// Every message "K:i" (K < producers, i < per_producer) is recorded exactly
// once. With allowed_duplicates > 0 (a consumer was killed: at-least-once),
// up to that many messages may be recorded more than once, provided one of
// their records shows a redelivery (deliveries >= 2).
inline testing::AssertionResult exactly_once(const Records& rs, uint32_t producers, uint64_t per_producer,
                                      std::size_t allowed_duplicates = 0) {
    const uint64_t expected = uint64_t{producers} * per_producer;
    std::vector<uint8_t> seen(expected, 0);  // saturates at 255
    std::vector<uint32_t> most_deliveries(allowed_duplicates ? expected : 0, 0);
    std::size_t unexpected = 0;
    std::vector<std::string> unexpected_first;
    for (const Record& r : rs.records) {
        if (r.producer >= producers || r.seq >= per_producer) {
            if (++unexpected <= kShowFirst)
                unexpected_first.push_back(msg_name(r.producer, r.seq) + " at " + where(rs, r));
            continue;
        }
        const uint64_t n = r.producer * per_producer + r.seq;
        if (seen[n] < 255) ++seen[n];
        if (allowed_duplicates) most_deliveries[n] = std::max(most_deliveries[n], r.deliveries);
    }
    std::size_t lost = 0, duplicated = 0, distinct = 0, unexplained = 0;
    std::vector<std::string> lost_first, dup_first, unexplained_first;
    for (uint64_t n = 0; n < expected; ++n) {
        const auto name = [&] { return msg_name(static_cast<uint32_t>(n / per_producer), n % per_producer); };
        if (seen[n] == 0) {
            if (++lost <= kShowFirst) lost_first.push_back(name());
            continue;
        }
        ++distinct;
        if (seen[n] == 1) continue;
        const std::string dup = name() + " x" + std::to_string(seen[n]) + (seen[n] == 255 ? "+" : "");
        if (++duplicated <= kShowFirst) dup_first.push_back(dup);
        if (allowed_duplicates && most_deliveries[n] < 2 && ++unexplained <= kShowFirst)
            unexplained_first.push_back(dup);
    }
    const bool dups_ok = duplicated == 0 || (duplicated <= allowed_duplicates && unexplained == 0);
    if (lost == 0 && dups_ok && unexpected == 0 && rs.problems.empty()) return testing::AssertionSuccess();
    auto f = testing::AssertionFailure();
    f << rs.records.size() << " records of " << expected << " expected messages (" << distinct << " distinct)";
    if (lost) {
        f << "\n  " << lost << " lost: " << join_first(lost_first, lost);
        // Per producer: how much arrived, and where the losses are.
        for (uint32_t k = 0; k < producers; ++k) {
            uint64_t got = 0, highest = 0, missing_below_highest = 0;
            for (uint64_t i = 0; i < per_producer; ++i)
                if (seen[k * per_producer + i] != 0) ++got, highest = i;
            for (uint64_t i = 0; i < highest; ++i) missing_below_highest += seen[k * per_producer + i] == 0;
            f << "\n    producer " << k << ": " << got << " of " << per_producer << " received";
            if (got != 0)
                f << ", highest " << msg_name(k, highest) << ", " << missing_below_highest << " missing below it";
        }
    }
    if (duplicated) {
        f << "\n  " << duplicated << " duplicated";
        if (allowed_duplicates) f << " (at most " << allowed_duplicates << " redelivered ones allowed)";
        f << ": " << join_first(dup_first, duplicated);
    }
    if (unexplained)
        f << "\n  " << unexplained << " recorded twice without a redelivery (deliveries < 2 in every record): "
          << join_first(unexplained_first, unexplained);
    if (unexpected) f << "\n  " << unexpected << " unexpected: " << join_first(unexpected_first, unexpected);
    for (auto& p : rs.problems) f << "\n  " << p;
    if (rs.malformed > 5) f << "\n  (" << rs.malformed << " malformed lines in all)";
    return f;
}

// Every record says the message was delivered exactly `deliveries` times.
inline testing::AssertionResult deliveries_are(const Records& rs, uint32_t deliveries) {
    std::size_t bad = 0;
    std::vector<std::string> first;
    for (const Record& r : rs.records) {
        if (r.deliveries == deliveries) continue;
        if (++bad <= kShowFirst)
            first.push_back(msg_name(r.producer, r.seq) + " had " + std::to_string(r.deliveries) + " (partition " +
                            std::to_string(r.partition) + " offset " + std::to_string(r.offset) + ")");
    }
    if (bad == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << bad << " of " << rs.records.size()
                                       << " records do not have deliveries == " << deliveries << ": "
                                       << join_first(first, bad);
}

// Per partition, the recorded offsets are 0..n-1, each exactly once (a fresh
// queue, no aborted claims: offsets have no gaps); with allow_duplicates, at
// least once.
inline testing::AssertionResult offsets_contiguous(const Records& rs, uint32_t partitions, bool allow_duplicates = false) {
    std::vector<std::vector<uint8_t>> seen(partitions);
    std::size_t bad_partition = 0, beyond = 0;
    std::vector<std::string> problems;
    for (const Record& r : rs.records) {
        if (r.partition >= partitions) {
            if (++bad_partition <= kShowFirst)
                problems.push_back(msg_name(r.producer, r.seq) + " in partition " + std::to_string(r.partition));
            continue;
        }
        if (r.offset >= rs.records.size()) {  // no partition can hold more offsets than there are records
            if (++beyond <= kShowFirst)
                problems.push_back(msg_name(r.producer, r.seq) + " at offset " + std::to_string(r.offset) +
                                   " of partition " + std::to_string(r.partition) + ", beyond the record count");
            continue;
        }
        auto& v = seen[r.partition];
        if (v.size() <= r.offset) v.resize(r.offset + 1, 0);
        if (v[r.offset] < 255) ++v[r.offset];
    }
    std::size_t gaps = 0, doubles = 0;
    for (uint32_t p = 0; p < partitions; ++p) {
        for (uint64_t o = 0; o < seen[p].size(); ++o) {
            if (seen[p][o] == 1 || (allow_duplicates && seen[p][o] > 1)) continue;
            const bool gap = seen[p][o] == 0;
            if ((gap ? ++gaps : ++doubles) + bad_partition + beyond <= kShowFirst * 2)
                problems.push_back("partition " + std::to_string(p) + " offset " + std::to_string(o) +
                                   (gap ? " never recorded" : " recorded " + std::to_string(seen[p][o]) + " times"));
        }
    }
    if (gaps + doubles + bad_partition + beyond == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "offsets: " << gaps << " missing, " << doubles << " recorded more than once, "
                                       << bad_partition << " in a non-existent partition, " << beyond
                                       << " out of range: " << join_first(problems, problems.size());
}

// Per-key order: every key stays in its partition (partition_for_key); sorted
// by offset, each (producer, key)'s messages are in send order; and each
// consumer received each (producer, key)'s messages, and each partition's
// offsets, in increasing order. allow_duplicates: the same message may be
// recorded twice (by different consumers: a redelivery after a crash).
inline testing::AssertionResult per_key_order(const Records& rs, uint32_t partitions, bool allow_duplicates = false) {
    std::size_t bad = 0;
    std::vector<std::string> first;
    auto report = [&](std::string s) {
        if (++bad <= kShowFirst) first.push_back(std::move(s));
    };
    std::map<std::tuple<uint32_t, uint32_t, std::string>, const Record*> last_in_file;  // (file, producer, key)
    std::map<std::pair<uint32_t, uint32_t>, const Record*> last_offset_in_file;         // (file, partition)
    std::map<std::pair<uint32_t, std::string>, std::vector<const Record*>> by_key;      // (producer, key)
    for (const Record& r : rs.records) {
        const uint32_t want = partition_for_key(r.key, partitions);
        if (r.partition != want)
            report(msg_name(r.producer, r.seq) + " with key " + r.key + " came from partition " +
                   std::to_string(r.partition) + ", not " + std::to_string(want));
        auto& prev = last_in_file[{r.file, r.producer, r.key}];
        if (prev != nullptr && prev->seq >= r.seq)
            report(where(rs, r) + ": " + msg_name(r.producer, r.seq) + " (key " + r.key + ") received after " +
                   msg_name(prev->producer, prev->seq) + " (line " + std::to_string(prev->line) + ")");
        prev = &r;
        auto& prev_off = last_offset_in_file[{r.file, r.partition}];
        if (prev_off != nullptr && prev_off->offset >= r.offset)
            report(where(rs, r) + ": partition " + std::to_string(r.partition) + " offset " + std::to_string(r.offset) +
                   " received after offset " + std::to_string(prev_off->offset));
        prev_off = &r;
        by_key[{r.producer, r.key}].push_back(&r);
    }
    for (auto& [k, recs] : by_key) {
        std::sort(recs.begin(), recs.end(), [](const Record* a, const Record* b) { return a->offset < b->offset; });
        for (std::size_t i = 1; i < recs.size(); ++i)
            if (recs[i - 1]->seq >= recs[i]->seq &&
                !(allow_duplicates && recs[i - 1]->offset == recs[i]->offset && recs[i - 1]->seq == recs[i]->seq))
                report("producer " + std::to_string(k.first) + " key " + k.second + ": " +
                       msg_name(recs[i]->producer, recs[i]->seq) + " at offset " + std::to_string(recs[i]->offset) +
                       " follows " + msg_name(recs[i - 1]->producer, recs[i - 1]->seq) + " at offset " +
                       std::to_string(recs[i - 1]->offset));
    }
    if (bad == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << bad << " order violations: " << join_first(first, bad);
}

// How many records each file holds, e.g. "c0=333412 c1=...".
inline std::string distribution(const Records& rs) {
    std::vector<std::size_t> n(rs.files.size(), 0);
    for (const Record& r : rs.records) ++n[r.file];
    std::string s;
    for (std::size_t i = 0; i < n.size(); ++i)
        s += (i ? " " : "") + rs.files[i].stem().string() + "=" + std::to_string(n[i]);
    return s;
}

}  // namespace shmq::test::checks
