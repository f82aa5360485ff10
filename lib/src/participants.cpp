#include "shmq/internal/participants.hpp"

#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <unistd.h>

#include "shmq/internal/reaper.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::detail {

namespace {

// Bytes of the region file whose OFD lock this process holds through
// lock_fd(): locking a byte again through the same description "succeeds",
// so we must never hand out (or unlock) a byte another of our participants holds.
struct HeldBytes {
    std::mutex mutex;
    std::vector<std::pair<const Region*, uint32_t>> held;
};
HeldBytes& held_bytes() {
    static HeldBytes h;
    return h;
}

bool try_take_entry(Region& r, uint32_t index, layout::Role role, uint16_t group, uint8_t flags, uint64_t start_ticks,
                    Participant& out) {
    auto& e = r.participant(index);
    uint64_t s = e.state.load(std::memory_order_acquire);
    if (layout::participant_kind(s) != layout::kParticipantFree) return false;
    if (!sys::try_lock_byte(r.lock_fd(), index)) return false;  // a live process holds it
    s = e.state.load(std::memory_order_acquire);
    const uint32_t gen = layout::participant_gen(s) + 1;
    if (layout::participant_kind(s) != layout::kParticipantFree ||
        !e.state.compare_exchange_strong(s, layout::participant_state(gen, kParticipantClaiming),
                                         std::memory_order_acq_rel)) {
        sys::unlock_byte(r.lock_fd(), index);
        return false;
    }
    const uint64_t pid_ns = sys::pid_namespace_inode();  // not static: a fork may live in another namespace
    const pid_t pid = ::getpid();
    e.pid.store(static_cast<uint32_t>(pid), std::memory_order_relaxed);
    e.start_ticks.store(start_ticks, std::memory_order_relaxed);
    e.pid_ns.store(pid_ns, std::memory_order_relaxed);
    e.role.store(static_cast<uint8_t>(role), std::memory_order_relaxed);
    e.flags.store(flags, std::memory_order_relaxed);
    e.group.store(group, std::memory_order_relaxed);
    e.heartbeat_ns.store(sys::coarse_monotonic_ns(), std::memory_order_relaxed);
    e.attached_unix_ns.store(sys::unix_ns(), std::memory_order_relaxed);
    e.operations.store(0, std::memory_order_relaxed);
    e.acking.store(0, std::memory_order_relaxed);  // a dead predecessor may have died inside a fast ACK
    // release: readers that acquire `active` see the fields above.
    e.state.store(layout::participant_state(gen, layout::kParticipantActive), std::memory_order_release);
    out = Participant{index, gen};
    return true;
}

// Our start time, which peers compare with /proc to tell us from a later
// process with our pid: without it they would take us for dead.
uint64_t own_start_ticks(const Region& r) {
    errno = 0;
    if (auto ticks = sys::process_start_ticks(::getpid())) return *ticks;
    const int err = errno;
    if (err == EMFILE || err == ENFILE) {
        struct rlimit rl {};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        throw Error(Errc::no_resources,
                    "too many open files: cannot attach to queue '" + r.name() + "': reading /proc/self/stat needs a "
                    "descriptor (RLIMIT_NOFILE " + (rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur)) +
                    "); raise it (`ulimit -n`, systemd LimitNOFILE=) or close descriptors");
    }
    throw Error(Errc::invalid_argument, "cannot attach to queue '" + r.name() + "': cannot read /proc/self/stat (" +
                                            (err != 0 ? std::strerror(err) : "unexpected format") +
                                            "); shmq needs /proc mounted to tell live processes from dead ones");
}

}  // namespace

Participant attach_participant(Region& r, layout::Role role, uint16_t group, uint8_t flags) {
    const uint64_t start_ticks = own_start_ticks(r);
    // Before we can commit: sleepers' membarriers must reach us (commit_barrier.hpp).
    if (!r.read_only()) register_committer(r.header().commit_fence);
    auto& hb = held_bytes();
    for (int round = 0; round < 2; ++round) {
        {
            std::lock_guard<std::mutex> guard(hb.mutex);
            for (uint32_t i = 0; i < r.max_participants(); ++i) {
                bool ours = false;
                for (auto& [region, byte] : hb.held) ours |= (region == &r && byte == i);
                if (ours) continue;
                Participant p;
                if (try_take_entry(r, i, role, group, flags, start_ticks, p)) {
                    hb.held.emplace_back(&r, i);
                    ring_daemon(r);  // shmqd watches our pid from now on
                    return p;
                }
            }
        }
        // Full: entries of dead processes may await a reaper; reap them ourselves, once.
        if (round == 0) reap_dead_participants(r);
    }
    throw Error(Errc::no_resources, "queue '" + r.name() + "' has all " + std::to_string(r.max_participants()) +
                                        " participant entries in use by live processes; detach some, or recreate it "
                                        "with a larger --max-participants");
}

