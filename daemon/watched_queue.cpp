#include "watched_queue.hpp"

#include "shmq/internal/expiry.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shmq/internal/groups.hpp"
#include "log.hpp"
#include "shmq/internal/damage.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/tx_resolver.hpp"
#include "shmq/internal/dead_letter.hpp"
#include "shmq/internal/expiry.hpp"
#include "shmq/internal/delay_store.hpp"
#include "journal/delay_snapshot.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/inspect.hpp"
#include "restore/queue_file.hpp"  // spill_dir_name
#include "restore/queue_restore.hpp"  // retire_journal
#include "spill/spill_dir.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::daemon {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string describe(const detail::ReapReport& r, const std::string& group) {
    std::string who = std::string(r.role == layout::Role::producer   ? "producer"
                                  : r.role == layout::Role::consumer ? "consumer"
                                                                     : "participant") +
                      " pid " + std::to_string(r.pid);
    if (!group.empty()) who += " (group " + group + ")";
    return who;
}

// Deadlines that may come early (looks, sweeps, retries) are moved back to
// a 100 ms grid, which the supervisor's integrity slices also keep: the
// timers of many idle queues then share wake-ups. Lease deadlines are never
// moved (nothing expires early).
constexpr uint64_t kGridNs = 100'000'000;
uint64_t on_grid(uint64_t now, uint64_t t) {
    const uint64_t early = t - t % kGridNs;
    return early > now ? early : t;
}

}  // namespace

