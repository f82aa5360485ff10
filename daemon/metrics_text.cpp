#include "metrics_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace shmq::daemon::metrics {

namespace {

bool plain_label_byte(char c) { return c >= 0x20 && c < 0x7f && c != '\\' && c != '"'; }

// escape_label_value(value) appended to out: runs of bytes that need no
// escaping (every byte of a valid name) are appended whole.
void append_label_value(std::string& out, std::string_view value) {
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t run = i;
        while (run < value.size() && plain_label_byte(value[run])) ++run;
        out.append(value.substr(i, run - i));
        if (run == value.size()) break;
        switch (const char c = value[run]) {
            case '\\': out += "\\\\"; break;
            case '"': out += "\\\""; break;
            case '\n': out += "\\n"; break;
            default: out += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        i = run + 1;
    }
}

void append_count(std::string& out, uint64_t value) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void)ec;  // 24 chars hold any 64-bit value
    out.append(buf, end);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    append_label_value(out, value);
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void)ec;  // 32 chars hold the shortest form of any double
    return std::string(buf, end);
}

namespace {
const char* type_name(Type type) {
    switch (type) {
        case Type::counter: return "counter";
        case Type::gauge: return "gauge";
        case Type::histogram: return "histogram";
    }
    return "untyped";
}
}  // namespace

void Exposition::family(std::string_view name, Type type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(escape_help(help)).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type_name(type)).append("\n");
}

void Exposition::series(std::string_view name, Labels labels, const Label* extra) {
    out_.append(name);
    if (labels.size() == 0 && extra == nullptr) return;
    char sep = '{';
    auto one = [&](const Label& l) {
        out_.push_back(sep);
        out_.append(l.name).append("=\"");
        append_label_value(out_, l.value);
        out_.push_back('"');
        sep = ',';
    };
    for (const Label& l : labels) one(l);
    if (extra != nullptr) one(*extra);
    out_.push_back('}');
}

void Exposition::sample(std::string_view name, Labels labels, uint64_t value) {
    series(name, labels);
    out_.push_back(' ');
    append_count(out_, value);
    out_.push_back('\n');
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
    series(name, labels);
    out_.append(" ").append(format_value(value)).append("\n");
}

void Exposition::histogram(std::string_view name, Labels labels, std::span<const double> bounds,
                           std::span<const uint64_t> counts, double sum) {
    if (counts.size() != bounds.size() + 1)
        throw std::invalid_argument("histogram " + std::string(name) + ": " + std::to_string(bounds.size()) +
                                    " bounds need " + std::to_string(bounds.size() + 1) + " counts, got " +
                                    std::to_string(counts.size()));
    const std::string bucket = std::string(name) + "_bucket";
    // Every group's histogram has the same bounds: their text is made once per exposition.
    if (!std::equal(bounds.begin(), bounds.end(), le_bounds_.begin(), le_bounds_.end())) {
        le_bounds_.assign(bounds.begin(), bounds.end());
        le_text_.clear();
        for (double b : bounds) le_text_.push_back(format_value(b));
        le_text_.push_back("+Inf");
    }
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += counts[i];
        const Label extra{"le", le_text_[i]};
        series(bucket, labels, &extra);
        out_.push_back(' ');
        append_count(out_, cumulative);
        out_.push_back('\n');
    }
    sample(std::string(name) + "_sum", labels, sum);
    sample(std::string(name) + "_count", labels, cumulative);
}

