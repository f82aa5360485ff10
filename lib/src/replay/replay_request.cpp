#include "shmq/internal/replay_request.hpp"

#include "shmq/internal/groups.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::detail {

std::string replay_object_name(std::string_view queue, std::string_view group) {
    return "shmq-replay." + std::string(queue) + "." + std::string(group);
}

namespace {

// A live consumer of group g, as seen by seq_cst loads (the second half of
// the replay_state handshake in layout.hpp).
std::optional<uint32_t> live_member(Region& r, uint32_t g, const Participant& me) {
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        auto& e = r.participant(i);
        if (layout::participant_kind(e.state.load(std::memory_order_seq_cst)) != layout::kParticipantActive) continue;
        if (e.role.load(std::memory_order_seq_cst) != static_cast<uint8_t>(layout::Role::consumer)) continue;
        if (e.group.load(std::memory_order_seq_cst) != g) continue;
        if (entry_liveness(r, i) == Liveness::dead) {
            reap_participant(r, i, me.id());
            continue;
        }
        return i;
    }
    return std::nullopt;
}

}  // namespace

uint32_t request_replay(Region& r, std::string_view group, layout::ReplayFrom from, uint64_t value,
                        const Participant& me) {
    if (auto err = check_name(group, "group")) throw Error(Errc::invalid_argument, *err);
    ScopedOwnerLock locked(r, r.header().admin_lock, me.token(), "the group table lock");
    const auto found = find_group(r, group);
    const std::string which = "group '" + std::string(group) + "' of queue '" + r.name() + "'";
    if (!found || layout::group_status(r.group(*found).state.load(std::memory_order_acquire)) != layout::kGroupActive)
        throw Error(Errc::not_found, "queue '" + r.name() + "' has no group '" + std::string(group) +
                                                "'; `shmq groups " + r.name() + "` lists them");
    const uint32_t g = *found;
    auto& e = r.group(g);
    if (e.replay_state.load(std::memory_order_acquire) != static_cast<uint32_t>(layout::ReplayState::none))
        throw Error(Errc::invalid_argument, which + " is replaying already; wait until it has caught up");
    auto busy = [&](uint32_t i) {
        return Error(Errc::invalid_argument, which + " has a live consumer (pid " +
                                                 std::to_string(r.participant(i).pid.load()) +
                                                 "); stop its consumers first: a group is rewound while idle");
    };
    if (auto i = live_member(r, g, me)) throw busy(*i);
    e.replay_from.store(value, std::memory_order_relaxed);
    e.replay_from_kind.store(static_cast<uint32_t>(from), std::memory_order_relaxed);
    e.replay_result.store(static_cast<uint32_t>(layout::ReplayResult::pending), std::memory_order_relaxed);
    e.replay_messages.store(0, std::memory_order_relaxed);
    e.replay_state.store(static_cast<uint32_t>(layout::ReplayState::requested), std::memory_order_seq_cst);
    // A consumer that joined just before the store may have missed it: it
    // stored its group before loading replay_state (both seq_cst), so it
    // is seen here.
    if (auto i = live_member(r, g, me)) {
        cancel_replay(r, g);
        throw busy(*i);
    }
    ring_daemon(r);  // shmqd serves the request now, not at its next sweep
    return g;
}

bool cancel_replay(Region& r, uint32_t g) noexcept {
    uint32_t expected = static_cast<uint32_t>(layout::ReplayState::requested);
    return r.group(g).replay_state.compare_exchange_strong(expected, static_cast<uint32_t>(layout::ReplayState::none),
                                                           std::memory_order_seq_cst);
}

ReplayProgress replay_progress(const Region& r, uint32_t g) {
    ReplayProgress out;
    if (r.group(g).replay_state.load(std::memory_order_acquire) != static_cast<uint32_t>(layout::ReplayState::running))
        return out;
    std::shared_ptr<Region> rr;
    try {
        rr = Region::open(r.name(), Access::read_only, false, replay_object_name(r.name(), group_name(r, g)));
    } catch (const Error&) {
        return out;  // finished and removed meanwhile
    }
    out.running = true;
    for (uint32_t p = 0; p < rr->partitions() && rr->max_groups() > 0; ++p) {
        const auto& gp = rr->group_partition(0, p);
        const uint64_t start = gp.start.load(std::memory_order_relaxed);
        const uint64_t end = rr->partition(p).replay_end.load(std::memory_order_relaxed);
        const uint64_t floor = gp.floor.load(std::memory_order_relaxed);
        if (end < start) continue;  // untrusted values
        out.total += end - start;
        out.acked += std::min(std::max(floor, start), end) - start;
    }
    return out;
}

bool served_by_shmqd(const Region& r) noexcept {
    return sys::byte_is_locked_by_other(r.probe_fd(), layout::kDaemonLockByte);
}

}  // namespace shmq::detail