WatchedQueue::WatchedQueue(const std::string& name, int epoll_fd, uint32_t queue_id, const std::string& data_dir,
                           uint64_t journal_segment_bytes, uint64_t tick_ns)
    : region_(detail::Region::open(name, detail::Access::read_write, /*wait_for_creator=*/false)),
      epoll_fd_(epoll_fd),
      queue_id_(queue_id),
      tick_ns_(std::min<uint64_t>(tick_ns, 10'000'000)) {
    if (!sys::try_lock_byte(region_->lock_fd(), layout::kDaemonLockByte))
        throw Error(Errc::invalid_argument, "queue " + name + " is served by another shmqd (another --lock-file?); "
                                            "leaving it to that one");
    me_ = detail::attach_participant(*region_, layout::Role::admin, layout::kNoGroup, 0);
    integrity_ = std::make_unique<detail::IntegrityCheck>(*region_);
    if (region_->spill_capacity() != 0) {
        spill_root_ = data_dir + "/spill";
        spill_dir_ = spill_dir_name(name, region_->epoch());
        for (uint32_t p = 0; p < region_->partitions(); ++p)
            spills_.push_back(std::make_unique<PartitionSpill>(*region_, p, me_, spill_root_, spill_dir_));
    }
    data_dir_ = data_dir;
    journal_root_ = data_dir + "/journal";
    if (region_->params().journal != 0)
        journal_ = std::make_unique<QueueJournal>(*region_, journal_root_, journal_segment_bytes);
    // Sweeps of many queues spread over the period instead of coming at once.
    const uint64_t now = sys::monotonic_ns();
    sweep_ns_ = on_grid(now, now + kSweepNs / 2 + (uint64_t{queue_id} * 2'654'435'761u) % (kSweepNs / 2));
    disk_active_ = journal_ != nullptr || !spills_.empty();
    if (region_->delay_capacity() != 0) {
        mover_ = std::make_unique<detail::delay::Mover>(region_, me_.token());
        delay_ns_ = now;  // what came due while no shmqd served the queue
    }
    log(Level::info, "watching queue " + name + (spills_.empty() ? "" : " (spilling to " + spill_root_ + "/" + spill_dir_ + ")") +
                         (journal_ ? " (journal in " + data_dir + "/journal/" + name + ")" : ""));
}

std::optional<uint64_t> WatchedQueue::replay_position(uint32_t group, uint32_t partition) const {
    const auto replay = replays_.find(group);
    if (replay == replays_.end()) return std::nullopt;
    return replay->second->position(partition);
}

WatchedQueue::~WatchedQueue() {
    const bool gone = has_reached_end_of_life();
    const bool for_good = region_->lifecycle() == layout::Lifecycle::deleted;
    spills_.clear();  // waits for their writes in flight
    if (journal_) journal_->stop();
    // Removed like a reboot would (or --region-only): the cursors (with the
    // positions of replays) are what a restore goes by, and the spill
    // backlog comes back with it; deleted for good: the journal is set aside.
    if (!for_good && damage_.empty()) {  // a damaged region's floors mean nothing
        if (journal_ && mover_ && delayed_dirty()) (void)snapshot_delayed(sys::monotonic_ns());
        if (journal_)
            journal_->flush_cursors(sys::monotonic_ns(),
                                    [this](uint32_t g, uint32_t p) { return replay_position(g, p); });
    } else if (journal_ && journal_->dir_open()) {
        retire_journal(data_dir_, name());
    }
    if (gone)
        for (auto& [g, replay] : replays_) replay->abandon();
    if (!spill_dir_.empty() && gone && (for_good || region_->params().journal == 0) &&
        remove_spill_dir(spill_root_, spill_dir_, region_->partitions()))
        log(Level::info, "removed the spill files of deleted queue " + name());
    for (auto& [index, w] : watched_)
        if (w.pidfd >= 0) ::close(w.pidfd);
    mover_.reset();  // detaches its producer
    detail::detach_participant(*region_, me_);
}

// `shmq replay` requests, and the replays they started (replay/group_replay.hpp).
int WatchedQueue::serve_replays(uint64_t now_mono) {
    int work = 0;
    detail::Region& r = *region_;
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        if (layout::group_status(r.group(g).state.load(std::memory_order_acquire)) != layout::kGroupActive) continue;
        const auto state = static_cast<layout::ReplayState>(r.group(g).replay_state.load(std::memory_order_acquire));
        if (state == layout::ReplayState::none || replays_.count(g) != 0) continue;
        std::unique_ptr<GroupReplay> replay = state == layout::ReplayState::running
                                                  ? GroupReplay::resume(r, g, me_, journal_root_)
                                                  : GroupReplay::prepare(r, g, me_, journal_root_);
        ++work;
        if (replay) replays_[g] = std::move(replay);
    }
    for (auto it = replays_.begin(); it != replays_.end();) {
        work += it->second->tick(now_mono);
        it = it->second->done() ? replays_.erase(it) : std::next(it);
    }
    // The journal keeps what a replay has still to deliver.
    for (uint32_t p = 0; journal_ && p < journal_->partitions(); ++p) {
        uint64_t keep = UINT64_MAX;
        for (const auto& [g, replay] : replays_)
            if (auto at = replay->position(p)) keep = std::min(keep, *at);
        journal_->keep_from(p, keep);
    }
    return work;
}

int WatchedQueue::on_disk_event(uint64_t now_mono) {
    if (!damage_.empty()) return 0;
    int work = 0;
    for (auto& [g, replay] : replays_) work += replay->feed();
    for (auto& s : spills_) work += s->run(now_mono);
    if (journal_) {
        work += journal_->run(now_mono);
        journal_->save_cursors(now_mono, [this](uint32_t g, uint32_t p) { return replay_position(g, p); });
    }
    auto busy = [this] {
        for (const auto& s : spills_)
            if (s->active()) return true;
        if (journal_ && journal_->behind()) return true;
        for (const auto& [g, replay] : replays_)
            if (replay->feeding()) return true;
        return false;
    };
    if (work > 0) disk_worked_ns_ = now_mono;
    // Linger a while after the last work (polled every 100 us): a burst of
    // sends is then journaled with one ring, not one per message.
    if (busy() || now_mono - disk_worked_ns_ < kDiskLingerNs) return work;
    // Caught up: ask the next committer to ring, then look again (the
    // slot state words at our positions: a commit we miss sees the request;
    // shmq/internal/daemon_doorbell.hpp), and sleep until it rings or the
    // idle housekeeping is due.
    detail::ask_for_ring(region_->header().daemon_wanted);
    detail::sleeper_barrier(region_->header().commit_fence);  // commits are plain stores (commit_barrier.hpp)
    if (busy()) return work;
    // The delay store's version is the other word adds bump (seq_cst) before taking a request.
    if (delayed_dirty()) schedule_snapshot(now_mono);
    disk_active_ = false;
    disk_idle_ns_ = journal_ || !spills_.empty() ? on_grid(now_mono, now_mono + kDiskIdleNs) : UINT64_MAX;
    reschedule();
    return work;
}

int WatchedQueue::move_delayed(uint64_t now_mono) {
    const uint64_t unix_now = sys::unix_ns();
    const detail::delay::MoveReport rep = mover_->run(unix_now, /*plan=*/true);
    uint64_t next = rep.next_due_unix_ns;
    if (rep.busy) next = unix_now + 1'000'000;  // another mover holds the store: look again soon
    else if (rep.more) next = unix_now;
    else if (rep.blocked) next = unix_now + detail::delay::kBlockedRetryNs;  // its partition had no room
    // Never on the grid: a delayed message is due at its time, not before.
    delay_ns_ = next == layout::kNoDue ? UINT64_MAX : now_mono + (next > unix_now ? next - unix_now : 0);
    if (rep.failed)
        log(Level::warn, "queue " + name() + ": " + std::to_string(rep.failed) +
                             " delayed message(s) dropped: their partition refused them for good (a damaged entry?)");
    if (journal_ && delayed_dirty()) schedule_snapshot(now_mono);
    return static_cast<int>(rep.moved + rep.failed);
}

bool WatchedQueue::delayed_dirty() const {
    return mover_ && region_->delay_header().version.load(std::memory_order_seq_cst) != snapshot_version_;
}

void WatchedQueue::schedule_snapshot(uint64_t now_mono) {
    if (!journal_ || !mover_) return;
    snapshot_ns_ = std::min(snapshot_ns_, std::max(now_mono, snapshot_min_ns_));
    reschedule();
}

int WatchedQueue::snapshot_delayed(uint64_t now_mono) {
    snapshot_ns_ = UINT64_MAX;
    std::vector<detail::RestoredDelayed> messages;
    uint64_t version = 0;
    if (!detail::delay::export_all(*region_, me_.token(), messages, version)) {
        snapshot_ns_ = now_mono + 1'000'000;  // the lock was busy (a mover, an adder): again soon
        return 0;
    }
    const uint64_t started = sys::monotonic_ns();
    if (journal_->save_file(kDelayedFile, encode_delayed(region_->epoch(), messages))) snapshot_version_ = version;
    const uint64_t took = sys::monotonic_ns() - started;
    snapshot_min_ns_ = now_mono + kDelaySnapshotNs + 10 * took;
    if (delayed_dirty()) schedule_snapshot(now_mono);
    arm_disk();  // asks for a ring again once caught up: the next add is seen
    return 1;
}

void WatchedQueue::arm_disk() {
    if (!damage_.empty()) return;
    if (journal_ || !spills_.empty() || !replays_.empty()) disk_active_ = true;
    disk_idle_ns_ = UINT64_MAX;
}

bool WatchedQueue::has_reached_end_of_life() const {
    const auto life = region_->lifecycle();
    if (life == layout::Lifecycle::deleted || life == layout::Lifecycle::region_removed) return true;
    struct stat st {};
    return ::fstat(region_->probe_fd(), &st) != 0 || st.st_nlink == 0;
}

void WatchedQueue::watch(uint32_t index, const detail::ParticipantView& v) {
    Watched w{layout::participant_gen(v.state), static_cast<pid_t>(v.pid), -1};
    if (sys::check_pid(w.pid, v.start_ticks, v.pid_ns) == sys::PidCheck::alive) {
        w.pidfd = pidfd_open(w.pid);
        // The pid could have been reused between the check and the open: re-check.
        if (w.pidfd >= 0 && sys::check_pid(w.pid, v.start_ticks, v.pid_ns) != sys::PidCheck::alive) {
            ::close(w.pidfd);
            w.pidfd = -1;
        }
        if (w.pidfd >= 0) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = pidfd_tag(queue_id_, index);
            if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w.pidfd, &ev) != 0) {
                ::close(w.pidfd);
                w.pidfd = -1;
            }
        }
    }
    watched_[index] = w;
}

