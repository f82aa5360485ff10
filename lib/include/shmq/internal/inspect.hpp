// Read-only snapshots of a region for tools (ls, stat, groups, check, top)
// and shmqd's metrics. Every value is read with relaxed/acquire loads from a
// region others keep writing, one field at a time, with no consistent cut:
// figures are approximate ("depth_approx"-style) and may be mutually
// inconsistent by the messages sent, delivered or ACKed while the snapshot
// was taken; none is ever trusted as an index. Each struct says which of its
// fields race; the names stay, as they are the JSON and metrics keys.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::inspect {

// Approximate (read field by field while producers, consumers and shmqd run):
// every counter and every difference. Differences (published, depth,
// journal_lag, spill_backlog) are clamped at 0, never negative, and may be
// off by the messages in flight; tail >= head always; oldest_age_ms is 0
// when its slot changed under the read.
struct PartitionStats {
    uint32_t partition = 0;
    uint64_t head = 0;       // released below this offset
    uint64_t tail = 0;       // next offset to claim
    uint64_t published = 0;  // tail - aborted
    uint64_t depth = 0;      // not yet finished by the slowest group (all since head when no group)
    uint64_t rejected = 0, aborted = 0, timeouts = 0;
    uint64_t dropped = 0;  // on_full=drop_oldest: released before every group had finished them
    uint64_t duplicates = 0;  // sends answered duplicate whose id's original is in this partition
    uint64_t oldest_age_ms = 0;  // age of the oldest message not finished by the slowest group; 0 if none
    bool overloaded = false;     // depth above the queue's high watermark
    // Sums over the groups (each group counts its own deliveries).
    uint64_t delivered = 0, acked = 0, nacked = 0, redelivered = 0;
    // on_full=spill (shmq/internal/spill_protocol.hpp): messages that overflowed into
    // staging (and on to disk when the ring stayed full) since creation;
    // the backlog not yet back in the ring, of which on disk (shmqd's count).
    uint64_t spilled = 0;
    uint64_t spill_backlog = 0;
    uint64_t spill_disk_messages = 0, spill_disk_bytes = 0;
    uint64_t spill_refused = 0;  // sends answered `overloaded`: staging full
    bool spilling = false;       // new sends of this partition go through staging
    std::string spill_status;    // "ok", "disk full", "disk error"
    // Journal (options.journal): offsets below journal_floor are on disk;
    // journal_lag = tail - journal_floor; bytes of segments kept.
    uint64_t journal_floor = 0, journal_lag = 0, journal_bytes = 0;
    std::string journal_status;  // "ok", "disk full", "disk error"
};

// Approximate: lag uses the partition's tail read before this group's floor
// (off by messages sent meanwhile; 0, never negative, once the floor passed
// it); in_flight, retrying and acked come from lease words read one by one
// while consumers change them; the counters are read one by one;
// oldest_unacked_age_ms is 0 when its slot changed under the read. next >=
// floor always.
struct GroupPartitionStats {
    uint32_t partition = 0;
    uint64_t next = 0, floor = 0;
    uint64_t lag = 0;        // tail - floor - acked above the floor: published, not yet finished by this group
    uint64_t in_flight = 0;  // leased or picked entries
    uint64_t retrying = 0;   // waiting for redelivery
    // Keyed groups: messages waiting for an earlier one of their key, the
    // keys they wait on, and how long ago the oldest of them was published.
    uint64_t blocked = 0, blocked_keys = 0, oldest_blocked_age_ms = 0;
    uint32_t owner_pid = 0;  // exclusive: pid of the owning consumer, 0 if none
    uint64_t oldest_unacked_age_ms = 0;  // now - publish time of the message at floor; 0 if none
    uint64_t delivered = 0, acked = 0, nacked = 0, redelivered = 0, expired = 0, skipped = 0, dead_lettered = 0,
             dlq_blocked = 0;
};

// The group's sampled publish -> ACK histogram (layout::AckLatency).
// Approximate: buckets, count and sum_ns are read one by one while consumers
// add samples, so count may differ from the sum of the buckets.
struct AckLatencyStats {
    std::vector<uint64_t> bound_ns;  // exclusive upper bound per bucket; the last is UINT64_MAX (+Inf)
    std::vector<uint64_t> counts;    // per bucket (not cumulative)
    uint64_t count = 0, sum_ns = 0;
    // Upper bound of the bucket holding quantile q (0 < q <= 1); 0 if no samples.
    uint64_t quantile_bound_ns(double q) const;
};

// Approximate: replay_left (from the replay region, read while the group
// ACKs; never negative), member_pids, and total (the sums of `partitions`).
struct GroupStats {
    uint32_t index = 0;
    std::string name;
    GroupKind kind = GroupKind::shared;
    bool joining = false;
    // `shmq replay`: "none", "requested", "preparing" or "running"; while
    // running, journal messages of the replay not yet ACKed by the group.
    std::string replay = "none";
    uint64_t replay_left = 0;
    std::vector<uint32_t> member_pids;
    GroupPartitionStats total;  // sums (partition field unused)
    AckLatencyStats ack_latency;
    std::vector<GroupPartitionStats> partitions;
};

