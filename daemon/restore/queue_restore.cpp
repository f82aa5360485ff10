#include "queue_restore.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <functional>

#include "delay_snapshot.hpp"
#include "group_replay.hpp"
#include "log.hpp"
#include "shmq/internal/names.hpp"
#include "partition_dir.hpp"
#include "queue_file.hpp"
#include "record_dedup.hpp"
#include "recovery.hpp"
#include "shmq/internal/dedup.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"
#include "small_file.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::daemon {

namespace {

bool read_description(const std::string& root, const std::string& name, QueueFile& out, std::string& cursors,
                      std::string& error) {
    disk::DirFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd.valid()) return false;
    disk::DirFd qdir(::openat(root_fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    std::string text;
    if (!qdir.valid() || !disk::read_small_file(qdir.get(), "queue", 64 << 10, text, error)) return false;
    auto parsed = parse_queue_file(text, error);
    if (!parsed || parsed->name != name) return false;  // another queue's (a journal set aside)
    out = std::move(*parsed);
    std::string ignored;
    if (!disk::read_small_file(qdir.get(), "cursors", 16 << 20, cursors, ignored)) cursors.clear();
    return true;
}

// The delayed messages of shmqd's last snapshot (journal/delay_snapshot.hpp),
// or none (no file: nothing was delayed; a bad one is logged and left).
std::vector<detail::RestoredDelayed> read_delayed(const std::string& root, const std::string& name, uint64_t epoch,
                                                  const QueueOptions& o) {
    std::vector<detail::RestoredDelayed> out;
    if (o.delay_capacity == 0) return out;
    disk::DirFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd.valid()) return out;
    disk::DirFd qdir(::openat(root_fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    std::string bytes, error;
    const std::size_t max = std::size_t{o.delay_capacity} * (o.max_message + 256u) + 4096;
    if (!qdir.valid() || !disk::read_small_file(qdir.get(), kDelayedFile, max, bytes, error)) return out;
    if (!decode_delayed(bytes, epoch, o.max_message, o.partitions, out, error))
        log(Level::warn, "restore of " + name + ": " + kDelayedFile + " left out: " + error);
    return out;
}

// Recovers DATA/<root>/<dir>/p<partition> (torn tail cut, corrupt records
// skipped and logged); a report of zero records when there is no such directory.
disk::RecoveryReport recover_segments(const std::string& root, const std::string& dir_name, uint32_t p,
                                      uint64_t epoch, const std::string& label,
                                      const std::function<void(const disk::RecordView&)>& each = {}) {
    std::string error;
    disk::DirFd dir = disk::open_partition_dir(root, dir_name, p, /*create=*/false, error);
    if (!dir.valid()) return {};
    disk::RecoveryOptions ro;
    ro.partition = p;
    ro.queue_epoch = epoch;
    ro.log = [&](const std::string& line) { log(Level::warn, label + "/p" + std::to_string(p) + ": " + line); };
    return disk::recover_partition(dir.get(), ro, [&](const disk::RecordView& rec) {
        if (each) each(rec);
    });
}

// Collects the dedup ids of records published within the window (their
// entries go back into the new region's table: deduplication holds across
// the restore). Records whose id does not parse are left out.
class WindowIds {
public:
    WindowIds(const QueueOptions& o, std::vector<detail::RestoredDedupId>& out)
        : window_ms_(o.dedup_window_ms), now_ms_(sys::unix_ns() / 1'000'000), out_(out) {}

    std::function<void(const disk::RecordView&)> collector(uint32_t partition, bool staged) {
        if (window_ms_ == 0) return {};
        return [this, partition, staged](const disk::RecordView& rec) {
            const uint64_t ms = rec.publish_unix_ns / 1'000'000;
            if (ms > now_ms_ || now_ms_ - ms >= window_ms_) return;
            const auto key_id = disk::split_key(rec.flags, rec.key);
            if (!key_id || key_id->id.empty()) return;
            const dedup::IdHash h =
                dedup::hash_id({reinterpret_cast<const char*>(key_id->id.data()), key_id->id.size()});
            out_.push_back({h.a, h.b, partition, rec.offset, ms, staged});
        };
    }

private:
    uint64_t window_ms_;
    uint64_t now_ms_;
    std::vector<detail::RestoredDedupId>& out_;
};

}  // namespace

std::vector<std::string> journaled_queues(const std::string& data_dir) {
    std::vector<std::string> out;
    const std::string root = data_dir + "/journal";
    // Never through a symlink: DATA/journal must be the data dir's own.
    const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (d == nullptr) {
        if (fd >= 0) ::close(fd);
        return out;
    }
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (detail::check_name(name, "queue") || e->d_type != DT_DIR) continue;
        QueueFile f;
        std::string cursors, error;
        if (read_description(root, name, f, cursors, error)) out.push_back(name);
    }
    ::closedir(d);
    return out;
}

bool restore_from_journal(const std::string& data_dir, const std::string& name) {
    if (Queue::exists(name)) return false;
    const std::string root = data_dir + "/journal";
    QueueFile f;
    std::string cursors_text, error;
    if (!read_description(root, name, f, cursors_text, error)) {
        if (!error.empty()) log(Level::error, "cannot restore queue " + name + " from its journal: " + error);
        return false;
    }
    const QueueOptions& o = f.options;
    const uint32_t partitions = o.partitions;
    if (partitions == 0 || partitions > layout::kMaxPartitions) {
        log(Level::error, "cannot restore queue " + name + ": its journal says " + std::to_string(partitions) + " partitions");
        return false;
    }
    // Each partition's journal: where it ends (the ring goes on from there)
    // and where it starts. Recovery cuts a torn tail, so it can be appended to.
    std::vector<uint64_t> end(partitions), first(partitions);
    detail::CreateSpec spec;
    WindowIds window_ids(o, spec.dedup_ids);
    for (uint32_t p = 0; p < partitions; ++p) {
        const auto report = recover_segments(root, name, p, f.epoch, "restore of " + name,
                                             window_ids.collector(p, /*staged=*/false));
        end[p] = report.next_offset;
        first[p] = report.records > 0 ? report.first_offset : report.next_offset;
    }
    const uint32_t uid = f.owner ? f.owner->first : ::geteuid();
    const uint32_t gid = f.owner ? f.owner->second : ::getegid();
    spec.epoch = f.epoch;
    spec.base = end;
    spec.delayed = read_delayed(root, name, f.epoch, o);
    uint64_t spilled = 0;
    // on_full=spill: the backlog on disk (spill sequences), refilled into the
    // ring before anything newer. A partly refilled segment may give a few
    // messages twice (at-least-once).
    if (o.on_full == OnFull::spill) {
        for (uint32_t p = 0; p < partitions; ++p) {
            // After the journal's: an id refilled and journaled keeps its offset.
            const auto report = recover_segments(data_dir + "/spill", spill_dir_name(name, f.epoch), p, f.epoch,
                                                 "restore of " + name + " spill",
                                                 window_ids.collector(p, /*staged=*/true));
            if (report.records == 0) continue;
            spec.spill_backlog.resize(partitions);
            spec.spill_backlog[p] = {report.first_offset, report.next_offset};
            spilled += report.records;
        }
    }
    std::string cursor_error;
    std::vector<GroupCursor> groups = parse_cursors_file(cursors_text, f.epoch, partitions, cursor_error);
    if (!cursor_error.empty()) log(Level::warn, "restore of " + name + ": " + cursor_error);
    if (groups.size() > o.max_groups) groups.resize(o.max_groups);

    std::vector<std::string> made;
    uint64_t to_redeliver = 0;
    try {
        for (const auto& g : groups) {
            std::vector<uint64_t> base(partitions);
            uint64_t messages = 0;
            for (uint32_t p = 0; p < partitions; ++p) {
                base[p] = std::min(std::max(g.floors[p], first[p]), end[p]);
                if (base[p] > g.floors[p])
                    log(Level::warn, "restore of " + name + ": group " + g.name + " partition " + std::to_string(p) +
                                         ": its position " + std::to_string(g.floors[p]) + " is older than the journal (" +
                                         std::to_string(first[p]) + "); going on from there");
                messages += end[p] - base[p];
            }
            layout::ReplayState replay = layout::ReplayState::none;
            if (messages > 0) {
                make_replay_region(name, o, uid, gid, g.name, g.kind, base, end);
                made.push_back(g.name);
                replay = layout::ReplayState::running;
                to_redeliver += messages;
            }
            spec.groups.push_back({g.name, g.kind, replay});
        }
        give_region_to(*detail::Region::create(name, o, spec), uid, gid);
    } catch (const std::exception& e) {
        for (const auto& g : made)
            boost::interprocess::shared_memory_object::remove(detail::replay_object_name(name, g).c_str());
        log(Level::error, "cannot restore queue " + name + " from its journal: " + e.what());
        return false;
    }
    log(Level::info, "restored queue " + name + " from its journal (epoch " + hex64(f.epoch) + "): " +
                         std::to_string(groups.size()) + " group(s), " + std::to_string(to_redeliver) +
                         " message(s) not yet ACKed to deliver again from it" +
                         (spilled ? ", " + std::to_string(spilled) + " spilled message(s) to refill" : "") +
                         (o.dedup_window_ms ? ", " + std::to_string(spec.dedup_ids.size()) +
                                                  " record(s) with a dedup id within the window"
                                            : "") +
                         (spec.delayed.empty() ? "" : ", " + std::to_string(spec.delayed.size()) + " delayed message(s)"));
    return true;
}

void retire_journal(const std::string& data_dir, const std::string& name) {
    const std::string root = data_dir + "/journal";
    const std::string aside = name + ".deleted-" + hex64(sys::unix_ns());
    if (::renameat(AT_FDCWD, (root + "/" + name).c_str(), AT_FDCWD, (root + "/" + aside).c_str()) == 0)
        log(Level::info, "queue " + name + " was deleted: its journal is kept as " + root + "/" + aside +
                             " (remove it when no longer wanted)");
}

}  // namespace shmq::daemon
