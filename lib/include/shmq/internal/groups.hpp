// The group table: creating, finding, deleting groups and listing members.
// Create/delete run under RegionHeader::admin_lock; readers are lock-free.
//
// Join protocol (redo-safe under the admin lock):
//   (1) write the name, then state joining (seq_cst): from here reclaimers
//       count the group, so no slot it will need can be released;
//   (2) per partition, under its reclaim lock: start = head (or tail for
//       StartAt::latest); entries of [start, start + capacity) := acked(o - cap);
//       next = floor = start;
//   (3) state active (release). A joiner killed half-way leaves a joining
//       group, which the next joiner of that name finishes from step (2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

constexpr const char* group_kind_name(GroupKind kind) noexcept {
    switch (kind) {
        case GroupKind::exclusive: return "exclusive";
        case GroupKind::shared: return "shared";
        case GroupKind::keyed: return "keyed";
    }
    return "unknown";
}

struct GroupRef {
    uint32_t index;
    uint32_t gen;
    GroupKind kind;
};

// Finds or creates group `name`. Throws Error: kind mismatch, table full.
GroupRef join_group(Region& r, std::string_view name, GroupKind kind, StartAt start, const Participant& me);
std::optional<uint32_t> find_group(const Region& r, std::string_view name) noexcept;
std::string group_name(const Region& r, uint32_t g);
// Deletes the group, releasing its hold on every partition. Throws Error if
// it does not exist or live consumers are attached to it.
void delete_group(Region& r, std::string_view name, const Participant& me);

// Step (2) of the join protocol for (g, p) without its lock: entries of
// [begin, begin + capacity) deliverable, next = floor = start = begin,
// counters zero. For a region not yet published, or under the reclaim lock.
void init_group_partition(Region& r, uint32_t g, uint32_t p, uint64_t begin) noexcept;
void store_group_name(layout::GroupEntry& e, std::string_view name) noexcept;

// Moves group g's position in partition p back to `target` (clamped to the
// partition's head, never forward), under the reclaim lock: every offset
// from there on becomes deliverable again. For a group with no consumer
// delivering (replay). Returns the new position.
uint64_t rewind_group_partition(Region& r, uint32_t g, uint32_t p, uint64_t target, uint64_t token);

// Indices of live (active) consumer entries attached to group g, ascending.
std::vector<uint32_t> group_members(const Region& r, uint32_t g);
// A group's membership changed: bump its generation and wake its consumers.
void membership_changed(Region& r, uint32_t g) noexcept;

// Acquires an owner lock, breaking it if its holder died; throws after `timeout_ms`.
void lock_blocking(const Region& r, std::atomic<uint64_t>& lock, uint64_t token, const char* what, int timeout_ms = 5000);

// Holds an owner lock for a scope: lock_blocking, then owner_unlock.
class ScopedOwnerLock {
public:
    ScopedOwnerLock(const Region& r, std::atomic<uint64_t>& lock, uint64_t token, const char* what)
        : lock_(lock), token_(token) {
        lock_blocking(r, lock, token, what);
    }
    ~ScopedOwnerLock() { owner_unlock(lock_, token_); }
    ScopedOwnerLock(const ScopedOwnerLock&) = delete;
    ScopedOwnerLock& operator=(const ScopedOwnerLock&) = delete;

private:
    std::atomic<uint64_t>& lock_;
    uint64_t token_;
};

}  // namespace shmq::detail
