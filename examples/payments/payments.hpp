// What every role agrees on: the three queues and their shapes, the consumer
// groups, the payments themselves (generated from their number, so the
// orchestrator knows every expected balance without reading the queue) and
// the text of each message.
//
//   <prefix>.requests   "pay-17 evan 5000"          checkout -> chargers    dedup_id "pay-17"
//   <prefix>.charged    "charged pay-17 evan 5000"  chargers -> receipts    key "evan"
//   <prefix>.receipts   "receipt pay-17 evan 5000"  receipts -> audit       key "evan"
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <shmq/shmq.hpp>

namespace payments {

struct QueueNames {
    std::string requests, charged, receipts;
};
inline QueueNames queue_names(const std::string& prefix) {
    return {prefix + ".requests", prefix + ".charged", prefix + ".receipts"};
}

inline constexpr std::string_view kChargerGroup = "chargers";  // on requests
inline constexpr std::string_view kReceiptGroup = "receipts";  // on charged
inline constexpr std::string_view kAuditGroup = "audit";       // on receipts

inline constexpr uint32_t kDedupWindowMs = 10 * 60 * 1000;  // a resend within 10 min is a duplicate
inline constexpr uint32_t kLeaseMs = 5000;                  // also each transaction's timeout
inline constexpr std::size_t kChargeBatch = 8;              // requests per shmq transaction of a charger
inline constexpr std::size_t kReceiptBatch = 32;            // events per shmq transaction of a receipts worker
inline constexpr shmq::Millis kSendTimeout{10000};          // a full queue this long: its readers are gone

inline shmq::QueueOptions stage_options() {
    shmq::QueueOptions o;
    o.partitions = 4;  // key = account: one account's messages stay in order
    o.capacity = 4096;
    o.max_message = 128;
    o.lease_ms = kLeaseMs;
    o.max_groups = 4;
    o.max_participants = 64;
    o.max_deliveries = 1000;  // a request is redelivered once per kill of its charger: never dead-letter it
    o.dlq_capacity = 64;
    return o;
}

inline shmq::QueueOptions requests_options(uint64_t payments) {
    shmq::QueueOptions o = stage_options();
    o.dedup_window_ms = kDedupWindowMs;
    // The table holds this many ids per half window; every id of a run falls
    // in one or two halves, so room for all of them (and some) is enough.
    o.dedup_capacity = static_cast<uint32_t>(payments + 1024);
    return o;
}

// Payment i (1..N): "charge <account> <cents>". Payment 1 is the seed's:
// charge Evan $50. The others spread over kAccounts by a hash of i.
inline constexpr std::string_view kAccounts[] = {"evan", "ana", "bo", "chen", "dara", "femi", "gus", "hana"};

struct Payment {
    uint64_t id = 0;
    std::string_view account;
    int64_t cents = 0;
};

inline uint64_t mix(uint64_t x) {  // SplitMix64's finalizer
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

inline Payment payment(uint64_t id) {
    if (id == 1) return {1, "evan", 5000};
    const uint64_t h = mix(id);
    return {id, kAccounts[h % std::size(kAccounts)], static_cast<int64_t>(100 + (h >> 32) % 9901)};  // $1..$100
}

inline std::string pay_id(uint64_t id) { return "pay-" + std::to_string(id); }

// "pay-<id> <account> <cents>", after `word ` if given ("charged", "receipt").
inline std::string encode(const Payment& p, std::string_view word = {}) {
    std::string s;
    if (!word.empty()) (s += word) += ' ';
    return s + pay_id(p.id) + " " + std::string(p.account) + " " + std::to_string(p.cents);
}

// The inverse of encode with the same `word`; nullopt for anything else.
// The account is a view into `text`.
inline std::optional<Payment> decode(std::string_view text, std::string_view word = {}) {
    if (!word.empty()) {
        if (text.size() <= word.size() || text.substr(0, word.size()) != word || text[word.size()] != ' ')
            return std::nullopt;
        text.remove_prefix(word.size() + 1);
    }
    if (text.substr(0, 4) != "pay-") return std::nullopt;
    text.remove_prefix(4);
    Payment p;
    auto [a, ea] = std::from_chars(text.data(), text.data() + text.size(), p.id);
    if (ea != std::errc() || a == text.data() + text.size() || *a != ' ') return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(a - text.data()) + 1);
    const auto sp = text.find(' ');
    if (sp == 0 || sp == std::string_view::npos) return std::nullopt;
    p.account = text.substr(0, sp);
    text.remove_prefix(sp + 1);
    auto [c, ec] = std::from_chars(text.data(), text.data() + text.size(), p.cents);
    if (ec != std::errc() || c != text.data() + text.size() || p.id == 0) return std::nullopt;
    return p;
}

// The run's files: "<dir>/<role>-<index>.status" (status.hpp), "<dir>/ledger.db" (ledger.hpp).
inline std::string status_file(const std::string& dir, std::string_view role, uint32_t index) {
    return dir + "/" + std::string(role) + "-" + std::to_string(index) + ".status";
}
inline std::string ledger_file(const std::string& dir) { return dir + "/ledger.db"; }

}  // namespace payments