void detach_participant(Region& r, const Participant& me) noexcept {
    auto& e = r.participant(me.index);
    uint64_t expected = layout::participant_state(me.gen, layout::kParticipantActive);
    // release: our last writes (acks, ownership releases) precede the entry's reuse.
    if (!e.state.compare_exchange_strong(expected, layout::participant_state(me.gen, layout::kParticipantFree),
                                         std::memory_order_release, std::memory_order_relaxed) &&
        layout::participant_gen(expected) != me.gen)
        return;  // not ours: never attached (an owner whose attach threw), or long gone; its byte is another's
    auto& hb = held_bytes();
    std::lock_guard<std::mutex> guard(hb.mutex);
    for (auto it = hb.held.begin(); it != hb.held.end(); ++it) {
        if (it->first == &r && it->second == me.index) {
            hb.held.erase(it);
            sys::unlock_byte(r.lock_fd(), me.index);
            ring_daemon(r);  // shmqd drops its watch of our pid
            break;
        }
    }
}

void heartbeat(Region& r, const Participant& me, uint64_t now_ns) noexcept {
    r.participant(me.index).heartbeat_ns.store(now_ns, std::memory_order_relaxed);
}

Liveness entry_liveness(const Region& r, uint32_t index) noexcept {
    if (!r.valid_participant(index)) return Liveness::gone;
    auto& e = r.participant(index);
    uint64_t s = e.state.load(std::memory_order_acquire);
    if (layout::participant_kind(s) == layout::kParticipantFree) return Liveness::gone;
    if (!sys::byte_is_locked_by_other(r.probe_fd(), index)) return Liveness::dead;
    // The lock is held; still, a recorded pid that is gone or reused is dead
    // (the lock can be inherited by a fork of the dead participant).
    auto check = sys::check_pid(static_cast<pid_t>(e.pid.load(std::memory_order_relaxed)),
                                e.start_ticks.load(std::memory_order_relaxed), e.pid_ns.load(std::memory_order_relaxed));
    if (check == sys::PidCheck::dead && layout::participant_kind(s) == layout::kParticipantActive) return Liveness::dead;
    return Liveness::alive;
}

Liveness participant_liveness(const Region& r, uint64_t token) noexcept {
    const uint32_t id = layout::token_id(token);
    if (id == 0 || !r.valid_participant(id - 1)) return Liveness::gone;
    uint64_t s = r.participant(id - 1).state.load(std::memory_order_acquire);
    if (layout::participant_kind(s) == layout::kParticipantFree || layout::participant_gen(s) != layout::token_gen(token))
        return Liveness::gone;
    return entry_liveness(r, id - 1);
}

bool break_lock_if_dead(const Region& r, std::atomic<uint64_t>& lock) noexcept {
    uint64_t holder = lock.load(std::memory_order_acquire);
    if (holder == 0) return false;
    if (participant_liveness(r, holder) == Liveness::alive) return false;
    // A dead holder may have left its critical section half done; every
    // critical section guarded by an owner lock is written to be redone.
    return lock.compare_exchange_strong(holder, 0, std::memory_order_acq_rel);
}

bool read_participant(const Region& r, uint32_t index, ParticipantView& out) noexcept {
    if (!r.valid_participant(index)) return false;
    auto& e = r.participant(index);
    uint64_t before = e.state.load(std::memory_order_acquire);
    if (layout::participant_kind(before) != layout::kParticipantActive) return false;
    out.index = index;
    out.state = before;
    out.pid = e.pid.load(std::memory_order_acquire);
    out.role = static_cast<layout::Role>(e.role.load(std::memory_order_acquire));
    out.flags = e.flags.load(std::memory_order_acquire);
    out.group = e.group.load(std::memory_order_acquire);
    out.start_ticks = e.start_ticks.load(std::memory_order_acquire);
    out.pid_ns = e.pid_ns.load(std::memory_order_acquire);
    out.heartbeat_ns = e.heartbeat_ns.load(std::memory_order_acquire);
    out.attached_unix_ns = e.attached_unix_ns.load(std::memory_order_acquire);
    out.operations = e.operations.load(std::memory_order_acquire);
    // Acquire loads above keep this re-check after them: unchanged state means
    // the fields belong to the entry we judged active (a seqlock read).
    return e.state.load(std::memory_order_relaxed) == before;
}

}  // namespace shmq::detail
