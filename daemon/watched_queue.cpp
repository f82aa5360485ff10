#include "watched_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "groups.hpp"
#include "log.hpp"
#include "repair/damage.hpp"
#include "repair/reaper.hpp"
#include "ring/dead_letter.hpp"
#include "ring/delivery.hpp"
#include "ring/lease_word.hpp"
#include "ring/reclaim.hpp"
#include "inspect/inspect.hpp"
#include "restore/queue_file.hpp"
#include "restore/queue_restore.hpp"
#include "small_file.hpp"
#include "sys/clock.hpp"
#include "sys/process.hpp"

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

}  // namespace

WatchedQueue::WatchedQueue(const std::string& name, int epoll_fd, uint32_t queue_id, const std::string& data_dir,
                           uint64_t journal_segment_bytes)
    : region_(detail::Region::open(name, detail::Access::read_write, /*wait_for_creator=*/false)),
      epoll_fd_(epoll_fd),
      queue_id_(queue_id) {
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
    if (region_->params().journal != 0) open_journal(data_dir, journal_segment_bytes);
    log(Level::info, "watching queue " + name + (spills_.empty() ? "" : " (spilling to " + spill_root_ + "/" + spill_dir_ + ")") +
                         (journals_.empty() ? "" : " (journal in " + data_dir + "/journal/" + name + ")"));
}