namespace {

using Queues = std::span<const inspect::QueueSnapshot>;

// One family with a sample per queue.
template <class Value>
void per_queue(Exposition& e, Queues queues, std::string_view name, Type type, std::string_view help, Value value) {
    e.family(name, type, help);
    for (const auto& q : queues) e.sample(name, {{"queue", q.name}}, value(q));
}

// One family with a sample per queue and partition.
template <class Value>
void per_partition(Exposition& e, Queues queues, std::string_view name, Type type, std::string_view help,
                   Value value) {
    e.family(name, type, help);
    for (const auto& q : queues)
        for (const auto& p : q.partitions)
            e.sample(name, {{"queue", q.name}, {"partition", std::to_string(p.partition)}}, value(p));
}

// One family with a sample per queue, group and partition.
template <class Value>
void per_group_partition(Exposition& e, Queues queues, std::string_view name, Type type, std::string_view help,
                         Value value) {
    e.family(name, type, help);
    for (const auto& q : queues)
        for (const auto& g : q.groups)
            for (const auto& p : g.partitions)
                e.sample(name, {{"queue", q.name}, {"group", g.name}, {"partition", std::to_string(p.partition)}},
                         value(p));
}

// One family with a sample per running `shmq bridge` of the given direction
// ("" for both): labels queue, direction, group (out), consumer (in), stream.
template <class Value>
void per_bridge(Exposition& e, Queues queues, std::string_view direction, std::string_view name, Type type,
                std::string_view help, Value value) {
    e.family(name, type, help);
    for (const auto& q : queues)
        for (const auto& b : q.bridges)
            if (direction.empty() || b.direction == direction)
                e.sample(name,
                         {{"queue", q.name}, {"direction", b.direction}, {"group", b.group}, {"consumer", b.consumer},
                          {"stream", b.stream}},
                         value(b));
}

}  // namespace

