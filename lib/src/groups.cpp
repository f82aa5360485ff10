#include "shmq/internal/groups.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::detail {

namespace {

std::string load_name(const layout::GroupEntry& e) { return load_name_words(e.name_words, std::memory_order_relaxed); }

// A lane no group holds (a group holds its lane from creation until it is
// freed), or -1. Under the admin lock.
int32_t free_keyed_lane(const Region& r) noexcept {
    for (uint32_t lane = 0; lane < r.params().keyed_groups; ++lane) {
        bool held = false;
        for (uint32_t g = 0; g < r.max_groups() && !held; ++g)
            held = layout::group_status(r.group(g).state.load(std::memory_order_acquire)) != layout::kGroupFree &&
                   r.group(g).keyed_lane.load(std::memory_order_relaxed) == lane + 1;
        if (!held) return static_cast<int32_t>(lane);
    }
    return -1;
}

// Step (2) of the join protocol for one partition.
void init_partition(Region& r, uint32_t g, uint32_t p, StartAt start, uint64_t token) {
    auto& pc = r.partition(p);
    lock_blocking(r, pc.reclaim_lock, token, "a partition's reclaim lock");
    const uint64_t head = pc.head.load(std::memory_order_acquire);
    const uint64_t tail = ring::load_tail(pc.tail);
    init_group_partition(r, g, p, start == StartAt::latest ? std::max(head, tail) : head);
    owner_unlock(pc.reclaim_lock, token);
}

// Entries of [begin, begin + capacity) deliverable: acked for the lap before.
void reset_entries(Region& r, uint32_t g, uint32_t p, uint64_t begin) noexcept {
    for (uint64_t o = begin; o < begin + r.capacity(); ++o) {
        auto& e = r.lease(g, p, o);
        e.word.store(ring::lease_word(ring::LeaseKind::acked, o - r.capacity()), std::memory_order_relaxed);
        e.deadline_ns.store(0, std::memory_order_relaxed);
    }
}

}  // namespace

void store_group_name(layout::GroupEntry& e, std::string_view name) noexcept { store_name_words(e.name_words, name); }

void init_group_partition(Region& r, uint32_t g, uint32_t p, uint64_t begin) noexcept {
    reset_entries(r, g, p, begin);
    auto& gp = r.group_partition(g, p);
    for (auto* c : {&gp.delivered, &gp.nacked, &gp.redelivered, &gp.expired, &gp.skipped, &gp.dead_lettered,
                    &gp.dlq_blocked})
        c->store(0, std::memory_order_relaxed);
    gp.start.store(begin, std::memory_order_relaxed);
    gp.owner.store(0, std::memory_order_relaxed);
    gp.retry_pending.store(0, std::memory_order_relaxed);
    gp.next.store(begin, std::memory_order_relaxed);
    // seq_cst: the floor is in place before we let reclaimers run again.
    gp.floor.store(begin, std::memory_order_seq_cst);
}

uint64_t rewind_group_partition(Region& r, uint32_t g, uint32_t p, uint64_t target, uint64_t token) {
    auto& pc = r.partition(p);
    lock_blocking(r, pc.reclaim_lock, token, "a partition's reclaim lock");
    // Under the lock head cannot pass the floor we store: offsets from
    // `begin` on stay in the ring. Old leases are overwritten: a late ack or
    // revoke of one fails its CAS (the word changed).
    auto& gp = r.group_partition(g, p);
    const uint64_t head = pc.head.load(std::memory_order_acquire);
    const uint64_t floor = gp.floor.load(std::memory_order_acquire);
    const uint64_t begin = std::min(std::max(target, head), floor);
    reset_entries(r, g, p, begin);
    // acked is derived as floor - start - ...: move start back with the floor.
    gp.start.fetch_sub(floor - begin, std::memory_order_relaxed);
    gp.retry_pending.store(0, std::memory_order_relaxed);
    gp.next.store(begin, std::memory_order_seq_cst);
    gp.floor.store(begin, std::memory_order_seq_cst);
    owner_unlock(pc.reclaim_lock, token);
    return begin;
}

