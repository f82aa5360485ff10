// One queue under shmqd's watch: its participants (each with a pidfd in the
// supervisor's epoll set), lease expiry and poison moves. An agent in the
// Aeron style: the supervisor calls on_time_event(now) every tick and
// on_process_exit(index) when a pidfd fires; both return the work done.
//
// It orchestrates; the disk is done by spill/ (PartitionSpill, the spill
// directory) and journal/ (QueueJournal: segments, `queue`, `cursors`).
// All state that matters lives in the region; this object only caches
// descriptors. A killed shmqd loses nothing: the next one rebuilds the cache
// from the lease table, and reaping is redo-safe (shmq/internal/reaper.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/integrity.hpp"
#include "journal/queue_journal.hpp"
#include "replay/group_replay.hpp"
#include "spill/partition_spill.hpp"

namespace shmq::daemon {

class WatchedQueue {
public:
    // Opens the region read-write and attaches as an admin participant (whose
    // id owns any DLQ claims the daemon makes). Throws shmq::Error.
    // on_full=spill queues keep their spill segments under DATA/spill,
    // journaled ones their journal under DATA/journal (segments of
    // `journal_segment_bytes`).
    WatchedQueue(const std::string& name, int epoll_fd, uint32_t queue_id, const std::string& data_dir,
                 uint64_t journal_segment_bytes = 64ull << 20);
    ~WatchedQueue();
    WatchedQueue(const WatchedQueue&) = delete;
    WatchedQueue& operator=(const WatchedQueue&) = delete;

    const std::string& name() const { return region_->name(); }
    const detail::Region& region() const { return *region_; }  // for read-only snapshots (metrics)
    int on_time_event(uint64_t now_mono);
    int on_process_exit(uint32_t index);
    // Disk work: drain spill staging, refill rings, journal. Called on every
    // turn of the loop while disk_busy(), else every tick. Returns the work done.
    int on_disk_event(uint64_t now_mono);
    bool disk_busy() const;
    // Deleted (shmq delete) or its file unlinked: stop watching.
    bool has_reached_end_of_life() const;
    // Why the region was found damaged (empty while it is sound): shmqd then
    // serves nothing of it and keeps it marked until it is deleted.
    const std::string& damage() const { return damage_; }

private:
    struct Watched {
        uint32_t gen;
        pid_t pid;
        int pidfd;  // -1 when the pid is not visible (another pid namespace): the OFD lock decides
    };
    int sync_participants();
    void watch(uint32_t index, const detail::ParticipantView& v);
    void unwatch(uint32_t index);
    int reap(uint32_t index, const char* how);
    int expire_and_dead_letter(uint64_t now_mono);
    std::optional<uint64_t> replay_position(uint32_t group, uint32_t partition) const;
    int serve_replays(uint64_t now_mono);
    bool found_damaged();

    std::shared_ptr<detail::Region> region_;
    detail::Participant me_{};
    int epoll_fd_;
    uint32_t queue_id_;
    std::map<uint32_t, Watched> watched_;
    std::string spill_root_;  // DATA/spill
    std::string spill_dir_;   // <queue>.<epoch in hex>
    std::vector<std::unique_ptr<PartitionSpill>> spills_;  // by partition; empty unless on_full=spill
    std::unique_ptr<QueueJournal> journal_;  // null unless journaled
    std::string data_dir_;
    std::string journal_root_;      // DATA/journal
    std::map<uint32_t, std::unique_ptr<GroupReplay>> replays_;  // by group index: `shmq replay`s in progress
    uint64_t tick_ = 0;
    uint64_t next_dlq_full_warning_ns_ = 0;
    std::unique_ptr<detail::IntegrityCheck> integrity_;
    std::string damage_;
};

// epoll data of a pidfd: which queue and which lease-table entry.
constexpr uint64_t pidfd_tag(uint32_t queue_id, uint32_t index) { return uint64_t{queue_id} << 32 | index; }

}  // namespace shmq::daemon
