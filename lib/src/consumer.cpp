// Consumer and Message: group membership, partition ownership (exclusive
// groups), the receive loop (spin briefly, then sleep on the doorbell), and
// settling deliveries.
#include <algorithm>

#include "consumer_core.hpp"
#include "shmq/internal/attributes.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/tx_resolver.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/replay_request.hpp"
#include "ring/ack_latency.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq {

namespace detail {

namespace {
constexpr int kSpinBeforeSleep = 2048;
constexpr uint64_t kMembershipCheckNs = 1'000'000'000;  // members' liveness, without shmqd
constexpr uint64_t kHandoffRetryNs = 10'000'000;        // waiting for a partition's previous owner
constexpr int64_t kKeyedBusyRetryNs = 200'000;          // a keyed lane lock was taken when we looked
// A partition this member loses is handed over once it has settled what it
// holds there, or after this long; the new owner then revokes the rest.
constexpr uint64_t kHandoffGraceNs = 200'000'000;
constexpr uint64_t kMaxScanIntervalNs = 250'000'000;
constexpr uint32_t kMaintenanceEvery = 256;  // receives between clock reads while messages flow
constexpr std::size_t kRunMax = 64;  // receive_batch: offsets leased per ring::deliver_run
constexpr uint64_t kFloorEvery = 16;         // acks between floor updates (a power of two; less on small rings)
}  // namespace

ConsumerCore::ConsumerCore(std::shared_ptr<Region> r, std::string_view group_name, const ConsumerOptions& o)
    : region(std::move(r)), options(o) {
    if (options.max_in_flight == 0) throw Error(Errc::invalid_argument, "max_in_flight must be at least 1");
    if (auto err = check_name(group_name, "group")) throw Error(Errc::invalid_argument, *err);
    me = attach_participant(*region, layout::Role::consumer, layout::kNoGroup,
                            options.at_most_once ? layout::kAtMostOnce : 0);
    try {
        group = join_group(*region, group_name, options.kind, options.start, me);
    } catch (...) {
        detach_participant(*region, me);
        throw;
    }
    // seq_cst, then replay_state seq_cst: the handshake with request_replay (layout.hpp).
    region->participant(me.index).group.store(static_cast<uint16_t>(group.index), std::memory_order_seq_cst);
    (void)region->group(group.index).replay_state.load(std::memory_order_seq_cst);
    membership_changed(*region, group.index);
    replay_object = replay_object_name(region->name(), group_name);
    const uint64_t lease_ns = uint64_t{region->params().lease_ms} * 1'000'000;
    // drop_oldest: producers may pass over entries too (ring/drop_oldest.hpp),
    // so even an exclusive owner must CAS its entries, never store them.
    // Deadlines from the coarse clock: + its margin, never early.
    ctx = ring::DeliveryContext{region.get(), lease_ns + sys::coarse_margin_ns(), group.index, me.id(), options.at_most_once,
                                group.kind == GroupKind::exclusive &&
                                    static_cast<OnFull>(region->params().on_full) != OnFull::drop_oldest,
                                group.kind == GroupKind::exclusive};
    scan_interval_ns = std::clamp<uint64_t>(lease_ns / 4, 1'000'000, kMaxScanIntervalNs);
    if (const uint64_t ttl_ns = uint64_t{region->params().message_ttl_ms} * 1'000'000; ttl_ns != 0)  // expiry looks
        scan_interval_ns = std::min(scan_interval_ns, std::max<uint64_t>(ttl_ns / 4, 1'000'000));
    if (region->delay_capacity() != 0) mover = std::make_unique<delay::Mover>(region);
    max_message = region->params().max_message;
    // Keyed groups give a pickup up with the CAS: their finish must be an
    // RMW (shmq/internal/keyed_lane.hpp (K4)).
    own_pickups = options.at_most_once && static_cast<OnFull>(region->params().on_full) != OnFull::drop_oldest &&
                  group.kind != GroupKind::keyed;
    floor_every = std::min<uint64_t>(kFloorEvery, ring::release_batch(region->capacity()));
    fast_acks = ctx.exclusive && !options.at_most_once;
    acking = &region->participant(me.index).acking;
    for (uint32_t p = 0; p < region->partitions(); ++p) views.push_back(ring::make_view(*region, p, group.index));
    if (group.kind != GroupKind::exclusive)
        for (uint32_t p = 0; p < region->partitions(); ++p) partitions.push_back(p);
    if (group.kind == GroupKind::keyed) {
        const int32_t lane = ring::group_keyed_lane(*region, group.index);
        if (lane < 0) {
            detach_participant(*region, me);
            throw Error(Errc::region_corrupt, "keyed group '" + std::string(group_name) + "' of queue '" +
                                                  region->name() + "' names no valid key lane; delete the group");
        }
        keyed = true;
        for (uint32_t p = 0; p < region->partitions(); ++p)
            lanes.push_back(ring::keyed_lane(*region, static_cast<uint32_t>(lane), p));
        suspects.resize(region->partitions());
    }
}

ConsumerCore::~ConsumerCore() {
    for (const auto& v : views) ring::advance_floor(v);  // what the last acks did not publish
    if (replay != nullptr) replay->release_handle();
    give_up_partitions();
    detach_participant(*region, me);
    membership_changed(*region, group.index);
}

void ConsumerCore::give_up(uint32_t p) noexcept {
    uint64_t mine = me.token();
    // acq_rel: our work on p happens before the next owner's acquiring CAS.
    region->group_partition(group.index, p).owner.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
}

void ConsumerCore::give_up_partitions() noexcept {
    if (group.kind != GroupKind::exclusive) return;
    for (const Releasing& h : releasing) give_up(h.partition);
    for (uint32_t p : partitions) give_up(p);
    releasing.clear();
    partitions.clear();
}

void ConsumerCore::leave_group() noexcept {
    if (replay != nullptr) replay->leave_group();
    for (uint32_t p : partitions) ring::advance_floor(views[p]);  // what the last acks did not publish
    if (group.kind != GroupKind::exclusive || left_group) return;
    left_group = true;
    give_up_partitions();
    Region& r = *region;
    // No longer a member: the others divide the partitions without us. Our
    // entry stays attached while messages are unsettled; their late acks get
    // lease_lost once a new owner took their partition over.
    r.participant(me.index).group.store(static_cast<uint16_t>(layout::kNoGroup), std::memory_order_seq_cst);
    membership_changed(r, group.index);
}

void ConsumerCore::rebalance(uint64_t now) noexcept {
    if (left_group) return;
    Region& r = *region;
    const uint32_t gen = r.group(group.index).member_gen.load(std::memory_order_acquire);
    if (gen == seen_member_gen && now < next_membership_ns) return;
    const bool changed = gen != seen_member_gen;
    seen_member_gen = gen;
    std::vector<uint32_t> members;
    try {
        members = group_members(r, group.index);
    } catch (...) {
        return;  // allocation failure: try again next time
    }
    if (!changed) {
        // Periodic: a member whose process died without shmqd watching still
        // holds partitions. Reap it; that bumps the generation for everyone.
        for (uint32_t m : members)
            if (m != me.index && entry_liveness(r, m) == Liveness::dead) reap_participant(r, m, me.id());
    }
    // Partition p goes to the member of rank p % n (members sorted by entry index).
    const auto it = std::find(members.begin(), members.end(), me.index);
    const uint32_t n = static_cast<uint32_t>(members.size());
    const uint32_t rank = static_cast<uint32_t>(it - members.begin());
    auto assigned = [&](uint32_t p) { return it != members.end() && p % n == rank; };

    // A partition that is no longer ours: deliver nothing more from it, and
    // hand it over (clear the owner) once what we hold there is settled, or
    // after kHandoffGraceNs: its new owner revokes what we still hold then.
    std::erase_if(partitions, [&](uint32_t p) {
        if (assigned(p)) return false;
        releasing.push_back({p, now + kHandoffGraceNs});
        return true;
    });
    bool released = false;
    std::erase_if(releasing, [&](const Releasing& h) {
        if (assigned(h.partition)) {
            partitions.push_back(h.partition);  // ours again, and still owned: nothing to take over
            return true;
        }
        if (now < h.deadline && holds_leases(h.partition)) return false;
        give_up(h.partition);
        released = true;
        return true;
    });
    wanted.clear();
    for (uint32_t p = 0; p < r.partitions(); ++p)
        if (assigned(p) && std::find(partitions.begin(), partitions.end(), p) == partitions.end()) wanted.push_back(p);
    std::erase_if(wanted, [&](uint32_t p) {
        auto& owner = r.group_partition(group.index, p).owner;
        uint64_t cur = owner.load(std::memory_order_acquire);
        if (cur != 0 && cur != me.token()) {
            Liveness l = participant_liveness(r, cur);
            if (l == Liveness::dead) reap_participant(r, layout::token_id(cur) - 1, me.id());
            if (l == Liveness::alive) return false;  // it will let go when it sees the new generation
            if (l == Liveness::gone) owner.compare_exchange_strong(cur, 0, std::memory_order_acq_rel);
            cur = owner.load(std::memory_order_acquire);
        }
        // acquire: we see the previous owner's work on this partition.
        if (cur == 0 && !owner.compare_exchange_strong(cur, me.token(), std::memory_order_acq_rel)) return false;
        if (cur != 0 && cur != me.token()) return false;
        // Before anything newer: what the previous owner still holds comes
        // back to us first, in offset order (shmq/internal/delivery.hpp (6)).
        const ring::TakeOver taken = ring::take_over(ctx, p);
        if (taken.revoked != 0) force_retry_scan = true;
        if (!taken.complete) {
            give_up(p);  // a holder is inside a fast ACK: try again in kHandoffRetryNs
            return false;
        }
        partitions.push_back(p);
        return true;
    });
    std::sort(partitions.begin(), partitions.end());
    if (released) wake_consumers(r);
    next_membership_ns = now + (wanted.empty() && releasing.empty() ? kMembershipCheckNs : kHandoffRetryNs);
}

bool ConsumerCore::holds_leases(uint32_t p) const noexcept {
    const ring::Window win = ring::lease_window(*region, group.index, p);
    for (uint64_t o = win.floor; o < win.next; ++o) {
        const uint64_t w = views[p].lease(o).word.load(std::memory_order_relaxed);
        if (ring::lease_kind(w) == ring::LeaseKind::leased && ring::lease_owner(w) == me.id() &&
            (ring::lease_is(w, o) || ring::lease_frozen_is(w, o)))  // frozen: a transaction's commit holds it
            return true;
    }
    return false;
}

bool ConsumerCore::replay_holds(uint32_t p) const noexcept {
    if (replay == nullptr) return false;
    const ring::PartitionView& v = replay->views[p];
    return v.cursors->floor.load(std::memory_order_acquire) < v.control->replay_end.load(std::memory_order_relaxed);
}

bool ConsumerCore::replay_ready() noexcept {
    const auto state =
        static_cast<layout::ReplayState>(region->group(group.index).replay_state.load(std::memory_order_acquire));
    if (state == layout::ReplayState::none) {
        if (replay != nullptr) {
            // shmqd saw every partition acked to its end: done with it.
            bool holds = false;
            for (uint32_t p = 0; p < region->partitions(); ++p) holds |= replay_holds(p);
            if (!holds) std::exchange(replay, nullptr)->release_handle();
        }
        return true;
    }
    if (state != layout::ReplayState::running) return false;  // being prepared: deliver nothing yet
    if (replay != nullptr) return true;
    const uint64_t now = sys::coarse_monotonic_ns();
    if (now < next_replay_open_ns) return false;
    next_replay_open_ns = now + 10'000'000;
    try {
        auto rr = Region::open(region->name(), Access::read_write, false, replay_object);
        if (rr->partitions() != region->partitions()) return false;
        ConsumerOptions o = options;
        o.start = StartAt::oldest;
        replay = new ConsumerCore(std::move(rr), group_name(*region, group.index), o);
    } catch (...) {
        return false;  // not there yet (or gone: the state will say so)
    }
    return true;
}

int64_t ConsumerCore::delay_slice_ns(int64_t slice_ns) const noexcept {
    const uint64_t due = delay::next_due_guess(*region);
    if (mover == nullptr || due == layout::kNoDue || delay::daemon_serving(*region)) return slice_ns;
    const uint64_t now = sys::unix_ns();
    const uint64_t wait = due > now ? due - now + 100'000 : delay::kBlockedRetryNs;  // just past it: never early
    return std::min<int64_t>(slice_ns, static_cast<int64_t>(std::min<uint64_t>(wait, INT64_MAX)));
}

void ConsumerCore::maintenance(uint64_t now) noexcept {
    calls_since_maintenance = 0;
    if (replay != nullptr) replay->maintenance(now);
    if (mover != nullptr) {
        const uint64_t unix_now = sys::unix_ns();
        // Also when nothing is due: it detaches its producer when the next is far.
        if (delay::next_due_guess(*region) > unix_now || delay::peer_should_move(*region, unix_now))
            (void)mover->run(unix_now, false);
    }
    if (group.kind == GroupKind::exclusive) rebalance(now);
    for (uint32_t p : partitions) ring::advance_floor(views[p]);  // acks that did not publish it
    if (now < next_scan_ns) return;
    next_scan_ns = now + scan_interval_ns;
    force_retry_scan = true;
    Region& r = *region;
    const uint64_t now_unix = ring::queue_may_expire(r) ? sys::coarse_unix_ns() : 0;
    for (uint32_t p : partitions) {
        ring::expire_leases(r, group.index, p, now, me.id());
        // Expired messages, for every group (expiry.hpp): without shmqd, consumers do it.
        if (now_unix != 0) ring::expire_partition(r, p, now_unix, now, me.id());
        // Finishes made without the lane (DLQ moves, frozen ACKs, a finisher killed).
        if (keyed) ring::keyed_repair(r, views[p], lanes[p], me.token(), suspects[p]);
        // A claim at our cursor whose producer died would stall us: reap it.
        // A transaction's output there waits for its decision: a late
        // owner's is decided now (shmq/internal/tx_resolver.hpp).
        const uint64_t o = views[p].cursors->next.load(std::memory_order_acquire);
        const uint32_t claimer = ring::open_claimer(views[p].ring, o);
        if (claimer != 0 && entry_liveness(r, claimer - 1) == Liveness::dead)
            reap_participant(r, claimer - 1, me.id());
        else if (claimer != 0 && ring::open_claim_prepared(views[p].ring, o))
            (void)tx::settle_prepared(r, views[p].ring, o, claimer, now);
    }
    tx::resolve_late(r, now, me.id());  // transactions of late owners: their frozen inputs, their outputs
    auto& entry = r.participant(me.index);
    entry.heartbeat_ns.store(now, std::memory_order_relaxed);
    entry.operations.fetch_add(std::exchange(delivered_since_scan, 0), std::memory_order_relaxed);
}

bool ConsumerCore::try_once(Message& out, uint64_t now, bool take_ref) noexcept {
    Region& r = *region;
    // A membership change must be acted on at once (a handoff waits for it),
    // and so must a partition we are handing over.
    if (group.kind == GroupKind::exclusive &&
        (r.group(group.index).member_gen.load(std::memory_order_relaxed) != seen_member_gen || !releasing.empty()))
        rebalance(sys::coarse_monotonic_ns());
    // The replay first (its partitions are owned apart from the ring's).
    // acquire: pairs with shmqd's release of the state after its rewind.
    if (replay != nullptr || r.group(group.index).replay_state.load(std::memory_order_acquire) != 0) {
        if (!replay_ready()) return false;
        if (replay != nullptr && replay->in_flight() < options.max_in_flight &&
            replay->try_once(out, now, take_ref))
            return true;
    }
    const uint32_t n = static_cast<uint32_t>(partitions.size());
    if (n == 0) return false;
    keyed_busy = false;
    ring::Delivered d{};
    if (round_robin >= n) round_robin = 0;
    // Redeliveries first: in an exclusive group they are the oldest offsets.
    // The clock is the coarse one (~6 ns; the precise one, ~23 ns a call,
    // cost 20% of ack-each throughput): ctx.lease_ns adds its margin.
    for (uint32_t k = 0, i = round_robin; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
        const uint32_t p = partitions[i];
        if (!force_retry_scan && views[p].cursors->retry_pending.load(std::memory_order_relaxed) == 0) continue;
        if (replay_holds(p)) continue;
        if (now == 0) now = sys::coarse_monotonic_ns();
        if (ring::deliver_retry(ctx, p, now, force_retry_scan, d) == ring::RetryScan::delivered) {
            fill(out, p, d, take_ref);
            return true;
        }
    }
    force_retry_scan = false;
    for (uint32_t k = 0, i = round_robin; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
        const uint32_t p = partitions[i];
        if (replay_holds(p)) continue;
        // Ordered: a retry still waiting (the scan above left it) holds back
        // the partition. The hint shares `next`'s line: no extra miss.
        if (ctx.ordered && views[p].cursors->retry_pending.load(std::memory_order_relaxed) != 0) continue;
        // The lease's start; an at-most-once pickup never expires: no clock.
        // 0: deliver_fresh reads it once it has something to deliver.
        if (now == 0 && options.at_most_once) now = 1;
        if (keyed) {
            ring::KeyedDelivery kd{};
            if (ring::deliver_keyed(ctx, views[p], lanes[p], now, me.token(), &d, 1, kd) != 0) {
                round_robin = i + 1;
                fill(out, p, d, take_ref);
                return true;
            }
            keyed_busy |= kd == ring::KeyedDelivery::busy;
            continue;
        }
        if (ring::deliver_fresh(ctx, views[p], now, d)) {
            round_robin = i + 1;  // fairness across partitions
            fill(out, p, d, take_ref);
            return true;
        }
    }
    return false;
}

void ConsumerCore::fill(Message& m, uint32_t p, const ring::Delivered& d, bool take_ref) noexcept {
    const ring::PartitionView& v = views[p];
    const auto& slot = v.slot(d.offset);
    // Lengths come from shared memory: clamp to the slot's real areas.
    m.size_ = std::min<uint32_t>(slot.payload_len, max_message);
    m.key_size_ = std::min<uint32_t>(slot.key_len, kMaxKeyBytes);
    m.data_ = v.payload(d.offset);
    m.key_ = reinterpret_cast<const char*>(v.key(d.offset));
    m.attrs_ = nullptr;
    m.attrs_count_ = 0;
    m.attrs_malformed_ = false;
    if ((slot.flags & layout::kSlotAttributes) != 0) [[unlikely]] fill_attributes(m);
    m.partition_ = p;
    m.offset_ = d.offset;
    m.lease_ = d.word;
    m.revocations_ = d.revocations;
    m.deliveries_ = d.deliveries;
    m.publish_unix_ns_ = slot.publish_unix_ns;
    m.settled_ = false;
    m.core_ = this;
    if (take_ref) take_refs(1);
    ++delivered_since_scan;
}

void ConsumerCore::fill_attributes(Message& m) noexcept {
    // m.size_ is payload_len clamped to max_message: parse() stays within it.
    attrs::View v;
    if (!attrs::parse({m.data_, m.size_}, v)) {
        m.attrs_malformed_ = true;  // reported, never read: the bytes stay the payload, as stored
        return;
    }
    m.attrs_ = v.block;
    m.attrs_len_ = v.block_len;
    m.attrs_rk_len_ = v.routing_key_len;
    // The count, and bit 7 when a TTL comes before the routing key (as stored).
    m.attrs_count_ = static_cast<uint8_t>(v.header_count | (v.ttl_ms != 0 ? layout::kAttributeHasTtl : 0));
    m.data_ += v.block_len;
    m.size_ -= v.block_len;
}

BatchResult ConsumerCore::receive_batch(std::span<Message> out, Millis timeout) noexcept {
    if (out.empty()) return {};
    for (auto& m : out)
        if (!m.settled_) (void)m.nack();  // documented: what the caller left unsettled goes back
    auto first = receive(timeout);
    if (!first) return {0, first.status()};
    out[0] = std::move(first.value());
    std::size_t n = 1;
    // The rest: only what is ready, within the prefetch limit, no waiting;
    // their leases start with this one clock read (after the call began).
    // Their references on this core are taken with one RMW at the end (the
    // handle's keeps the core alive meanwhile); a replay's take their own.
    const uint64_t now = options.at_most_once ? 1 : sys::coarse_monotonic_ns();  // a pickup never expires
    uint32_t mine = 0;
    const int64_t held = 1 + in_flight();  // as the count was: the handle's reference and the messages
    // An exclusive owner first takes what follows in the first message's
    // partition in runs (ring::deliver_run: stores, `next` once per run),
    // unless a retry or a replay has a say there.
    if (ctx.exclusive && replay == nullptr && out[0].core_ == this && !force_retry_scan) {
        const uint32_t p = out[0].partition_;
        const ring::PartitionView& v = views[p];
        ring::Delivered run[kRunMax];
        while (n < out.size() && held + mine <= options.max_in_flight &&
               v.cursors->retry_pending.load(std::memory_order_relaxed) == 0) {
            const auto want = static_cast<uint32_t>(std::min<std::size_t>(
                {out.size() - n, kRunMax, std::size_t{options.max_in_flight} + 1 - held - mine}));
            const uint32_t got = ring::deliver_run(ctx, v, now, run, want);
            for (uint32_t k = 0; k < got; ++k) fill(out[n++], p, run[k], false);
            mine += got;
            if (got < want) break;
        }
    }
    // A keyed group takes what follows in runs too, each under one hold of
    // the partition's lane lock (ring::deliver_keyed).
    if (keyed && replay == nullptr && out[0].core_ == this) {
        ring::Delivered run[kRunMax];
        for (uint32_t k = 0, i = out[0].partition_; k < partitions.size(); ++k, i = i + 1 == partitions.size() ? 0 : i + 1) {
            if (n == out.size() || held + mine > options.max_in_flight) break;
            const auto want = static_cast<uint32_t>(std::min<std::size_t>(
                {out.size() - n, kRunMax, std::size_t{options.max_in_flight} + 1 - held - mine}));
            ring::KeyedDelivery how{};
            const uint32_t got = ring::deliver_keyed(ctx, views[i], lanes[i], now, me.token(), run, want, how);
            for (uint32_t j = 0; j < got; ++j) fill(out[n++], i, run[j], false);
            mine += got;
        }
    }
    while (n < out.size() && held + mine <= options.max_in_flight && try_once(out[n], now, false)) {
        if (out[n].core_ == this) ++mine;
        else out[n].core_->take_refs(1);  // a replay's (try_once took none)
        ++n;
    }
    if (mine != 0) take_refs(mine);
    calls_since_maintenance += static_cast<uint32_t>(n - 1);
    return {n, Errc::ok};
}

Status ConsumerCore::settle_ack(Message& m) noexcept {
    const ring::PartitionView& v = views[m.partition_];
    // The floor is published every floor_every acks, or at once when this
    // ack catches the group up while a producer sleeps for room. Writing it
    // per ack would pull the line away from producers reading it for room
    // (and a consumer that receives and acks one at a time is always caught
    // up). What lags is published by maintenance, which runs whenever a
    // receive finds nothing, and when the consumer leaves.
    const bool advance = (m.offset_ & (floor_every - 1)) == floor_every - 1 ||
                         (m.offset_ + 1 >= v.cursors->next.load(std::memory_order_relaxed) &&
                          v.control->space_waiters.load(std::memory_order_relaxed) != 0);
    auto rc = ring::SettleResult::ok;
    if (own_pickups)
        ring::release_own_pickup(v, m.offset_, advance);
    else if (fast_acks && on_fast_thread())
        rc = fast_ack(v, m, advance);
    else
        rc = ring::ack(v, m.offset_, m.lease_, advance);
    if (rc == ring::SettleResult::ok && ring::ack_latency_sampled(m.offset_))
        ring::record_ack_latency(region->group(group.index).ack_latency, m.publish_unix_ns_);
    if (rc == ring::SettleResult::ok) finished(m.partition_, m.offset_);
    release();
    return rc == ring::SettleResult::ok ? Status(Errc::ok) : Status(Errc::lease_lost);
}

namespace {
// A thread's identity for the owner role: the address of a thread-local,
// reused only after its thread is gone.
const void* this_thread_tag() noexcept {
    static thread_local char tag;
    return &tag;
}
char merged_tag;
const void* const kMerged = &merged_tag;  // fast_thread once the handle is gone: no owner
}  // namespace

bool ConsumerCore::on_fast_thread() noexcept {
    const void* me_thread = this_thread_tag();
    const void* t = fast_thread.load(std::memory_order_relaxed);
    if (t == me_thread) return true;
    if (t != nullptr) return false;
    return fast_thread.compare_exchange_strong(t, me_thread, std::memory_order_relaxed);
}

bool ConsumerCore::add_local(int64_t d, int64_t* in_flight_after) noexcept {
    if (!on_fast_thread()) return false;
    // The holder's half of the handshake (fast_ack.hpp's S1, B, then the check).
    ring::fast_ack_enter(local_busy, region->header().commit_fence);
    const bool owner = fast_thread.load(std::memory_order_relaxed) == this_thread_tag();
    if (owner) {
        const int64_t now = local.load(std::memory_order_relaxed) + d;
        local.store(now, std::memory_order_relaxed);
        // Inside the bracket: a merge waits for it, so the core is still here.
        if (in_flight_after != nullptr)
            *in_flight_after = int64_t{refs.load(std::memory_order_acquire)} - kRefBias - 1 + now;
    }
    ring::fast_ack_leave(local_busy);
    return owner;
}

void ConsumerCore::take_refs(uint32_t n) noexcept {
    if (!add_local(n)) refs.fetch_add(n, std::memory_order_relaxed);
}

void ConsumerCore::release(uint32_t n) noexcept {
    const int64_t limit = options.max_in_flight;  // read while our references keep the core
    int64_t after = 0;                            // in flight after this release
    if (!add_local(-int64_t{n}, &after)) {
        const int64_t theirs = local.load(std::memory_order_relaxed);
        // acq_rel: whoever deletes sees every write of the other holders.
        const uint32_t r = refs.fetch_sub(n, std::memory_order_acq_rel);
        if (r == n) {
            delete this;  // merged, and the handle and every message gone
            return;
        }
        if (r < kRefBias / 2) return;  // merged: the handle is gone, and with it any receive waiting for room
        after = int64_t{r} - n - kRefBias - 1 + theirs;
    }
    // Nothing of the core is read from here on: another holder may delete it.
    // A receive waiting for room (in flight fell below the limit) holds the
    // handle, so the core, alive; the futex word's address is only a key. A
    // receiver on another thread than the owner may miss an owner's wake
    // and wait out its slice.
    if (after < limit && after + n >= limit) sys::futex_wake_all(refs);
}

void ConsumerCore::release_handle() noexcept {
    const void* owner = fast_thread.exchange(kMerged, std::memory_order_seq_cst);
    if (owner != nullptr && owner != kMerged && owner != this_thread_tag()) {
        // The owner may be inside its bracket: the revoker half (fast_ack.hpp).
        ring::revoker_barrier(region->header().commit_fence);
        while (!ring::holder_outside_ack(local_busy)) sys::cpu_relax();
    }
    const int64_t mine = local.exchange(0, std::memory_order_relaxed);
    const auto drop = static_cast<uint32_t>(int64_t{kRefBias} + 1 - mine);  // modulo 2^32: the sum is exact
    if (refs.fetch_sub(drop, std::memory_order_acq_rel) == drop) delete this;
}

ring::SettleResult ConsumerCore::fast_ack(const ring::PartitionView& v, const Message& m, bool advance) noexcept {
    ring::fast_ack_enter(*acking, region->header().commit_fence);  // S1, B
    const bool valid = ring::fast_ack_valid(v.cursors->revocations, m.revocations_);  // L2
    if (valid) ring::lease_ack_owned(v.lease(m.offset_), m.offset_);  // S3
    ring::fast_ack_leave(*acking);  // S4
    if (!valid) return ring::ack(v, m.offset_, m.lease_, advance);  // a round began: (3)'s CAS decides
    if (advance) ring::advance_floor(v);
    return ring::SettleResult::ok;
}

Status ConsumerCore::settle_nack(Message& m, Millis delay) noexcept {
    if (options.at_most_once) return settle_ack(m);  // picked up already: nothing to redeliver
    const uint64_t delay_ns = static_cast<uint64_t>(std::max<int64_t>(delay.count(), 0)) * 1'000'000;
    const auto rc = ring::nack(*region, group.index, m.partition_, m.offset_, m.lease_, delay_ns,
                               sys::coarse_monotonic_ns(), me.id());
    release();
    return rc == ring::SettleResult::ok ? Status(Errc::ok) : Status(Errc::lease_lost);
}

bool ConsumerCore::sleep_begin(Message& m, SleepPlan& plan) noexcept {
    auto& h = region->header();
    // Doorbell pattern (sys/futex.hpp): announce, snapshot, re-check, sleep.
    h.consumer_waiters.fetch_add(1, std::memory_order_seq_cst);
    plan.seen = h.consumer_doorbell.load(std::memory_order_seq_cst);
    h.consumer_wanted.store(1, std::memory_order_seq_cst);  // after the snapshot (ring_doorbell_once)
    detail::sleeper_barrier(h.commit_fence);  // producers publish with plain stores (commit_barrier.hpp)
    maintenance(sys::coarse_monotonic_ns());
    if (try_once(m)) return true;
    plan.slice_ns = delay_slice_ns(static_cast<int64_t>(scan_interval_ns));
    if (keyed_busy) plan.slice_ns = kKeyedBusyRetryNs;  // a lane lock was taken: its holder may leave work behind
    if (!wanted.empty() || !releasing.empty() || (replay != nullptr && !replay->wanted.empty()))
        plan.slice_ns = static_cast<int64_t>(kHandoffRetryNs);
    return false;
}

void ConsumerCore::sleep_end() noexcept {
    region->header().consumer_waiters.fetch_sub(1, std::memory_order_relaxed);
}

Result<Message> ConsumerCore::receive(Millis timeout) noexcept {
    Region& r = *region;
    if (r.damaged()) return Errc::region_corrupt;
    const bool forever = timeout == kForever;
    const uint64_t limit = forever ? UINT64_MAX : static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)) * 1'000'000;
    uint64_t start = 0;  // read the precise clock only once we have to wait
    auto remaining = [&]() -> int64_t {
        if (forever) return INT64_MAX;
        if (start == 0) start = sys::monotonic_ns();
        const uint64_t elapsed = sys::monotonic_ns() - start;
        return elapsed >= limit ? 0 : static_cast<int64_t>(limit - elapsed);
    };
    // Prefetch limit: wait for our messages to be settled.
    for (uint32_t seen; in_flight(seen = refs.load(std::memory_order_acquire)) >= options.max_in_flight;) {
        const int64_t left = remaining();
        if (left == 0) return Errc::timeout;
        // A member that is full still takes part in handoffs.
        const bool exclusive = group.kind == GroupKind::exclusive;
        if (exclusive) rebalance(sys::coarse_monotonic_ns());
        sys::futex_wait(refs, seen, std::min<int64_t>(left, exclusive ? kHandoffRetryNs : 100'000'000));
    }
    Message m;
    if (++calls_since_maintenance >= kMaintenanceEvery) maintenance(sys::coarse_monotonic_ns());
    for (int spin = 0;; ++spin) {
        if (try_once(m)) return Result<Message>(std::move(m));
        // Nothing at once and we are going to wait: catch up, then retry. (A
        // bare poll, timeout 0, leaves this to the every-256-calls counter.)
        if (spin == 0 && limit != 0) {
            maintenance(sys::coarse_monotonic_ns());
            if (try_once(m)) return Result<Message>(std::move(m));
        }
        if (r.deleted()) return r.gone_error();
        if (limit == 0) return Errc::timeout;
        if (spin == 0) remaining();  // start the clock
        if (spin < kSpinBeforeSleep) {
            sys::cpu_relax();
            continue;
        }
        const int64_t left = remaining();
        if (left == 0) return Errc::timeout;
        SleepPlan plan;
        const bool got = sleep_begin(m, plan);
        if (!got) sys::futex_wait(r.header().consumer_doorbell, plan.seen, std::min(left, plan.slice_ns));
        sleep_end();
        if (got) return Result<Message>(std::move(m));
        spin = kSpinBeforeSleep - 64;  // after a wake-up, spin a little before sleeping again
    }
}

}  // namespace detail

