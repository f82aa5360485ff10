// One queue under shmqd's watch: its participants (each with a pidfd in the
// supervisor's epoll set), lease expiry and poison moves, its disk work.
// Driven by events and deadlines, never by a tick (docs/ARCHITECTURE.md,
// "shmqd's event loop"): the supervisor calls
//   on_doorbell       when a participant rang daemon_bell (attach, detach, a
//                     sooner deadline, a replay request, a commit it asked for),
//   on_process_exit   when a participant's pidfd fires,
//   on_due            once next_due() has come (lease expiry, lock probes,
//                     replays, the sweep),
//   on_disk_event     on every loop turn while disk_active(),
//   check_integrity   with its share of the shared integrity budget.
// Each returns the work done. An idle queue costs nothing between its
// deadlines: the earliest lease deadline or one lease_ms after the last look,
// and a sweep every kSweepNs.
//
// It orchestrates; the disk is done by spill/ (PartitionSpill, the spill
// directory) and journal/ (QueueJournal: segments, `queue`, `cursors`).
// All state that matters lives in the region; this object only caches
// descriptors and deadlines. A killed shmqd loses nothing: the next one
// rebuilds the cache from the lease table, and reaping is redo-safe
// (shmq/internal/reaper.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shmq/internal/delay_mover.hpp"
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
    // `tick_ns`: the longest shmqd sleeps (--tick-ms); replays in progress
    // are stepped at it, or every 10 ms if that is sooner.
    WatchedQueue(const std::string& name, int epoll_fd, uint32_t queue_id, const std::string& data_dir,
                 uint64_t journal_segment_bytes = 64ull << 20, uint64_t tick_ns = 10'000'000);
    ~WatchedQueue();
    WatchedQueue(const WatchedQueue&) = delete;
    WatchedQueue& operator=(const WatchedQueue&) = delete;

    const std::string& name() const { return region_->name(); }
    const detail::Region& region() const { return *region_; }  // for read-only snapshots (metrics)
    int on_doorbell(uint64_t now_mono);
    int on_process_exit(uint32_t index);
    int on_due(uint64_t now_mono);
    uint64_t next_due() const { return damage_.empty() ? next_due_ : UINT64_MAX; }
    // Disk work: drain spill staging, refill rings, journal, feed replays.
    // Called on every turn of the loop while disk_active(); when it has
    // nothing left, it asks producers to ring at their next commit
    // (RegionHeader::daemon_wanted) and disk_active() turns false.
    int on_disk_event(uint64_t now_mono);
    bool disk_active() const { return damage_.empty() && disk_active_; }
    // `budget` cells of the rolling integrity pass (shmq/internal/integrity.hpp).
    // Once it finds damage the queue is retired for good. Returns true then.
    bool check_integrity(uint64_t budget);
    uint64_t integrity_cells() const;
    // Deleted (shmq delete) or its file unlinked: stop watching. Reads the
    // lifecycle word and fstats the file: called on inotify's word and at sweeps.
    bool has_reached_end_of_life() const;
    bool ended() const { return ended_; }  // found so by the last sweep
    // Why the region was found damaged (empty while it is sound): shmqd then
    // serves nothing of it and keeps it marked until it is deleted.
    const std::string& damage() const { return damage_; }

    // A participant whose pid shmqd cannot see (another pid namespace) is
    // probed through its OFD lock this often; one with a pidfd only at sweeps.
    static constexpr uint64_t kLockProbeNs = 100'000'000;
    // Everything is looked at once per sweep: every participant's lock, every
    // group's leases, replay requests, end of life. A missed doorbell costs
    // at most this (none is missed unless inotify overflows).
    static constexpr uint64_t kSweepNs = 10'000'000'000;
    static constexpr uint64_t kOwnTtlPeriodNs = 50'000'000;  // expiry looks once messages carry their own TTLs
    // Disk queues (spill, journal) with nothing to do: cursors, retention.
    static constexpr uint64_t kDiskIdleNs = 1'000'000'000;
    // Disk work stays polled this long after it was last found, before
    // producers are asked to ring.
    static constexpr uint64_t kDiskLingerNs = 2'000'000;
    // A journaled queue's delay store is snapshotted at most this often
    // (plus ten times what the last snapshot took: large stores cost more).
    static constexpr uint64_t kDelaySnapshotNs = 100'000'000;

private:
    struct Watched {
        uint32_t gen;
        pid_t pid;
        int pidfd;  // -1 when the pid is not visible (another pid namespace): the OFD lock decides
    };
    int sync_participants(uint64_t now_mono, bool probe_all);
    void watch(uint32_t index, const detail::ParticipantView& v);
    void unwatch(uint32_t index);
    int reap(uint32_t index, const char* how);
    int break_dead_locks();
    int expire_and_dead_letter(uint64_t now_mono);
    int expire_ttl(uint64_t now_mono);  // message TTL (shmq/internal/expiry.hpp)
    std::optional<uint64_t> replay_position(uint32_t group, uint32_t partition) const;
    int serve_replays(uint64_t now_mono);
    bool found_damaged(std::optional<std::string> found);
    void arm_disk();  // on_disk_event runs on every turn until caught up
    // Delayed delivery (shmq/internal/delay_mover.hpp): moves what is due,
    // plans the next look at the next due time; snapshots a journaled
    // queue's store (journal/delay_snapshot.hpp) when it changed.
    int move_delayed(uint64_t now_mono);
    bool delayed_dirty() const;  // seq_cst: the re-check after asking for a ring (daemon_doorbell.hpp)
    void schedule_snapshot(uint64_t now_mono);
    int snapshot_delayed(uint64_t now_mono);
    void reschedule();

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
    uint64_t next_dlq_full_warning_ns_ = 0;
    // Deadlines (CLOCK_MONOTONIC ns); next_due_ is their minimum.
    uint64_t lease_check_ns_ = 0;  // the earliest lease deadline seen, or one lease_ms after the last look
    uint64_t probe_ns_ = UINT64_MAX;  // lock probes of participants without a pidfd
    uint64_t sweep_ns_ = 0;
    uint64_t replay_ns_ = UINT64_MAX;  // replays in progress: every tick_ns_
    uint64_t disk_idle_ns_ = UINT64_MAX;  // disk queues: their idle housekeeping
    uint64_t ttl_ns_ = 0;  // the next expiry scan: the earliest expiry seen, else within a scan period
    std::unique_ptr<detail::delay::Mover> mover_;  // null unless the queue has a delay store
    uint64_t delay_ns_ = UINT64_MAX;     // the next due delayed message (or a retry): move then
    uint64_t snapshot_ns_ = UINT64_MAX;  // journaled: the delay store changed; snapshot then
    uint64_t snapshot_min_ns_ = 0;       // not before (kDelaySnapshotNs after the last)
    uint64_t snapshot_version_ = 0;      // DelayStoreHeader::version the last snapshot holds
    uint64_t next_due_ = 0;
    uint64_t tick_ns_;
    bool disk_active_ = false;
    uint64_t disk_worked_ns_ = 0;  // the last turn of on_disk_event that did work
    bool ended_ = false;
    std::unique_ptr<detail::IntegrityCheck> integrity_;
    std::string damage_;
};

// epoll data of a pidfd: which queue and which lease-table entry.
constexpr uint64_t pidfd_tag(uint32_t queue_id, uint32_t index) { return uint64_t{queue_id} << 32 | index; }

}  // namespace shmq::daemon
