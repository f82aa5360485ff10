#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/replay_request.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <dirent.h>

#include "shmq/internal/bridge_table.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/damage.hpp"
#include "ring/ack_latency.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::inspect {

uint64_t AckLatencyStats::quantile_bound_ns(double q) const {
    uint64_t total = 0;
    for (uint64_t c : counts) total += c;  // the buckets, not `count`: both are read racily
    if (total == 0) return 0;
    const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    for (std::size_t b = 0; b < counts.size(); ++b) {
        seen += counts[b];
        if (seen >= rank && seen > 0) return bound_ns[b];
    }
    return bound_ns.back();
}

const char* role_name(layout::Role role) {
    switch (role) {
        case layout::Role::producer: return "producer";
        case layout::Role::consumer: return "consumer";
        case layout::Role::admin: return "admin";
        default: return "none";
    }
}

const char* on_full_name(OnFull policy) {
    switch (policy) {
        case OnFull::block: return "block";
        case OnFull::reject: return "reject";
        case OnFull::spill: return "spill";
        case OnFull::drop_oldest: return "drop-oldest";
    }
    return "?";
}

namespace {

uint64_t sub_floor0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Age of the oldest committed message in [from, tail), looking at most a few
// slots past `from` (aborted ones are skipped). Racy by nature: the state is
// re-read after the publish time, and a slot that changed lap meanwhile
// counts as "none" (0) rather than a wrong age.
uint64_t oldest_age_ms(const detail::Region& r, uint32_t p, uint64_t from, uint64_t tail, uint64_t now_unix) {
    constexpr uint64_t kLook = 16;
    for (uint64_t o = from; o < tail && o < from + kLook; ++o) {
        auto& slot = r.slot(p, o);
        const uint64_t state = slot.state.load(std::memory_order_acquire);
        if (!ring::slot_is(state, o)) return 0;  // not committed yet, or already reused
        if (ring::slot_kind(state) != ring::SlotKind::committed) continue;
        // Acquire: the state re-read below cannot move before this read.
        const uint64_t published = std::atomic_ref<uint64_t>(slot.publish_unix_ns).load(std::memory_order_acquire);
        if (slot.state.load(std::memory_order_relaxed) != state) return 0;
        return sub_floor0(now_unix, published) / 1'000'000;
    }
    return 0;
}

GroupPartitionStats group_partition_stats(const detail::Region& r, uint32_t g, uint32_t p, uint64_t tail,
                                          uint64_t now_unix) {
    GroupPartitionStats s;
    const auto& gp = r.group_partition(g, p);
    s.partition = p;
    const ring::Window win = ring::lease_window(r, g, p);
    s.next = win.next;
    s.floor = win.floor;
    // Consumers publish the floor every few acks (consumer.cpp), so the
    // entries above it say what is finished: lag and the oldest age count
    // from the first unfinished offset, not from the floor.
    uint64_t acked_above_floor = 0;
    uint64_t unfinished = win.floor;  // the first offset not acked
    for (uint64_t o = win.floor; o < win.next; ++o) {
        const uint64_t w = r.lease(g, p, o).word.load(std::memory_order_relaxed);
        const bool acked = ring::lease_is(w, o) && ring::lease_kind(w) == ring::LeaseKind::acked;
        if (acked && unfinished == o) ++unfinished;
        if (!ring::lease_is(w, o)) continue;
        const auto k = ring::lease_kind(w);
        if (k == ring::LeaseKind::leased || k == ring::LeaseKind::picked) ++s.in_flight;
        if (k == ring::LeaseKind::retry && ring::retry_reason(w) != ring::RetryReason::blocked) ++s.retrying;
        if (k == ring::LeaseKind::acked) ++acked_above_floor;
    }
    s.lag = sub_floor0(sub_floor0(tail, win.floor), acked_above_floor);
    s.oldest_unacked_age_ms = oldest_age_ms(r, p, unfinished, tail, now_unix);
    const uint64_t owner = gp.owner.load(std::memory_order_relaxed);
    const uint32_t id = layout::token_id(owner);
    if (id != 0 && r.valid_participant(id - 1)) s.owner_pid = r.participant(id - 1).pid.load(std::memory_order_relaxed);
    s.delivered = gp.delivered.load(std::memory_order_relaxed);
    s.skipped = gp.skipped.load(std::memory_order_relaxed);
    s.dead_lettered = gp.dead_lettered.load(std::memory_order_relaxed);
    // Derived (no counter on the ack path): everything below the floor was
    // finished, by an ack unless it was skipped or dead-lettered.
    const uint64_t finished = sub_floor0(win.floor, gp.start.load(std::memory_order_relaxed));
    s.acked = sub_floor0(finished, s.skipped + s.dead_lettered) + acked_above_floor;
    s.nacked = gp.nacked.load(std::memory_order_relaxed);
    s.redelivered = gp.redelivered.load(std::memory_order_relaxed);
    s.expired = gp.expired.load(std::memory_order_relaxed);
    s.dlq_blocked = gp.dlq_blocked.load(std::memory_order_relaxed);
    if (layout::group_kind(r.group(g).state.load(std::memory_order_acquire)) == static_cast<uint8_t>(GroupKind::keyed)) {
        const ring::KeyedBlocked b = ring::keyed_blocked(r, g, p);
        s.blocked = b.messages;
        s.blocked_keys = b.keys;
        if (b.oldest_publish_unix_ns != 0) s.oldest_blocked_age_ms = sub_floor0(now_unix, b.oldest_publish_unix_ns) / 1'000'000;
    }
    return s;
}

AckLatencyStats ack_latency_stats(const layout::AckLatency& h) {
    AckLatencyStats s;
    for (uint32_t b = 0; b < layout::kAckLatencyBuckets; ++b) {
        s.bound_ns.push_back(ring::ack_latency_bound_ns(b));
        s.counts.push_back(h.buckets[b].load(std::memory_order_relaxed));
    }
    s.count = h.count.load(std::memory_order_relaxed);
    s.sum_ns = h.sum_ns.load(std::memory_order_relaxed);
    return s;
}

void add_into(GroupPartitionStats& total, const GroupPartitionStats& s) {
    total.lag += s.lag;
    total.oldest_unacked_age_ms = std::max(total.oldest_unacked_age_ms, s.oldest_unacked_age_ms);
    total.in_flight += s.in_flight;
    total.retrying += s.retrying;
    total.blocked += s.blocked;
    total.blocked_keys += s.blocked_keys;
    total.oldest_blocked_age_ms = std::max(total.oldest_blocked_age_ms, s.oldest_blocked_age_ms);
    total.delivered += s.delivered;
    total.acked += s.acked;
    total.nacked += s.nacked;
    total.redelivered += s.redelivered;
    total.expired += s.expired;
    total.skipped += s.skipped;
    total.dead_lettered += s.dead_lettered;
    total.dlq_blocked += s.dlq_blocked;
}

}  // namespace