Consumer::Consumer(detail::ConsumerCore* core) noexcept : core_(core) {}
Consumer::Consumer(Consumer&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
Consumer& Consumer::operator=(Consumer&& o) noexcept {
    if (this != &o) {
        if (core_) {
            core_->leave_group();
            core_->release_handle();
        }
        core_ = std::exchange(o.core_, nullptr);
    }
    return *this;
}
Consumer::~Consumer() {
    if (core_) {
        core_->leave_group();
        core_->release_handle();
    }
}

Result<Message> Consumer::receive(Millis timeout) noexcept { return core_->receive(timeout); }
BatchResult Consumer::receive_batch(std::span<Message> out, Millis timeout) noexcept {
    return core_->receive_batch(out, timeout);
}

std::size_t ack_all(std::span<Message> messages) noexcept {
    // Ack every entry first, then move each touched partition's floor once
    // and drop each consumer's references once: the per-message cost is the
    // entry's store (a fast ACK, inside one enter/leave per consumer) or CAS.
    // Messages from different consumers may be mixed.
    std::size_t acked = 0;
    std::size_t i = 0;
    while (i < messages.size()) {
        detail::ConsumerCore* core = nullptr;
        uint32_t settled = 0;
        uint32_t touched[8];
        uint32_t n_touched = 0;
        bool overflow = false;
        bool entered = false;
        bool fast = false;
        std::size_t j = i;
        for (; j < messages.size(); ++j) {
            Message& m = messages[j];
            if (m.settled_ || m.core_ == nullptr) continue;
            if (core == nullptr) core = m.core_;
            if (m.core_ != core) break;  // another consumer: next round
            if (!entered) {
                entered = true;
                fast = core->fast_acks && core->on_fast_thread();
                if (fast) ring::fast_ack_enter(*core->acking, core->region->header().commit_fence);
            }
            m.settled_ = true;
            ++settled;
            const auto& view = core->views[m.partition_];
            bool ok = true;
            if (core->own_pickups) {
                ring::release_own_pickup(view, m.offset_, /*advance=*/false);
            } else if (fast) {  // fast_ack.hpp: one enter and leave for the whole run
                if (ring::fast_ack_valid(view.cursors->revocations, m.revocations_))
                    ring::lease_ack_owned(view.lease(m.offset_), m.offset_);
                else
                    ok = ring::ack(view, m.offset_, m.lease_, /*advance=*/false) == ring::SettleResult::ok;
            } else {
                ok = ring::ack(view, m.offset_, m.lease_, /*advance=*/false) == ring::SettleResult::ok;
            }
            if (ok) {
                ++acked;
                if (ring::ack_latency_sampled(m.offset_))
                    ring::record_ack_latency(core->region->group(core->group.index).ack_latency, m.publish_unix_ns_);
                core->finished(m.partition_, m.offset_);
            }
            bool seen = false;
            for (uint32_t t = 0; t < n_touched; ++t) seen |= touched[t] == m.partition_;
            if (!seen) {
                if (n_touched < std::size(touched)) touched[n_touched++] = m.partition_;
                else overflow = true;
            }
        }
        if (core != nullptr) {
            if (fast) ring::fast_ack_leave(*core->acking);
            if (overflow)
                for (const auto& view : core->views) ring::advance_floor(view);
            else
                for (uint32_t t = 0; t < n_touched; ++t) ring::advance_floor(core->views[touched[t]]);
            core->release(settled);  // may delete the core: nothing after this touches it
        }
        i = j;
    }
    return acked;
}

uint32_t Consumer::participant_id() const noexcept { return core_->me.id(); }

std::string_view Message::dedup_id() const noexcept {
    // The slot's header sits before data_, its extension after the key area
    // (layout.hpp); kSlotDedupId is set only on queues that have one. Read
    // at call time, off the receive path; the length is untrusted: bounded.
    if (data_ == nullptr || key_ == nullptr) return {};
    const std::byte* stored = attrs_ != nullptr ? attrs_ : data_;  // the payload area: an attribute block first
    const auto& header = *reinterpret_cast<const layout::SlotHeader*>(stored - layout::kSlotHeaderBytes);
    if ((header.flags & layout::kSlotDedupId) == 0) return {};
    const auto& ext = *reinterpret_cast<const layout::SlotExtension*>(key_ + layout::kMaxKeyBytes);
    return {reinterpret_cast<const char*>(ext.id), std::min<std::size_t>(ext.id_len, layout::kMaxDedupIdBytes)};
}
uint32_t Consumer::group_index() const noexcept { return core_->group.index; }

namespace {
attrs::View attributes_of(const std::byte* block, uint16_t len, uint8_t rk_len, uint8_t count) noexcept {
    attrs::View v;
    v.block = block;
    v.block_len = len;
    v.routing_key_len = rk_len;
    v.header_count = count & layout::kAttributeCountMask;
    v.fields_at = static_cast<uint8_t>(layout::kAttributeBlockHeaderBytes +
                                       ((count & layout::kAttributeHasTtl) != 0 ? layout::kAttributeTtlBytes : 0));
    return v;
}
}  // namespace

std::string_view Message::routing_key() const noexcept {
    return attributes_of(attrs_, attrs_len_, attrs_rk_len_, attrs_count_).routing_key();
}

std::optional<std::string_view> Message::header(std::string_view key) const noexcept {
    std::string_view value;
    if (!attrs::find_header(attributes_of(attrs_, attrs_len_, attrs_rk_len_, attrs_count_), key, value))
        return std::nullopt;
    return value;
}

std::pair<std::string_view, std::string_view> Message::header_at(std::size_t i) const noexcept {
    std::string_view k, v;
    if (!attrs::header_at(attributes_of(attrs_, attrs_len_, attrs_rk_len_, attrs_count_), i, k, v)) return {};
    return {k, v};
}

Message::Message(Message&& o) noexcept
    : core_(std::exchange(o.core_, nullptr)),
      data_(o.data_),
      key_(o.key_),
      size_(o.size_),
      key_size_(o.key_size_),
      partition_(o.partition_),
      offset_(o.offset_),
      lease_(o.lease_),
      revocations_(o.revocations_),
      publish_unix_ns_(o.publish_unix_ns_),
      deliveries_(o.deliveries_),
      attrs_(o.attrs_),
      attrs_len_(o.attrs_len_),
      attrs_rk_len_(o.attrs_rk_len_),
      attrs_count_(o.attrs_count_),
      attrs_malformed_(o.attrs_malformed_),
      settled_(std::exchange(o.settled_, true)) {}

Message& Message::operator=(Message&& o) noexcept {
    if (this != &o) {
        if (!settled_) (void)nack();
        core_ = std::exchange(o.core_, nullptr);
        data_ = o.data_;
        key_ = o.key_;
        size_ = o.size_;
        key_size_ = o.key_size_;
        partition_ = o.partition_;
        offset_ = o.offset_;
        lease_ = o.lease_;
        revocations_ = o.revocations_;
        publish_unix_ns_ = o.publish_unix_ns_;
        deliveries_ = o.deliveries_;
        attrs_ = o.attrs_;
        attrs_len_ = o.attrs_len_;
        attrs_rk_len_ = o.attrs_rk_len_;
        attrs_count_ = o.attrs_count_;
        attrs_malformed_ = o.attrs_malformed_;
        settled_ = std::exchange(o.settled_, true);
    }
    return *this;
}

Message::~Message() {
    if (!settled_) (void)nack();
}

Status Message::ack() noexcept {
    if (settled_ || !core_) return Errc::already_settled;
    settled_ = true;
    return core_->settle_ack(*this);
}

Status Message::nack(Millis delay) noexcept {
    if (settled_ || !core_) return Errc::already_settled;
    settled_ = true;
    return core_->settle_nack(*this, delay);
}

bool Message::lease_held() const noexcept {
    if (settled_ || !core_) return false;
    // A no-op CAS (seq_cst RMW): our reads of the payload are ordered before
    // it, and it fails once the word has changed (revoked, redelivered).
    auto& word = core_->region->lease(core_->group.index, partition_, offset_).word;
    uint64_t expected = lease_;
    return word.compare_exchange_strong(expected, lease_, std::memory_order_seq_cst, std::memory_order_relaxed);
}

Status Message::extend(Millis more) noexcept {
    if (settled_ || !core_) return Errc::already_settled;
    const uint64_t deadline = sys::coarse_monotonic_ns() + sys::coarse_margin_ns() +
                              static_cast<uint64_t>(std::max<int64_t>(more.count(), 0)) * 1'000'000;
    const auto rc = ring::extend(*core_->region, core_->group.index, partition_, offset_, lease_, deadline);
    return rc == ring::SettleResult::ok ? Status(Errc::ok) : Status(Errc::lease_lost);
}

}  // namespace shmq
