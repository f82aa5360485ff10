#include "snapshot_json.hpp"

#include "format.hpp"

namespace shmq::cli {

void write_options(Json& j, const QueueOptions& o) {
    j.begin_object("options")
        .field("partitions", o.partitions)
        .field("capacity", o.capacity)
        .field("max_message", o.max_message)
        .field("on_full", inspect::on_full_name(o.on_full))
        .field("lease_ms", o.lease_ms)
        .field("max_groups", o.max_groups)
        .field("max_participants", o.max_participants)
        .field("max_deliveries", o.max_deliveries)
        .field("dlq_capacity", o.dlq_capacity)
        .field("mode", octal_mode(o.mode))
        .field("high_watermark_pct", o.high_watermark_pct)
        .field("spill_buffer", o.spill_buffer)
        .field("journal", o.journal)
        .field("retain_bytes", o.retain_bytes)
        .field("retain_ms", o.retain_ms)
        .field("fsync", o.fsync == Fsync::never ? "never" : o.fsync == Fsync::always ? "always" : "batch")
        .end_object();
}

namespace {
void write_counters(Json& j, const inspect::GroupPartitionStats& s) {
    j.field("lag", s.lag)
        .field("oldest_unacked_age_ms", s.oldest_unacked_age_ms)
        .field("in_flight", s.in_flight)
        .field("retrying", s.retrying)
        .field("delivered", s.delivered)
        .field("acked", s.acked)
        .field("nacked", s.nacked)
        .field("redelivered", s.redelivered)
        .field("expired", s.expired)
        .field("skipped", s.skipped)
        .field("dead_lettered", s.dead_lettered)
        .field("dlq_blocked", s.dlq_blocked);
}
}  // namespace

void write_group(Json& j, const inspect::GroupStats& g, bool with_partitions, const GroupRates* rates) {
    j.begin_object()
        .field("name", g.name)
        .field("kind", g.kind == GroupKind::exclusive ? "exclusive" : "shared")
        .field("joining", g.joining)
        .field("replay", g.replay)
        .field("replay_left", g.replay_left);
    j.begin_array("members");
    for (uint32_t pid : g.member_pids) j.value(pid);
    j.end_array();
    write_counters(j, g.total);
    j.field("delivered_per_s", rates ? rates->delivered_per_s : 0.0);
    // Bucket upper bounds (the true value is at most this); UINT64_MAX past the last bound.
    j.begin_object("ack_latency")
        .field("samples", g.ack_latency.count)
        .field("p50_le_ns", g.ack_latency.quantile_bound_ns(0.50))
        .field("p99_le_ns", g.ack_latency.quantile_bound_ns(0.99))
        .field("max_le_ns", g.ack_latency.quantile_bound_ns(1.0))
        .end_object();
    j.field("acked_per_s", rates ? rates->acked_per_s : 0.0);
    if (with_partitions) {
        j.begin_array("partitions");
        for (std::size_t i = 0; i < g.partitions.size(); ++i) {
            const auto& p = g.partitions[i];
            j.begin_object().field("partition", p.partition).field("next", p.next).field("floor", p.floor);
            j.field("owner_pid", p.owner_pid);
            write_counters(j, p);
            j.field("acked_per_s", rates && i < rates->partitions.size() ? rates->partitions[i].acked_per_s : 0.0);
            j.end_object();
        }
        j.end_array();
    }
    j.end_object();
}

void write_snapshot(Json& j, const inspect::QueueSnapshot& s, const QueueRates& rates) {
    j.begin_object()
        .field("name", s.name)
        .field("state", s.state)
        .field("damage", s.damage)
        .field("epoch", s.epoch)
        .field("created_unix_ns", s.created_unix_ns)
        .field("region_bytes", s.region_bytes)
        .field("taken_unix_ns", s.taken_unix_ns);
    write_options(j, s.options);
    j.field("published", s.published).field("acked", s.acked).field("depth", s.depth).field("in_flight", s.in_flight);
    j.field("spilled", s.spilled).field("spill_backlog", s.spill_backlog).field("spill_disk_bytes", s.spill_disk_bytes);
    j.field("dropped", s.dropped);
    j.field("oldest_unacked_age_ms", s.oldest_unacked_age_ms);
    j.field("overloaded", s.overloaded).field("overloaded_reason", s.overloaded_reason);
    j.begin_object("rates")
        .field("interval_ms", rates.interval_ms)
        .field("published_per_s", rates.published_per_s)
        .field("acked_per_s", rates.acked_per_s)
        .end_object();
    j.field("producers", s.producers).field("consumers", s.consumers);
    j.begin_array("partitions");
    for (std::size_t i = 0; i < s.partitions.size(); ++i) {
        const auto& p = s.partitions[i];
        const PartitionRates pr = i < rates.partitions.size() ? rates.partitions[i] : PartitionRates{};
        j.begin_object()
            .field("partition", p.partition)
            .field("head", p.head)
            .field("tail", p.tail)
            .field("published", p.published)
            .field("depth", p.depth)
            .field("rejected", p.rejected)
            .field("aborted", p.aborted)
            .field("timeouts", p.timeouts)
            .field("dropped", p.dropped)
            .field("delivered", p.delivered)
            .field("acked", p.acked)
            .field("nacked", p.nacked)
            .field("redelivered", p.redelivered)
            .field("oldest_age_ms", p.oldest_age_ms)
            .field("overloaded", p.overloaded)
            .field("spilled", p.spilled)
            .field("spilling", p.spilling)
            .field("spill_backlog", p.spill_backlog)
            .field("spill_disk_messages", p.spill_disk_messages)
            .field("spill_disk_bytes", p.spill_disk_bytes)
            .field("spill_refused", p.spill_refused)
            .field("spill_status", p.spill_status)
            .field("journal_floor", p.journal_floor)
            .field("journal_lag", p.journal_lag)
            .field("journal_bytes", p.journal_bytes)
            .field("journal_status", p.journal_status)
            .field("published_per_s", pr.published_per_s)
            .field("acked_per_s", pr.acked_per_s)
            .end_object();
    }
    j.end_array();
    j.begin_array("groups");
    for (std::size_t i = 0; i < s.groups.size(); ++i)
        write_group(j, s.groups[i], true, i < rates.groups.size() ? &rates.groups[i] : nullptr);
    j.end_array();
    j.begin_array("participants");
    for (const auto& p : s.participants) {
        j.begin_object()
            .field("index", p.index)
            .field("pid", p.pid)
            .field("role", inspect::role_name(p.role))
            .field("group", p.group)
            .field("at_most_once", p.at_most_once)
            .field("alive", p.liveness == "alive")
            .field("liveness", p.liveness)
            .field("heartbeat_age_ms", p.heartbeat_age_ms)
            .field("attached_unix_ns", p.attached_unix_ns)
            .field("operations", p.operations);
        j.begin_array("partitions_owned");
        for (uint32_t part : p.partitions_owned) j.value(part);
        j.end_array().end_object();
    }
    j.end_array();
    j.begin_object("dlq")
        .field("capacity", s.dlq.capacity)
        .field("depth", s.dlq.depth)
        .field("dead_lettered", s.dlq.dead_lettered)
        .field("redriven", s.dlq.redriven)
        .field("purged", s.dlq.purged)
        .field("blocked", s.dlq.blocked)
        .end_object();
    j.begin_array("bridges");
    for (const auto& b : s.bridges)
        j.begin_object()
            .field("direction", b.direction)
            .field("group", b.group)
            .field("stream", b.stream)
            .field("consumer", b.consumer)
            .field("connected", b.connected)
            .field("updated_age_ms", b.updated_age_ms)
            .field("messages", b.messages)
            .field("pending_acks", b.pending_acks)
            .field("held", b.held)
            .field("errors", b.errors)
            .field("redeliveries", b.redeliveries)
            .field("duplicates", b.duplicates)
            .field("lag", b.lag)
            .end_object();
    j.end_array();
    j.end_object();
}

}  // namespace shmq::cli