QueueSnapshot snapshot(const detail::Region& r) {
    QueueSnapshot q;
    q.name = r.name();
    q.options = r.options();
    q.epoch = r.epoch();
    q.created_unix_ns = r.header().created_unix_ns;
    q.region_bytes = r.size();
    q.taken_unix_ns = sys::unix_ns();
    if (r.delay_capacity() != 0) {
        const auto d = detail::delay::summary_guess(r);
        q.delayed = d.count;
        if (d.next_due_unix_ns != layout::kNoDue)
            q.next_due_ms = d.next_due_unix_ns > q.taken_unix_ns ? (d.next_due_unix_ns - q.taken_unix_ns + 999'999) / 1'000'000 : 0;
        const auto& h = r.delay_header();
        q.delayed_added = h.added.load(std::memory_order_relaxed);
        q.delayed_moved = h.moved.load(std::memory_order_relaxed);
        q.delayed_refused = h.refused.load(std::memory_order_relaxed);
    }
    q.taken_mono_ns = sys::monotonic_ns();
    switch (static_cast<layout::Lifecycle>(r.header().lifecycle.load(std::memory_order_relaxed))) {
        case layout::Lifecycle::live: q.state = "live"; break;
        case layout::Lifecycle::deleted: q.state = "deleted"; break;
        case layout::Lifecycle::region_removed: q.state = "deleted"; break;
        default: q.state = "corrupt"; break;
    }
    if (q.state == "corrupt") q.damage = detail::damage_reason(r);
    std::vector<uint64_t> tails(r.partitions());
    for (uint32_t p = 0; p < r.partitions(); ++p) {
        const auto& pc = r.partition(p);
        PartitionStats s;
        s.partition = p;
        s.head = pc.head.load(std::memory_order_relaxed);
        s.tail = std::max(ring::load_tail(pc.tail, std::memory_order_relaxed), s.head);
        s.aborted = pc.aborted.load(std::memory_order_relaxed);
        s.published = sub_floor0(s.tail, s.aborted);
        s.rejected = pc.rejected.load(std::memory_order_relaxed);
        s.timeouts = pc.timeouts.load(std::memory_order_relaxed);
        s.dropped = pc.dropped.load(std::memory_order_relaxed);
        s.duplicates = pc.duplicates.load(std::memory_order_relaxed);
        s.journal_status = "ok";
        if (r.params().journal != 0) {
            s.journal_floor = pc.journal_floor.load(std::memory_order_relaxed);
            s.journal_lag = sub_floor0(s.tail, s.journal_floor);
            s.journal_bytes = pc.journal_bytes.load(std::memory_order_relaxed);
            const auto js = pc.journal_status.load(std::memory_order_relaxed);
            if (js != 0) s.journal_status = js == 1 ? "disk full" : "disk error";
        }
        q.dropped += s.dropped;
        q.duplicates += s.duplicates;
        s.spill_status = "ok";
        if (r.spill_capacity() != 0) {
            const uint64_t spill_tail = pc.spill_tail.load(std::memory_order_acquire);
            s.spilled = layout::spill_seq(spill_tail);
            s.spilling = layout::spill_active(spill_tail);
            s.spill_backlog = sub_floor0(s.spilled, pc.spill_refilled.load(std::memory_order_relaxed));
            s.spill_disk_messages = pc.spill_disk_messages.load(std::memory_order_relaxed);
            s.spill_disk_bytes = pc.spill_disk_bytes.load(std::memory_order_relaxed);
            s.spill_refused = pc.spill_refused.load(std::memory_order_relaxed);
            switch (static_cast<layout::SpillStatus>(pc.spill_status.load(std::memory_order_relaxed))) {
                case layout::SpillStatus::ok: break;
                case layout::SpillStatus::disk_full: s.spill_status = "disk full"; break;
                default: s.spill_status = "disk error"; break;
            }
            q.spilled += s.spilled;
            q.spill_backlog += s.spill_backlog;
            q.spill_disk_bytes += s.spill_disk_bytes;
        }
        tails[p] = s.tail;
        q.partitions.push_back(s);
    }
    std::vector<uint64_t> slowest_floor(r.partitions(), UINT64_MAX);
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        const uint64_t state = r.group(g).state.load(std::memory_order_acquire);
        if (!ring::group_holds(state)) continue;
        GroupStats gs;
        gs.index = g;
        gs.name = detail::group_name(r, g);
        gs.kind = static_cast<GroupKind>(layout::group_kind(state));
        gs.joining = layout::group_status(state) == layout::kGroupJoining;
        gs.ack_latency = ack_latency_stats(r.group(g).ack_latency);
        switch (static_cast<layout::ReplayState>(r.group(g).replay_state.load(std::memory_order_acquire))) {
            case layout::ReplayState::none: break;
            case layout::ReplayState::requested: gs.replay = "requested"; break;
            case layout::ReplayState::preparing: gs.replay = "preparing"; break;
            case layout::ReplayState::running: {
                gs.replay = "running";
                const auto progress = detail::replay_progress(r, g);
                gs.replay_left = progress.total - progress.acked;
                break;
            }
            default: gs.replay = "unknown"; break;
        }
        for (uint32_t p = 0; p < r.partitions(); ++p) {
            auto s = group_partition_stats(r, g, p, tails[p], q.taken_unix_ns);
            slowest_floor[p] = std::min(slowest_floor[p], s.floor);
            auto& part = q.partitions[p];
            part.delivered += s.delivered;
            part.acked += s.acked;
            part.nacked += s.nacked;
            part.redelivered += s.redelivered;
            add_into(gs.total, s);
            gs.partitions.push_back(s);
        }
        q.in_flight += gs.total.in_flight;
        q.groups.push_back(std::move(gs));
    }
    uint32_t deepest = 0;  // the deepest overloaded partition
    for (auto& s : q.partitions) {
        const uint64_t base = slowest_floor[s.partition] == UINT64_MAX ? s.head : slowest_floor[s.partition];
        s.depth = sub_floor0(s.tail, base);
        s.oldest_age_ms = oldest_age_ms(r, s.partition, base, s.tail, q.taken_unix_ns);
        q.depth += s.depth;
        q.published += s.published;
        q.acked += s.acked;
        q.oldest_unacked_age_ms = std::max(q.oldest_unacked_age_ms, s.oldest_age_ms);
        const uint64_t pct = q.options.high_watermark_pct;
        s.overloaded = pct > 0 && s.depth * 100 > pct * q.options.capacity;
        if (s.overloaded && (!q.overloaded || s.depth > q.partitions[deepest].depth)) deepest = s.partition;
        q.overloaded = q.overloaded || s.overloaded;
    }
    if (q.overloaded) {
        const auto& p = q.partitions[deepest];
        q.overloaded_reason = "partition " + std::to_string(p.partition) + " holds " + std::to_string(p.depth) + " of " +
                              std::to_string(q.options.capacity) + " slots, above the high watermark of " +
                              std::to_string(q.options.high_watermark_pct) + "%";
    }
    const uint64_t now = sys::coarse_monotonic_ns();
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        detail::ParticipantView v{};
        if (!detail::read_participant(r, i, v)) continue;
        ParticipantStats ps;
        ps.index = i;
        ps.pid = v.pid;
        ps.role = v.role;
        ps.at_most_once = (v.flags & layout::kAtMostOnce) != 0;
        if (v.role == layout::Role::consumer && r.valid_group(v.group)) {
            for (const auto& g : q.groups)
                if (g.index == v.group) ps.group = g.name;
        }
        switch (detail::entry_liveness(r, i)) {
            case detail::Liveness::alive: ps.liveness = "alive"; break;
            case detail::Liveness::dead: ps.liveness = "dead"; break;
            case detail::Liveness::gone: continue;  // left while we looked
        }
        ps.heartbeat_age_ms = sub_floor0(now, v.heartbeat_ns) / 1'000'000;
        ps.attached_unix_ns = v.attached_unix_ns;
        ps.operations = v.operations;
        const uint64_t token = layout::owner_token(i + 1, layout::participant_gen(v.state));
        if (v.role == layout::Role::consumer && r.valid_group(v.group))
            for (uint32_t p = 0; p < r.partitions(); ++p)
                if (r.group_partition(v.group, p).owner.load(std::memory_order_relaxed) == token)
                    ps.partitions_owned.push_back(p);
        if (v.role == layout::Role::consumer) {
            ++q.consumers;
            for (auto& g : q.groups)
                if (g.index == v.group) g.member_pids.push_back(v.pid);
        }
        if (v.role == layout::Role::producer) ++q.producers;
        q.participants.push_back(std::move(ps));
    }
    const auto& dlq = r.dlq();
    q.dlq.capacity = r.params().dlq_capacity;
    const uint64_t dlq_head = dlq.head.load(std::memory_order_relaxed);
    q.dlq.depth = std::min<uint64_t>(sub_floor0(dlq.tail.load(std::memory_order_relaxed), dlq_head), q.dlq.capacity);
    q.dlq.dead_lettered = dlq.dead_lettered.load(std::memory_order_relaxed);
    q.dlq.redriven = dlq.redriven.load(std::memory_order_relaxed);
    q.dlq.purged = dlq.purged.load(std::memory_order_relaxed);
    q.dlq.blocked = dlq.blocked.load(std::memory_order_relaxed);
    q.dlq.expired_ttl = dlq.expired_ttl.load(std::memory_order_relaxed);
    q.dlq.expired_ttl_dropped = dlq.expired_ttl_dropped.load(std::memory_order_relaxed);
    for (const auto& v : detail::read_bridges(r)) {
        using C = layout::BridgeCounter;
        BridgeStats b;
        b.stream = v.stream;
        b.connected = v.connected;
        const uint64_t wall = q.taken_unix_ns;
        b.updated_age_ms = v.updated_unix_ns != 0 && wall > v.updated_unix_ns ? (wall - v.updated_unix_ns) / 1000000 : 0;
        b.messages = v.counter(C::messages);
        b.pending_acks = v.counter(C::pending_acks);
        b.held = v.counter(C::held);
        b.errors = v.counter(C::errors);
        b.redeliveries = v.counter(C::redeliveries);
        b.duplicates = v.counter(C::duplicates);
        if (v.direction == layout::BridgeDirection::out) {
            b.direction = "out";
            auto g = std::find_if(q.groups.begin(), q.groups.end(), [&](const GroupStats& s) { return s.index == v.group; });
            if (g == q.groups.end()) continue;  // deleted while the bridge runs: nothing to report against
            b.group = g->name;
            b.lag = g->total.lag;
        } else {
            b.direction = "in";
            b.consumer = v.consumer;
            b.lag = v.counter(C::lag);
        }
        q.bridges.push_back(std::move(b));
    }
    return q;
}

std::vector<std::string> list_queue_names() {
    std::vector<std::string> names;
    DIR* dir = ::opendir(std::string(detail::kShmDir).c_str());
    if (dir == nullptr) return names;
    while (dirent* e = ::readdir(dir)) {
        std::string_view n = e->d_name;
        if (n.substr(0, detail::kRegionPrefix.size()) != detail::kRegionPrefix) continue;
        std::string_view queue = n.substr(detail::kRegionPrefix.size());
        if (!detail::check_name(queue, "queue")) names.emplace_back(queue);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace shmq::inspect
