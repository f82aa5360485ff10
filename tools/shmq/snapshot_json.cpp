#include "shmq/internal/groups.hpp"
#include "snapshot_json.hpp"

#include "format.hpp"

namespace shmq::cli {

Json options_json(const QueueOptions& o) {
    Json j;
    j["partitions"] = o.partitions;
    j["capacity"] = o.capacity;
    j["max_message"] = o.max_message;
    j["on_full"] = inspect::on_full_name(o.on_full);
    j["lease_ms"] = o.lease_ms;
    j["max_groups"] = o.max_groups;
    j["max_participants"] = o.max_participants;
    j["max_deliveries"] = o.max_deliveries;
    j["dlq_capacity"] = o.dlq_capacity;
    j["mode"] = octal_mode(o.mode);
    j["high_watermark_pct"] = o.high_watermark_pct;
    j["spill_buffer"] = o.spill_buffer;
    j["journal"] = o.journal;
    j["retain_bytes"] = o.retain_bytes;
    j["retain_ms"] = o.retain_ms;
    j["fsync"] = o.fsync == Fsync::never ? "never" : o.fsync == Fsync::always ? "always" : "batch";
    j["dedup_window_ms"] = o.dedup_window_ms;
    j["dedup_capacity"] = o.dedup_capacity;
    j["dedup_content"] = o.dedup_content;
    j["keyed_groups"] = o.keyed_groups;
    j["message_ttl_ms"] = o.message_ttl_ms;
    j["ttl_action"] = o.ttl_action == TtlAction::drop ? "drop" : "dlq";
    j["delay_capacity"] = o.delay_capacity;
    return j;
}

namespace {
void put_counters(Json& j, const inspect::GroupPartitionStats& s) {
    j["lag"] = s.lag;
    j["oldest_unacked_age_ms"] = s.oldest_unacked_age_ms;
    j["in_flight"] = s.in_flight;
    j["retrying"] = s.retrying;
    j["delivered"] = s.delivered;
    j["acked"] = s.acked;
    j["nacked"] = s.nacked;
    j["redelivered"] = s.redelivered;
    j["expired"] = s.expired;
    j["skipped"] = s.skipped;
    j["dead_lettered"] = s.dead_lettered;
    j["dlq_blocked"] = s.dlq_blocked;
    j["blocked"] = s.blocked;
    j["blocked_keys"] = s.blocked_keys;
    j["oldest_blocked_age_ms"] = s.oldest_blocked_age_ms;
}
}  // namespace

Json group_json(const inspect::GroupStats& g, bool with_partitions, const GroupRates* rates) {
    Json j;
    put_bytes(j, "name", g.name);  // read from the region: any bytes
    j["kind"] = detail::group_kind_name(g.kind);
    j["joining"] = g.joining;
    j["replay"] = g.replay;
    j["replay_left"] = g.replay_left;
    j["members"] = g.member_pids;
    put_counters(j, g.total);
    j["delivered_per_s"] = one_decimal(rates ? rates->delivered_per_s : 0.0);
    // Bucket upper bounds (the true value is at most this); UINT64_MAX past the last bound.
    j["ack_latency"] = {{"samples", g.ack_latency.count},
                        {"p50_le_ns", g.ack_latency.quantile_bound_ns(0.50)},
                        {"p99_le_ns", g.ack_latency.quantile_bound_ns(0.99)},
                        {"max_le_ns", g.ack_latency.quantile_bound_ns(1.0)}};
    j["acked_per_s"] = one_decimal(rates ? rates->acked_per_s : 0.0);
    if (with_partitions) {
        Json parts = Json::array();
        for (std::size_t i = 0; i < g.partitions.size(); ++i) {
            const auto& p = g.partitions[i];
            Json pj;
            pj["partition"] = p.partition;
            pj["next"] = p.next;
            pj["floor"] = p.floor;
            pj["owner_pid"] = p.owner_pid;
            put_counters(pj, p);
            pj["acked_per_s"] =
                one_decimal(rates && i < rates->partitions.size() ? rates->partitions[i].acked_per_s : 0.0);
            parts.push_back(std::move(pj));
        }
        j["partitions"] = std::move(parts);
    }
    return j;
}

namespace {
Json partition_json(const inspect::PartitionStats& p, const PartitionRates& pr) {
    Json j;
    j["partition"] = p.partition;
    j["head"] = p.head;
    j["tail"] = p.tail;
    j["published"] = p.published;
    j["depth"] = p.depth;
    j["rejected"] = p.rejected;
    j["aborted"] = p.aborted;
    j["timeouts"] = p.timeouts;
    j["dropped"] = p.dropped;
    j["duplicates"] = p.duplicates;
    j["delivered"] = p.delivered;
    j["acked"] = p.acked;
    j["nacked"] = p.nacked;
    j["redelivered"] = p.redelivered;
    j["oldest_age_ms"] = p.oldest_age_ms;
    j["overloaded"] = p.overloaded;
    j["spilled"] = p.spilled;
    j["spilling"] = p.spilling;
    j["spill_backlog"] = p.spill_backlog;
    j["spill_disk_messages"] = p.spill_disk_messages;
    j["spill_disk_bytes"] = p.spill_disk_bytes;
    j["spill_refused"] = p.spill_refused;
    j["spill_status"] = p.spill_status;
    j["journal_floor"] = p.journal_floor;
    j["journal_lag"] = p.journal_lag;
    j["journal_bytes"] = p.journal_bytes;
    j["journal_status"] = p.journal_status;
    j["published_per_s"] = one_decimal(pr.published_per_s);
    j["acked_per_s"] = one_decimal(pr.acked_per_s);
    return j;
}

Json participant_json(const inspect::ParticipantStats& p) {
    Json j;
    j["index"] = p.index;
    j["pid"] = p.pid;
    j["role"] = inspect::role_name(p.role);
    put_bytes(j, "group", p.group);
    j["at_most_once"] = p.at_most_once;
    j["alive"] = p.liveness == "alive";
    j["liveness"] = p.liveness;
    j["heartbeat_age_ms"] = p.heartbeat_age_ms;
    j["attached_unix_ns"] = p.attached_unix_ns;
    j["operations"] = p.operations;
    j["partitions_owned"] = p.partitions_owned;
    return j;
}

Json bridge_json(const inspect::BridgeStats& b) {
    Json j;
    j["direction"] = b.direction;
    put_bytes(j, "group", b.group);
    put_bytes(j, "stream", b.stream);
    put_bytes(j, "consumer", b.consumer);
    j["connected"] = b.connected;
    j["updated_age_ms"] = b.updated_age_ms;
    j["messages"] = b.messages;
    j["pending_acks"] = b.pending_acks;
    j["held"] = b.held;
    j["errors"] = b.errors;
    j["redeliveries"] = b.redeliveries;
    j["duplicates"] = b.duplicates;
    j["lag"] = b.lag;
    return j;
}
}  // namespace

Json snapshot_json(const inspect::QueueSnapshot& s, const QueueRates& rates) {
    Json j;
    put_bytes(j, "name", s.name);
    j["state"] = s.state;
    put_bytes(j, "damage", s.damage);
    j["epoch"] = s.epoch;
    j["created_unix_ns"] = s.created_unix_ns;
    j["region_bytes"] = s.region_bytes;
    j["taken_unix_ns"] = s.taken_unix_ns;
    j["options"] = options_json(s.options);
    j["published"] = s.published;
    j["acked"] = s.acked;
    j["depth"] = s.depth;
    j["in_flight"] = s.in_flight;
    j["spilled"] = s.spilled;
    j["spill_backlog"] = s.spill_backlog;
    j["spill_disk_bytes"] = s.spill_disk_bytes;
    j["dropped"] = s.dropped;
    j["duplicates"] = s.duplicates;
    j["delayed"] = s.delayed;
    j["next_due_ms"] = s.next_due_ms ? Json(*s.next_due_ms) : Json(nullptr);
    j["oldest_unacked_age_ms"] = s.oldest_unacked_age_ms;
    j["overloaded"] = s.overloaded;
    put_bytes(j, "overloaded_reason", s.overloaded_reason);
    j["rates"] = {{"interval_ms", rates.interval_ms},
                  {"published_per_s", one_decimal(rates.published_per_s)},
                  {"acked_per_s", one_decimal(rates.acked_per_s)}};
    j["producers"] = s.producers;
    j["consumers"] = s.consumers;
    Json parts = Json::array();
    for (std::size_t i = 0; i < s.partitions.size(); ++i)
        parts.push_back(partition_json(s.partitions[i], i < rates.partitions.size() ? rates.partitions[i] : PartitionRates{}));
    j["partitions"] = std::move(parts);
    Json groups = Json::array();
    for (std::size_t i = 0; i < s.groups.size(); ++i)
        groups.push_back(group_json(s.groups[i], true, i < rates.groups.size() ? &rates.groups[i] : nullptr));
    j["groups"] = std::move(groups);
    Json people = Json::array();
    for (const auto& p : s.participants) people.push_back(participant_json(p));
    j["participants"] = std::move(people);
    j["dlq"] = {{"capacity", s.dlq.capacity},   {"depth", s.dlq.depth},   {"dead_lettered", s.dlq.dead_lettered},
                {"redriven", s.dlq.redriven}, {"purged", s.dlq.purged}, {"blocked", s.dlq.blocked}};
    j["expired_ttl"] = s.dlq.expired_ttl;
    j["expired_ttl_dropped"] = s.dlq.expired_ttl_dropped;
    Json bridges = Json::array();
    for (const auto& b : s.bridges) bridges.push_back(bridge_json(b));
    j["bridges"] = std::move(bridges);
    return j;
}

}  // namespace shmq::cli