void WatchedQueue::unwatch(uint32_t index) {
    auto it = watched_.find(index);
    if (it == watched_.end()) return;
    if (it->second.pidfd >= 0) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.pidfd, nullptr);
        ::close(it->second.pidfd);
    }
    watched_.erase(it);
}

int WatchedQueue::reap(uint32_t index, const char* how) {
    std::string group;
    {
        const uint16_t g = region_->participant(index).group.load(std::memory_order_relaxed);
        if (region_->valid_group(g)) group = detail::group_name(*region_, g);
    }
    const detail::ReapReport r = detail::reap_participant(*region_, index, me_.id());
    unwatch(index);
    if (!r.reaped) return 0;
    std::string line = "queue " + name() + ": " + describe(r, group) + " died (" + how + ")";
    if (r.leases_returned) line += ", " + std::to_string(r.leases_returned) + " lease(s) returned for redelivery";
    if (r.partitions_released)
        line += ", " + std::to_string(r.partitions_released) + " partition(s) released for reassignment";
    if (r.claims_aborted) line += ", " + std::to_string(r.claims_aborted) + " open claim(s) aborted";
    log(Level::info, line);
    return 1 + break_dead_locks();
}

int WatchedQueue::on_process_exit(uint32_t index) {
    // The pidfd fired: the process is gone, and the kernel dropped its OFD
    // locks when it closed its files, so reap_participant can take the entry.
    if (!damage_.empty()) return 0;
    return reap(index, "pidfd");
}