// DATA/journal/<queue>/: `queue` (what the region was created with, its
// epoch), `cursors` (each group's floors), p<N>/ segments. A journal of
// another incarnation of the name (another epoch) is moved aside, never
// appended to or cut.
void WatchedQueue::open_journal(const std::string& data_dir, uint64_t segment_bytes) {
    const std::string root = data_dir + "/journal";
    ::mkdir(root.c_str(), 0700);
    disk::DirFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    const std::string epoch = hex64(region_->epoch());
    if (root_fd.valid()) {
        disk::DirFd qdir(::openat(root_fd.get(), name().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        std::string text, error;
        if (qdir.valid() && disk::read_small_file(qdir.get(), "queue", 64 << 10, text, error) &&
            text.find("\nepoch " + epoch + "\n") == std::string::npos) {
            const std::string aside = name() + ".replaced-" + hex64(sys::unix_ns());
            if (::renameat(root_fd.get(), name().c_str(), root_fd.get(), aside.c_str()) == 0)
                log(Level::warn, "queue " + name() + " was recreated: its old journal is kept as " + root + "/" + aside);
        }
    }
    JournalOptions jo{root, name(), segment_bytes};
    for (uint32_t p = 0; p < region_->partitions(); ++p)
        journals_.push_back(std::make_unique<PartitionJournal>(*region_, p, jo));
    if (root_fd.valid())
        journal_dir_ = disk::DirFd(::openat(root_fd.get(), name().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!journal_dir_.valid()) return;
    const auto [uid, gid] = region_owner(*region_);
    const std::string meta = format_queue_file(name(), region_->epoch(), region_->options(), uid, gid);
    std::string error;
    if (!disk::replace_file(journal_dir_.get(), "queue", meta, error)) log(Level::error, "journal of " + name() + ": " + error);
}

// Each group's floors, so a journal says what every group had finished:
// "group <name> <exclusive|shared> <floor p0> <floor p1> ...". Written when
// changed, at most once a second, atomically.
void WatchedQueue::save_cursors(uint64_t now_mono) {
    if (!journal_dir_.valid() || now_mono < next_cursor_save_ns_) return;
    next_cursor_save_ns_ = now_mono + 1'000'000'000;
    std::string text = "shmq-cursors 1\nepoch " + hex64(region_->epoch()) + "\n";
    for (uint32_t g = 0; g < region_->max_groups(); ++g) {
        const uint64_t st = region_->group(g).state.load(std::memory_order_acquire);
        if (layout::group_status(st) != layout::kGroupActive) continue;
        text += "group " + detail::group_name(*region_, g) +
                (static_cast<GroupKind>(layout::group_kind(st)) == GroupKind::exclusive ? " exclusive" : " shared");
        const auto replay = replays_.find(g);
        for (uint32_t p = 0; p < region_->partitions(); ++p) {
            // A replaying group stands where its replay does, below the ring.
            std::optional<uint64_t> at;
            if (replay != replays_.end()) at = replay->second->position(p);
            text += " " + std::to_string(at ? *at : region_->group_partition(g, p).floor.load(std::memory_order_acquire));
        }
        text += "\n";
    }
    if (text == saved_cursors_) return;
    std::string error;
    if (disk::replace_file(journal_dir_.get(), "cursors", text, error)) saved_cursors_ = std::move(text);
    else log(Level::error, "journal of " + name() + ": " + error);
}

WatchedQueue::~WatchedQueue() {
    const bool gone = has_reached_end_of_life();
    const bool for_good = region_->lifecycle() == layout::Lifecycle::deleted;
    spills_.clear();  // waits for their writes in flight
    journals_.clear();
    next_cursor_save_ns_ = 0;
    // Removed like a reboot would (or --region-only): the cursors (with the
    // positions of replays) are what a restore goes by, and the spill
    // backlog comes back with it; deleted for good: the journal is set aside.
    if (!for_good && damage_.empty()) save_cursors(sys::monotonic_ns());  // a damaged region's floors mean nothing
    else if (journal_dir_.valid()) retire_journal(data_dir_, name());
    if (gone)
        for (auto& [g, replay] : replays_) replay->abandon();
    if (!spill_dir_.empty() && gone && (for_good || region_->params().journal == 0)) remove_spill_dir();
    for (auto& [index, w] : watched_)
        if (w.pidfd >= 0) ::close(w.pidfd);
    detail::detach_participant(*region_, me_);
}

// The queue is gone, and its spilled messages with it: remove
// DATA/spill/<queue>.<epoch>/p*/ *.seg. unlinkat never follows a symlink.
void WatchedQueue::remove_spill_dir() {
    const int root = ::open(spill_root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) return;
    const int qdir = ::openat(root, spill_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (uint32_t p = 0; qdir >= 0 && p < region_->partitions(); ++p) {
        const std::string pname = "p" + std::to_string(p);
        const int pdir = ::openat(qdir, pname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pdir < 0) continue;
        for (const auto& seg : disk::list_segments(pdir, {})) ::unlinkat(pdir, seg.name.c_str(), 0);
        ::close(pdir);
        ::unlinkat(qdir, pname.c_str(), AT_REMOVEDIR);
    }
    if (qdir >= 0) ::close(qdir);
    if (::unlinkat(root, spill_dir_.c_str(), AT_REMOVEDIR) == 0)
        log(Level::info, "removed the spill files of deleted queue " + name());
    ::close(root);
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
    for (uint32_t p = 0; p < journals_.size(); ++p) {
        uint64_t keep = UINT64_MAX;
        for (const auto& [g, replay] : replays_)
            if (auto at = replay->position(p)) keep = std::min(keep, *at);
        journals_[p]->keep_from(keep);
    }
    return work;
}

int WatchedQueue::on_disk_event(uint64_t now_mono) {
    if (!damage_.empty()) return 0;
    int work = 0;
    for (auto& [g, replay] : replays_) work += replay->feed();
    for (auto& s : spills_) work += s->run(now_mono);
    for (auto& j : journals_) work += j->run(now_mono);
    save_cursors(now_mono);
    return work;
}

bool WatchedQueue::disk_busy() const {
    if (!damage_.empty()) return false;
    for (const auto& s : spills_)
        if (s->active()) return true;
    for (const auto& j : journals_)
        if (j->behind()) return true;
    for (const auto& [g, replay] : replays_)
        if (replay->feeding()) return true;
    return false;
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
    return 1;
}

int WatchedQueue::on_process_exit(uint32_t index) {
    // The pidfd fired: the process is gone, and the kernel dropped its OFD
    // locks when it closed its files, so reap_participant can take the entry.
    return reap(index, "pidfd");
}

int WatchedQueue::sync_participants() {
    int work = 0;
    for (uint32_t i = 0; i < region_->max_participants(); ++i) {
        if (i == me_.index) continue;
        const uint64_t s = region_->participant(i).state.load(std::memory_order_acquire);
        const uint64_t kind = layout::participant_kind(s);
        auto it = watched_.find(i);
        if (kind == layout::kParticipantFree) {
            if (it != watched_.end()) unwatch(i);  // detached cleanly
            continue;
        }
        // The OFD lock tells death in any pid namespace: every tick for an
        // entry without a pidfd, every 100 ticks for one (belt and braces).
        const bool has_pidfd = it != watched_.end() && it->second.pidfd >= 0;
        if (has_pidfd && tick_ % 100 != 0) continue;
        const detail::Liveness l = detail::entry_liveness(*region_, i);
        if (l == detail::Liveness::dead) {
            work += reap(i, has_pidfd ? "lock released" : "lock released; no pidfd");
            continue;
        }
        if (kind != layout::kParticipantActive) continue;  // still attaching
        if (it != watched_.end() && it->second.gen == layout::participant_gen(s)) continue;
        if (it != watched_.end()) unwatch(i);  // the entry was reused
        detail::ParticipantView v{};
        if (detail::read_participant(*region_, i, v)) {
            watch(i, v);
            ++work;
        }
    }
    return work;
}

int WatchedQueue::expire_and_dead_letter(uint64_t now_mono) {
    int work = 0;
    detail::Region& r = *region_;
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        if (!ring::group_holds(r.group(g).state.load(std::memory_order_acquire))) continue;
        for (uint32_t p = 0; p < r.partitions(); ++p) {
            const ring::Window win = ring::lease_window(r, g, p);
            if (win.floor == win.next) continue;
            // Revoke without moving (mover 0): the loop below dead-letters, and logs, what is due.
            const uint32_t expired = ring::expire_leases(r, g, p, now_mono, 0);
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
    // A dead holder of a reclaim lock would block producers: break it.
    for (uint32_t p = 0; p < r.partitions(); ++p)
        if (detail::break_lock_if_dead(r, r.partition(p).reclaim_lock)) {
            ring::reclaim(r, p, me_.token());
            ++work;
        }
    return work;
}

// Slots and lease entries the integrity check reads per tick (a few hundred
// microseconds at most); the fixed tables are read whole every tick.
constexpr uint64_t kIntegrityCellsPerTick = 4096;

// Runs the integrity check; once it fails, the queue is retired for good:
// nothing in it can be trusted, so reaping, expiry, disk work and replays
// stop (they would act on the damage), and the mark is put back if
// overwritten. Deleting the queue ends it.
bool WatchedQueue::found_damaged() {
    if (damage_.empty()) {
        auto found = integrity_->run(kIntegrityCellsPerTick);
        if (!found) return false;
        damage_ = std::move(*found);
        log(Level::error, "queue " + name() + ": region damaged: " + damage_ +
                              "; marked unusable (its producers and consumers now get region_corrupt); "
                              "delete it with `shmq delete " + name() + "` and create it again");
    }
    if (region_->lifecycle() != layout::Lifecycle::corrupt) detail::mark_damaged(*region_, damage_);
    return true;
}

int WatchedQueue::on_time_event(uint64_t now_mono) {
    ++tick_;
    if (found_damaged()) return 0;
    return sync_participants() + expire_and_dead_letter(now_mono) + serve_replays(now_mono);
}

}  // namespace shmq::daemon