std::string render(Queues queues, const ScrapeInfo& info, std::span<const ExchangeSample> exchanges) {
    using P = inspect::PartitionStats;
    using Q = inspect::QueueSnapshot;
    using GP = inspect::GroupPartitionStats;
    Exposition e;
    e.family("shmq_up", Type::gauge, "1: shmqd is running and answered this scrape.");
    e.sample("shmq_up", {}, uint64_t{1});
    e.family("shmq_scrape_duration_seconds", Type::gauge, "Time spent reading the queues' regions for this scrape.");
    e.sample("shmq_scrape_duration_seconds", {}, info.duration_seconds);

    e.family("shmq_queue_info", Type::gauge, "Always 1; the labels are the queue's state and creation parameters.");
    for (const auto& q : queues)
        e.sample("shmq_queue_info",
                 {{"queue", q.name},
                  {"state", q.state},
                  {"policy", inspect::on_full_name(q.options.on_full)},
                  {"partitions", std::to_string(q.options.partitions)},
                  {"capacity", std::to_string(q.options.capacity)},
                  {"max_message", std::to_string(q.options.max_message)},
                  {"lease_ms", std::to_string(q.options.lease_ms)},
                  {"max_deliveries", std::to_string(q.options.max_deliveries)}},
                 uint64_t{1});

    per_partition(e, queues, "shmq_messages_published_total", Type::counter,
                  "Messages committed to the partition (claimed offsets minus aborted claims).",
                  [](const P& p) { return p.published; });
    per_partition(e, queues, "shmq_messages_acked_total", Type::counter,
                  "Messages acknowledged, summed over the queue's groups (each group acks every message).",
                  [](const P& p) { return p.acked; });
    per_group_partition(e, queues, "shmq_group_messages_acked_total", Type::counter,
                        "Messages acknowledged by one group.", [](const GP& p) { return p.acked; });
    per_partition(e, queues, "shmq_messages_redelivered_total", Type::counter,
                  "Deliveries after the first (nack, expired lease, dead consumer), summed over groups.",
                  [](const P& p) { return p.redelivered; });
    per_queue(e, queues, "shmq_messages_dead_lettered_total", Type::counter,
              "Messages moved to the dead-letter queue after max_deliveries deliveries.",
              [](const Q& q) { return q.dlq.dead_lettered; });
    per_queue(e, queues, "shmq_messages_expired_ttl_total", Type::counter,
              "Messages whose TTL passed before some group had them (one DLQ entry each, reason ttl, unless dropped).",
              [](const Q& q) { return q.dlq.expired_ttl; });
    per_queue(e, queues, "shmq_messages_expired_ttl_dropped_total", Type::counter,
              "Expired messages that went nowhere: ttl_action drop, or the DLQ was full.",
              [](const Q& q) { return q.dlq.expired_ttl_dropped; });
    per_partition(e, queues, "shmq_messages_spilled_total", Type::counter,
                  "Messages that overflowed a full partition into shmqd's spill (on_full=spill).",
                  [](const P& p) { return p.spilled; });
    per_partition(e, queues, "shmq_messages_dropped_total", Type::counter,
                  "Messages overwritten by on_full=drop_oldest before every group had finished them.",
                  [](const P& p) { return p.dropped; });
    per_partition(e, queues, "shmq_duplicates_total", Type::counter,
                  "Sends answered duplicate (their dedup id was published within the window; not enqueued again), "
                  "counted in the partition of the id's original.",
                  [](const P& p) { return p.duplicates; });
    per_queue(e, queues, "shmq_delayed_messages", Type::gauge,
              "Delayed messages (SendOptions::delay) waiting in the queue's delay store for their due time.",
              [](const Q& q) { return q.delayed; });
    per_partition(e, queues, "shmq_journal_lag_messages", Type::gauge,
                  "Published messages not yet in shmqd's journal (journaled queues; 0 otherwise).",
                  [](const P& p) { return p.journal_lag; });
    per_partition(e, queues, "shmq_journal_bytes", Type::gauge,
                  "Bytes of the partition's journal segments kept on disk.",
                  [](const P& p) { return p.journal_bytes; });
    per_partition(e, queues, "shmq_spill_refused_total", Type::counter,
                  "Sends answered overloaded because the spill staging area stayed full.",
                  [](const P& p) { return p.spill_refused; });
    per_partition(e, queues, "shmq_spill_backlog_messages", Type::gauge,
                  "Spilled messages not yet back in the partition's ring (staging and disk).",
                  [](const P& p) { return p.spill_backlog; });
    per_partition(e, queues, "shmq_spill_disk_bytes", Type::gauge,
                  "Bytes of spilled messages on disk waiting for the refill.",
                  [](const P& p) { return p.spill_disk_bytes; });

    per_partition(e, queues, "shmq_depth", Type::gauge,
                  "Messages in the partition not yet finished by the slowest group (approximate).",
                  [](const P& p) { return p.depth; });
    e.family("shmq_in_flight", Type::gauge, "Messages delivered to a group's consumers and not yet settled.");
    for (const auto& q : queues)
        for (const auto& g : q.groups) e.sample("shmq_in_flight", {{"queue", q.name}, {"group", g.name}}, g.total.in_flight);
    per_group_partition(e, queues, "shmq_group_lag", Type::gauge,
                        "Messages published to the partition and not yet finished by the group.",
                        [](const GP& p) { return p.lag; });
    per_group_partition(e, queues, "shmq_oldest_unacked_age_seconds", Type::gauge,
                        "Age of the oldest message the group has not finished in the partition (its publish time to "
                        "this scrape); 0 when there is none.",
                        [](const GP& p) { return static_cast<double>(p.oldest_unacked_age_ms) / 1000.0; });
    // Keyed groups only (a series per keyed group; the families always).
    e.family("shmq_keyed_blocked_keys", Type::gauge,
             "Keyed groups: keys with a message waiting for an earlier message of the key to be finished.");
    for (const auto& q : queues)
        for (const auto& g : q.groups)
            if (g.kind == GroupKind::keyed)
                e.sample("shmq_keyed_blocked_keys", {{"queue", q.name}, {"group", g.name}}, g.total.blocked_keys);
    e.family("shmq_keyed_oldest_blocked_age_seconds", Type::gauge,
             "Keyed groups: age (since publish) of the oldest message waiting for an earlier one of its key; 0 when none.");
    for (const auto& q : queues)
        for (const auto& g : q.groups)
            if (g.kind == GroupKind::keyed)
                e.sample("shmq_keyed_oldest_blocked_age_seconds", {{"queue", q.name}, {"group", g.name}},
                         static_cast<double>(g.total.oldest_blocked_age_ms) / 1000.0);
    per_queue(e, queues, "shmq_overloaded", Type::gauge,
              "1 when a partition is deeper than the queue's high watermark (% of capacity), else 0.",
              [](const Q& q) { return uint64_t{q.overloaded ? 1u : 0u}; });
    per_queue(e, queues, "shmq_dlq_depth", Type::gauge, "Messages in the dead-letter queue.",
              [](const Q& q) { return q.dlq.depth; });
    per_queue(e, queues, "shmq_consumers", Type::gauge, "Attached consumers (live or not yet reaped).",
              [](const Q& q) { return uint64_t{q.consumers}; });
    per_queue(e, queues, "shmq_producers", Type::gauge, "Attached producers (live or not yet reaped).",
              [](const Q& q) { return uint64_t{q.producers}; });
    e.family("shmq_publish_to_ack_seconds", Type::histogram,
             "Time from publish to ACK, sampled: every 64th offset of each partition.");
    for (const auto& q : queues)
        for (const auto& g : q.groups) {
            const auto& h = g.ack_latency;
            if (h.counts.empty()) continue;
            // The region's last bucket has no bound: it is the +Inf bucket.
            std::vector<double> bounds;
            for (std::size_t b = 0; b + 1 < h.bound_ns.size(); ++b) bounds.push_back(static_cast<double>(h.bound_ns[b]) / 1e9);
            e.histogram("shmq_publish_to_ack_seconds", {{"queue", q.name}, {"group", g.name}}, bounds, h.counts,
                        static_cast<double>(h.sum_ns) / 1e9);
        }

    using B = inspect::BridgeStats;
    per_bridge(e, queues, "", "shmq_bridge_connected", Type::gauge,
               "1 while the bridge's NATS connection is up, else 0.",
               [](const B& b) { return uint64_t{b.connected ? 1u : 0u}; });
    per_bridge(e, queues, "", "shmq_bridge_messages_total", Type::counter,
               "out: PubAcks saying the stream holds a message (duplicates included); in: messages sent into the queue.",
               [](const B& b) { return b.messages; });
    per_bridge(e, queues, "", "shmq_bridge_pending_acks", Type::gauge,
               "out: publishes awaiting their PubAck; in: JetStream messages fetched, not yet sent and ACKed.",
               [](const B& b) { return b.pending_acks; });
    per_bridge(e, queues, "out", "shmq_bridge_held_messages", Type::gauge,
               "Messages the bridge holds leased, not yet stored in the stream (PubAck pending or retrying).",
               [](const B& b) { return b.held; });
    per_bridge(e, queues, "out", "shmq_bridge_publish_errors_total", Type::counter,
               "Publishes that failed (refused, timed out or answered with an error); each is retried.",
               [](const B& b) { return b.errors; });
    per_bridge(e, queues, "in", "shmq_bridge_fetch_errors_total", Type::counter,
               "Failed fetches from JetStream, and messages terminated because the queue can never take them.",
               [](const B& b) { return b.errors; });
    per_bridge(e, queues, "", "shmq_bridge_redeliveries_total", Type::counter,
               "out: publishes sent again after a failure; in: messages JetStream delivered more than once.",
               [](const B& b) { return b.redeliveries; });
    per_bridge(e, queues, "", "shmq_bridge_duplicates_total", Type::counter,
               "out: PubAcks saying the stream already had the message (a re-send deduplicated by Nats-Msg-Id); "
               "in: sends the queue's dedup window answered duplicate (their Nats-Msg-Id was in it).",
               [](const B& b) { return b.duplicates; });
    per_bridge(e, queues, "", "shmq_bridge_lag_messages", Type::gauge,
               "out: messages published to the queue, not yet stored in the stream; in: the stream's messages "
               "not yet delivered to the bridge's consumer.",
               [](const B& b) { return b.lag; });

    e.family("shmq_exchange_routed_total", Type::counter,
             "Publishes through the exchange that reached at least one bound queue.");
    for (const auto& x : exchanges) e.sample("shmq_exchange_routed_total", {{"exchange", x.name}}, x.routed);
    e.family("shmq_exchange_unroutable_total", Type::counter,
             "Publishes through the exchange that no binding matched (sent to its alternate queue or not).");
    for (const auto& x : exchanges) e.sample("shmq_exchange_unroutable_total", {{"exchange", x.name}}, x.unroutable);
    return e.take();
}

}  // namespace shmq::daemon::metrics