// One lease-table entry, read as a seqlock (its identity is consistent);
// approximate: heartbeat_age_ms, operations and partitions_owned, which its
// process keeps changing, and liveness, judged after the read.
struct ParticipantStats {
    uint32_t index = 0;
    uint32_t pid = 0;
    layout::Role role = layout::Role::none;
    std::string group;  // empty for producers
    bool at_most_once = false;
    std::string liveness;  // "alive", "dead", "unknown"
    uint64_t heartbeat_age_ms = 0;
    uint64_t attached_unix_ns = 0;
    uint64_t operations = 0;
    std::vector<uint32_t> partitions_owned;
};

// Approximate: depth (tail - head, read one after the other; clamped to
// [0, capacity]) and the counters, read one by one while consumers and
// shmqd move messages.
struct DlqStats {
    uint32_t capacity = 0;
    uint64_t depth = 0;
    uint64_t dead_lettered = 0, redriven = 0, purged = 0, blocked = 0;
    uint64_t expired_ttl = 0, expired_ttl_dropped = 0;  // message TTL: expired, and of those went nowhere
};

// A running `shmq bridge` of this queue, as it last reported
// (shmq/internal/bridge_table.hpp). Figures are the bridge process's own counts
// since it started; lag is the group's (out) or JetStream's (in).
// Approximate: every counter, read one by one while the bridge writes them.
struct BridgeStats {
    std::string direction;   // "out" or "in"
    std::string group;       // out: the group the bridge consumes as; in: empty
    std::string stream;      // the JetStream stream
    std::string consumer;    // in: the durable JetStream consumer; out: empty
    bool connected = false;  // its NATS connection is up
    uint64_t updated_age_ms = 0;  // since the bridge last wrote its figures
    // out: PubAcks saying the stream holds a message (duplicates included); publishes awaiting their PubAck; leased here,
    // not yet stored; publish errors; re-sent; PubAcks saying duplicate;
    // lag: the group's (published to the queue, not yet stored).
    // in: sent into the queue; fetched, not yet sent; 0; fetch errors and
    // terminated messages; JetStream redeliveries; sends the queue's dedup
    // window answered duplicate (by Nats-Msg-Id); lag: the stream's
    // messages not yet delivered to the consumer.
    uint64_t messages = 0, pending_acks = 0, held = 0, errors = 0, redeliveries = 0, duplicates = 0, lag = 0;
};

// Approximate: depth, in_flight, published, spilled, spill_backlog,
// spill_disk_bytes, dropped, duplicates, acked, oldest_unacked_age_ms, overloaded and the
// producer/consumer counts: sums of the racy figures below, taken at
// slightly different instants (taken_*_ns is when the reading began).
struct QueueSnapshot {
    std::string name;
    QueueOptions options;
    uint64_t epoch = 0;
    uint64_t created_unix_ns = 0;
    uint64_t region_bytes = 0;
    std::string state;  // "live", "deleted", "corrupt"
    std::string damage;  // corrupt: what shmqd's integrity check found (shmq/internal/damage.hpp); else empty
    uint64_t taken_unix_ns = 0;     // when this snapshot was read (rates divide by differences)
    uint64_t taken_mono_ns = 0;
    uint64_t depth = 0;      // sum over partitions
    uint64_t in_flight = 0;  // sum over groups and partitions
    uint64_t published = 0;
    uint64_t spilled = 0, spill_backlog = 0, spill_disk_bytes = 0;  // sums over partitions
    uint64_t dropped = 0;
    uint64_t duplicates = 0;             // sum over partitions
    // Delayed delivery (shmq/internal/delay_store.hpp): messages waiting in the
    // delay store, ms until the earliest is due (0 when overdue; none when
    // empty), and the store's counters.
    uint64_t delayed = 0;
    std::optional<uint64_t> next_due_ms;
    uint64_t delayed_added = 0, delayed_moved = 0, delayed_refused = 0;
    uint64_t acked = 0;                  // sum over groups and partitions
    uint64_t oldest_unacked_age_ms = 0;  // max over partitions
    bool overloaded = false;             // some partition is above the high watermark
    std::string overloaded_reason;       // the deepest such partition, in words; empty if not overloaded
    uint32_t consumers = 0, producers = 0;
    std::vector<PartitionStats> partitions;
    std::vector<GroupStats> groups;
    std::vector<ParticipantStats> participants;
    DlqStats dlq;
    std::vector<BridgeStats> bridges;
};

QueueSnapshot snapshot(const detail::Region& r);
// Names of the queues in /dev/shm (regions named shmq.<name>), sorted.
std::vector<std::string> list_queue_names();
// Opens a listed queue read-only without waiting for its creator (ls, top):
// null while its header is unpublished (kStateCreating: being created, or
// its creator died half-way). Throws Error when Region::open refuses it.
std::shared_ptr<detail::Region> open_listed(std::string_view name);
// The state ls and top show for a queue open_listed() answered null for.
inline constexpr const char* kStateCreating = "creating";

const char* role_name(layout::Role role);
const char* on_full_name(OnFull policy);

}  // namespace shmq::inspect