void lock_blocking(const Region& r, std::atomic<uint64_t>& lock, uint64_t token, const char* what, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (int spins = 0; !try_owner_lock(lock, token); ++spins) {
        if (spins < 64) {
            sys::cpu_relax();
            continue;
        }
        if (break_lock_if_dead(r, lock)) continue;
        if (std::chrono::steady_clock::now() > deadline)
            throw Error(Errc::timeout, std::string("timed out waiting for ") + what + " of queue '" + r.name() +
                                           "', held by a live participant; try again");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

std::optional<uint32_t> find_group(const Region& r, std::string_view name) noexcept {
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        uint64_t s = r.group(g).state.load(std::memory_order_acquire);
        if (layout::group_status(s) == layout::kGroupFree) continue;
        if (load_name(r.group(g)) == name) return g;
    }
    return std::nullopt;
}

std::string group_name(const Region& r, uint32_t g) { return load_name(r.group(g)); }

GroupRef join_group(Region& r, std::string_view name, GroupKind kind, StartAt start, const Participant& me) {
    if (auto err = check_name(name, "group")) throw Error(Errc::invalid_argument, *err);
    ScopedOwnerLock locked(r, r.header().admin_lock, me.token(), "the group table lock");

    std::optional<uint32_t> found = find_group(r, name);
    uint32_t g = 0;
    uint64_t state = 0;
    if (found) {
        g = *found;
        state = r.group(g).state.load(std::memory_order_acquire);
        const auto existing = static_cast<GroupKind>(layout::group_kind(state));
        if (existing != kind)
            throw Error(Errc::invalid_argument, "group '" + std::string(name) + "' of queue '" + r.name() + "' is " +
                                                    group_kind_name(existing) + "; attach with --kind " +
                                                    group_kind_name(existing) + " or use another group name");
        if (layout::group_status(state) == layout::kGroupActive) return GroupRef{g, layout::group_gen(state), kind};
        // A joiner died half-way: finish its join below.
    } else {
        bool free_found = false;
        for (g = 0; g < r.max_groups(); ++g) {
            state = r.group(g).state.load(std::memory_order_acquire);
            if (layout::group_status(state) == layout::kGroupFree) {
                free_found = true;
                break;
            }
        }
        if (!free_found)
            throw Error(Errc::no_resources, "queue '" + r.name() + "' already has " + std::to_string(r.max_groups()) +
                                                " groups; delete one with `shmq groups delete " + r.name() +
                                                " GROUP` or recreate the queue with a larger --max-groups");
        auto& entry = r.group(g);
        int32_t lane = -1;
        if (kind == GroupKind::keyed) {
            if (static_cast<OnFull>(r.params().on_full) == OnFull::drop_oldest)
                throw Error(Errc::invalid_argument, "queue '" + r.name() +
                                                        "' drops its oldest messages when full (on-full drop-oldest), "
                                                        "which breaks per-key order; use a shared group");
            lane = free_keyed_lane(r);
            if (lane < 0)
                throw Error(Errc::no_resources,
                            "queue '" + r.name() + "' already has " + std::to_string(r.params().keyed_groups) +
                                " keyed group(s) (its --keyed-groups); delete one with `shmq groups delete " +
                                r.name() + " GROUP` or recreate the queue with a larger --keyed-groups");
            // Before the group counts as joining: the lane is its own from then on.
            ring::reset_keyed_lane(r, static_cast<uint32_t>(lane),
                                   layout::group_state(layout::group_gen(state) + 1, kind, layout::kGroupJoining));
        }
        entry.keyed_lane.store(static_cast<uint32_t>(lane + 1), std::memory_order_relaxed);
        store_group_name(entry, name);
        entry.created_unix_ns.store(sys::unix_ns(), std::memory_order_relaxed);
        entry.replay_state.store(0, std::memory_order_relaxed);
        entry.replay_result.store(0, std::memory_order_relaxed);
        entry.replay_messages.store(0, std::memory_order_relaxed);
        for (auto& b : entry.ack_latency.buckets) b.store(0, std::memory_order_relaxed);
        entry.ack_latency.count.store(0, std::memory_order_relaxed);
        entry.ack_latency.sum_ns.store(0, std::memory_order_relaxed);
        state = layout::group_state(layout::group_gen(state) + 1, kind, layout::kGroupJoining);
        entry.state.store(state, std::memory_order_seq_cst);  // (1)
    }
    for (uint32_t p = 0; p < r.partitions(); ++p) init_partition(r, g, p, start, me.token());  // (2)
    const uint64_t active = layout::group_state(layout::group_gen(state), kind, layout::kGroupActive);
    r.group(g).state.store(active, std::memory_order_release);  // (3)
    return GroupRef{g, layout::group_gen(state), kind};
}

std::vector<uint32_t> group_members(const Region& r, uint32_t g) {
    std::vector<uint32_t> members;
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        ParticipantView v{};
        if (!read_participant(r, i, v)) continue;
        if (v.role == layout::Role::consumer && v.group == g) members.push_back(i);
    }
    return members;
}

void membership_changed(Region& r, uint32_t g) noexcept {
    r.group(g).member_gen.fetch_add(1, std::memory_order_seq_cst);
    wake_consumers(r);
}

void delete_group(Region& r, std::string_view name, const Participant& me) {
    if (auto err = check_name(name, "group")) throw Error(Errc::invalid_argument, *err);
    ScopedOwnerLock locked(r, r.header().admin_lock, me.token(), "the group table lock");
    auto g = find_group(r, name);
    if (!g) throw Error(Errc::not_found, "queue '" + r.name() + "' has no group '" + std::string(name) + "'");
    for (uint32_t member : group_members(r, *g)) {
        if (entry_liveness(r, member) == Liveness::alive)
            throw Error(Errc::invalid_argument, "group '" + std::string(name) + "' still has live consumers (pid " +
                                                    std::to_string(r.participant(member).pid.load()) +
                                                    "); stop them first");
        reap_participant(r, member, me.id());
    }
    auto& entry = r.group(*g);
    uint64_t s = entry.state.load(std::memory_order_acquire);
    // seq_cst: reclaimers that run after this no longer count the group.
    entry.state.store(layout::group_state(layout::group_gen(s), static_cast<GroupKind>(layout::group_kind(s)),
                                          layout::kGroupFree),
                      std::memory_order_seq_cst);
    // Its hold is gone: let producers waiting for room reclaim.
    for (uint32_t p = 0; p < r.partitions(); ++p) {
        ring::reclaim(r, p, me.token());
        wake_producers(r.partition(p));
    }
}

}  // namespace shmq::detail