// A dead holder of a reclaim lock would block producers: break it. Only a
// death makes one: checked after each reap and at sweeps.
int WatchedQueue::break_dead_locks() {
    int work = 0;
    detail::Region& r = *region_;
    for (uint32_t p = 0; p < r.partitions(); ++p)
        if (detail::break_lock_if_dead(r, r.partition(p).reclaim_lock)) {
            ring::reclaim(r, p, me_.token());
            ++work;
        }
    return work;
}

// Watches new entries, drops freed ones, and reaps the dead among those it
// probes: every entry with `probe_all` (sweeps), else those without a pidfd.
int WatchedQueue::sync_participants(uint64_t now_mono, bool probe_all) {
    int work = 0;
    bool unprobed = false;  // an entry only its lock tells about
    for (uint32_t i = 0; i < region_->max_participants(); ++i) {
        if (i == me_.index) continue;
        const uint64_t s = region_->participant(i).state.load(std::memory_order_acquire);
        const uint64_t kind = layout::participant_kind(s);
        auto it = watched_.find(i);
        if (kind == layout::kParticipantFree) {
            if (it != watched_.end()) unwatch(i);  // detached cleanly
            continue;
        }
        const bool has_pidfd = it != watched_.end() && it->second.pidfd >= 0;
        const bool same = it != watched_.end() && it->second.gen == layout::participant_gen(s);
        if (probe_all || !has_pidfd || !same) {
            const detail::Liveness l = detail::entry_liveness(*region_, i);
            if (l == detail::Liveness::dead) {
                work += reap(i, has_pidfd ? "lock released" : "lock released; no pidfd");
                continue;
            }
        }
        if (kind != layout::kParticipantActive) {  // still attaching: it rings once active
            unprobed = true;
            continue;
        }
        if (!same) {
            if (it != watched_.end()) unwatch(i);  // the entry was reused
            detail::ParticipantView v{};
            if (detail::read_participant(*region_, i, v)) {
                watch(i, v);
                ++work;
            }
            it = watched_.find(i);
        }
        if (it == watched_.end() || it->second.pidfd < 0) unprobed = true;
    }
    probe_ns_ = unprobed ? on_grid(now_mono, now_mono + kLockProbeNs) : UINT64_MAX;
    return work;
}

