// The lease table: attaching and detaching participants, and telling whether
// a participant (by owner token) is still alive.
//
// Attach: (1) take an OFD write lock on byte `index` of the region file,
// (2) CAS state free -> claiming, (3) fill pid/start time/role/group,
// (4) store active (release). The kernel drops the lock at death, so a free
// lock byte with a non-free entry means its holder died; the reaper frees it.
// Detach is the reverse: state -> free (release), then unlock.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

constexpr uint64_t kParticipantClaiming = 2;

struct Participant {
    uint32_t index = 0;
    uint32_t gen = 0;
    uint32_t id() const noexcept { return index + 1; }
    uint64_t token() const noexcept { return layout::owner_token(id(), gen); }
};

// Throws Error(no_resources) when every entry is held by a live process.
Participant attach_participant(Region& r, layout::Role role, uint16_t group, uint8_t flags);
void detach_participant(Region& r, const Participant& me) noexcept;
void heartbeat(Region& r, const Participant& me, uint64_t now_ns) noexcept;

// A participant attached for a scope (tools' admin operations).
class ScopedParticipant {
public:
    ScopedParticipant(Region& r, layout::Role role) : region_(r), me_(attach_participant(r, role, layout::kNoGroup, 0)) {}
    ~ScopedParticipant() { detach_participant(region_, me_); }
    ScopedParticipant(const ScopedParticipant&) = delete;
    ScopedParticipant& operator=(const ScopedParticipant&) = delete;
    const Participant& get() const noexcept { return me_; }

private:
    Region& region_;
    Participant me_;
};

enum class Liveness { alive, dead, gone };  // gone: entry freed or reused (token stale)
// Judges the holder of an owner token. Costs a syscall or two: slow paths only.
Liveness participant_liveness(const Region& r, uint64_t token) noexcept;
// Liveness of the current occupant of entry `index` (kind active or claiming).
Liveness entry_liveness(const Region& r, uint32_t index) noexcept;

// Owner locks: a 64-bit word holding the owner token of its holder, 0 when free.
inline bool try_owner_lock(std::atomic<uint64_t>& lock, uint64_t token) noexcept {
    uint64_t expected = 0;
    // acquire: the holder sees everything the previous holder published by its release.
    return lock.compare_exchange_strong(expected, token, std::memory_order_acquire, std::memory_order_relaxed);
}
inline void owner_unlock(std::atomic<uint64_t>& lock, uint64_t token) noexcept {
    uint64_t expected = token;
    // release: publishes the critical section to the next holder.
    lock.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
}
// Clears the lock if its holder is dead or gone. True when it did.
bool break_lock_if_dead(const Region& r, std::atomic<uint64_t>& lock) noexcept;

// Reads a participant entry's fields consistently (state before and after).
struct ParticipantView {
    uint32_t index;
    uint64_t state;
    uint32_t pid;
    layout::Role role;
    uint8_t flags;
    uint16_t group;
    uint64_t start_ticks;
    uint64_t pid_ns;
    uint64_t heartbeat_ns;
    uint64_t attached_unix_ns;
    uint64_t operations;
};
bool read_participant(const Region& r, uint32_t index, ParticipantView& out) noexcept;

}  // namespace shmq::detail