int WatchedQueue::expire_and_dead_letter(uint64_t now_mono) {
    int work = 0;
    detail::Region& r = *region_;
    const uint64_t lease_ns = uint64_t{r.params().lease_ms} * 1'000'000;
    // A delivery after this look has a deadline past now + lease_ns (its
    // deliverer's coarse clock is read after ours, plus a margin larger than
    // that clock's lag: docs/ARCHITECTURE.md, "shmqd's event loop"): looking
    // again by then finds it in time.
    uint64_t next = on_grid(now_mono, now_mono + lease_ns);
    // Transactions of late or dead owners (shmq/internal/tx_resolver.hpp);
    // a deadline is at most lease_ms away by default, so this look finds it.
    tx::resolve_late(r, now_mono, me_.id());
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        if (!ring::group_holds(r.group(g).state.load(std::memory_order_acquire))) continue;
        for (uint32_t p = 0; p < r.partitions(); ++p) {
            const ring::Window win = ring::lease_window(r, g, p);
            if (win.floor == win.next) continue;
            // Revoke without moving (mover 0): the loop below dead-letters, and logs, what is due.
            const uint32_t expired = ring::expire_leases(r, g, p, now_mono, 0, &next);
            if (expired)
                log(Level::info, "queue " + name() + ": group " + detail::group_name(r, g) + " partition " +
                                     std::to_string(p) + ": " + std::to_string(expired) +
                                     " lease(s) expired, returned for redelivery");
            work += static_cast<int>(expired);
            // Poison that used up its deliveries goes to the DLQ even when no
            // consumer is running to do it.
            for (uint64_t o = win.floor; o < win.next; ++o) {
                const uint64_t w = r.lease(g, p, o).word.load(std::memory_order_acquire);
                if (ring::lease_kind(w) != ring::LeaseKind::retry || !ring::lease_is(w, o) ||
                    !ring::retry_exhausted(w, r.params().max_deliveries))
                    continue;
                const auto& dlq = r.dlq();
                if (dlq.tail.load(std::memory_order_acquire) - dlq.head.load(std::memory_order_acquire) >=
                    r.params().dlq_capacity) {
                    if (now_mono >= next_dlq_full_warning_ns_) {
                        next_dlq_full_warning_ns_ = now_mono + 10'000'000'000ull;
                        log(Level::warn, "queue " + name() + ": DLQ full (" + std::to_string(r.params().dlq_capacity) +
                                             "); poison messages stay in place until `shmq dlq purge` or `redrive`");
                    }
                    next = std::min(next, on_grid(now_mono, now_mono + kDiskIdleNs));  // try again in a second
                    break;
                }
                const auto result = ring::dead_letter(r, g, p, o, w, now_mono, me_.id());
                if (result == ring::DeadLetterResult::moved) {
                    log(Level::info, "queue " + name() + ": message partition " + std::to_string(p) + " offset " +
                                         std::to_string(o) + " dead-lettered after " +
                                         std::to_string(ring::lease_deliveries(w)) + " deliveries (group " +
                                         detail::group_name(r, g) + ")");
                    ++work;
                }
            }
        }
    }
    lease_check_ns_ = next;
    return work;
}

// Expired messages go to the DLQ (or are dropped) even when no consumer is
// running. The next look: the earliest expiry seen, and, as messages still
// to come may expire sooner, within a quarter of the queue TTL (a message's
// own TTL may be anything: within 50 ms once one was sent). Nothing can
// expire: no look at all.
int WatchedQueue::expire_ttl(uint64_t now_mono) {
    detail::Region& r = *region_;
    if (!ring::queue_may_expire(r)) {
        ttl_ns_ = on_grid(now_mono, now_mono + kSweepNs);  // a message with its own TTL may come
        return 0;
    }
    const uint64_t now_unix = sys::unix_ns();
    uint64_t next_due = UINT64_MAX;
    uint32_t expired = 0;
    for (uint32_t p = 0; p < r.partitions(); ++p) expired += ring::expire_partition(r, p, now_unix, now_mono, me_.id(), &next_due);
    if (expired != 0 && enabled(Level::debug))
        log(Level::debug, "queue " + name() + ": " + std::to_string(expired) + " message(s) expired (TTL)");
    const uint32_t ttl_ms = r.params().message_ttl_ms;
    uint64_t period = r.dlq().message_ttls.load(std::memory_order_relaxed) != 0 ? kOwnTtlPeriodNs : UINT64_MAX;
    if (ttl_ms != 0) period = std::min<uint64_t>(period, std::max<uint64_t>(uint64_t{ttl_ms} * 1'000'000 / 4, 1'000'000));
    uint64_t next = now_mono + period;
    if (next_due != UINT64_MAX) next = std::min(next, now_mono + (next_due > now_unix ? next_due - now_unix : 0));
    ttl_ns_ = next;
    return static_cast<int>(expired);
}

// Records damage found by the integrity check; once found, the queue is
// retired for good: nothing in it can be trusted, so reaping, expiry, disk
// work and replays stop (they would act on the damage), and the mark is put
// back if overwritten. Deleting the queue ends it.
bool WatchedQueue::found_damaged(std::optional<std::string> found) {
    if (damage_.empty()) {
        if (!found) return false;
        damage_ = std::move(*found);
        log(Level::error, "queue " + name() + ": region damaged: " + damage_ +
                              "; marked unusable (its producers and consumers now get region_corrupt); "
                              "delete it with `shmq delete " + name() + "` and create it again");
    }
    if (region_->lifecycle() != layout::Lifecycle::corrupt) detail::mark_damaged(*region_, damage_);
    return true;
}

bool WatchedQueue::check_integrity(uint64_t budget) {
    if (!damage_.empty()) return found_damaged(std::nullopt);
    return found_damaged(integrity_->run(budget));
}

uint64_t WatchedQueue::integrity_cells() const { return integrity_->cells(); }

void WatchedQueue::reschedule() {
    next_due_ = std::min({lease_check_ns_, probe_ns_, sweep_ns_, replay_ns_, disk_idle_ns_, ttl_ns_, delay_ns_, snapshot_ns_});
}

int WatchedQueue::on_doorbell(uint64_t now_mono) {
    if (!damage_.empty()) return 0;
    // A ring says: a participant came or went, a deadline came sooner, a
    // replay was requested, or a commit we asked for happened.
    int work = sync_participants(now_mono, false) + serve_replays(now_mono);
    if (!replays_.empty()) replay_ns_ = std::min(replay_ns_, now_mono + tick_ns_);
    lease_check_ns_ = std::min(lease_check_ns_, now_mono);
    ttl_ns_ = std::min(ttl_ns_, now_mono);  // e.g. the first message with its own TTL
    if (mover_) delay_ns_ = std::min(delay_ns_, now_mono);  // an add due sooner than planned rings
    if (delayed_dirty()) schedule_snapshot(now_mono);
    arm_disk();
    reschedule();
    return work;
}

int WatchedQueue::on_due(uint64_t now_mono) {
    if (!damage_.empty()) return 0;
    int work = 0;
    if (now_mono >= sweep_ns_) {
        sweep_ns_ = on_grid(now_mono, now_mono + kSweepNs);
        ended_ = has_reached_end_of_life();  // inotify's IN_DELETE is the fast way
        work += sync_participants(now_mono, true) + break_dead_locks();
        lease_check_ns_ = now_mono;
        replay_ns_ = now_mono;
        if (mover_) delay_ns_ = now_mono;
    } else if (now_mono >= probe_ns_) {
        work += sync_participants(now_mono, false);
    }
    if (now_mono >= lease_check_ns_) work += expire_and_dead_letter(now_mono);
    if (now_mono >= ttl_ns_) work += expire_ttl(now_mono);
    if (now_mono >= replay_ns_) {
        work += serve_replays(now_mono);
        replay_ns_ = replays_.empty() ? UINT64_MAX : now_mono + tick_ns_;
        if (!replays_.empty()) arm_disk();
    }
    if (now_mono >= disk_idle_ns_) arm_disk();
    if (now_mono >= delay_ns_) work += move_delayed(now_mono);
    if (now_mono >= snapshot_ns_) work += snapshot_delayed(now_mono);
    reschedule();
    return work;
}

}  // namespace shmq::daemon
