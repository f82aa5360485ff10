#include "queue_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include "log.hpp"
#include "replay/group_replay.hpp"
#include "restore/queue_file.hpp"
#include "small_file.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::daemon {

namespace {
constexpr uint64_t kCursorSavePeriodNs = 1'000'000'000;
}  // namespace

QueueJournal::QueueJournal(detail::Region& region, const std::string& journal_root, uint64_t segment_bytes)
    : r_(region) {
    ::mkdir(journal_root.c_str(), 0700);
    disk::DirFd root_fd(::open(journal_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (root_fd.valid()) set_aside_other_incarnation(root_fd.get(), journal_root);
    JournalOptions jo{journal_root, r_.name(), segment_bytes};
    for (uint32_t p = 0; p < r_.partitions(); ++p)
        partitions_.push_back(std::make_unique<PartitionJournal>(r_, p, jo));
    if (root_fd.valid())
        dir_ = disk::DirFd(::openat(root_fd.get(), r_.name().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir_.valid()) write_queue_file();
}

QueueJournal::~QueueJournal() = default;

// A `queue` file naming another epoch: that journal is another incarnation's.
void QueueJournal::set_aside_other_incarnation(int root_fd, const std::string& journal_root) {
    const std::string& name = r_.name();
    disk::DirFd qdir(::openat(root_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    std::string text, error;
    if (!qdir.valid() || !disk::read_small_file(qdir.get(), "queue", 64 << 10, text, error) ||
        text.find("\nepoch " + hex64(r_.epoch()) + "\n") != std::string::npos)
        return;
    const std::string aside = name + ".replaced-" + hex64(sys::unix_ns());
    if (::renameat(root_fd, name.c_str(), root_fd, aside.c_str()) == 0)
        log(Level::warn, "queue " + name + " was recreated: its old journal is kept as " + journal_root + "/" + aside);
}

void QueueJournal::write_queue_file() {
    const auto [uid, gid] = region_owner(r_);
    const std::string meta = format_queue_file(r_.name(), r_.epoch(), r_.options(), uid, gid);
    std::string error;
    if (!disk::replace_file(dir_.get(), "queue", meta, error)) log(Level::error, "journal of " + r_.name() + ": " + error);
}

int QueueJournal::run(uint64_t now_mono) {
    int work = 0;
    for (auto& j : partitions_) work += j->run(now_mono);
    return work;
}

bool QueueJournal::behind() const {
    for (const auto& j : partitions_)
        if (j->behind()) return true;
    return false;
}

void QueueJournal::save_cursors(uint64_t now_mono, const ReplayPosition& replay_position) {
    if (!dir_.valid() || now_mono < next_cursor_save_ns_) return;
    next_cursor_save_ns_ = now_mono + kCursorSavePeriodNs;
    std::string text = cursors_text(r_, replay_position);
    if (text == saved_cursors_) return;
    std::string error;
    if (disk::replace_file(dir_.get(), "cursors", text, error)) saved_cursors_ = std::move(text);
    else log(Level::error, "journal of " + r_.name() + ": " + error);
}

bool QueueJournal::save_file(const std::string& name, std::string_view bytes) {
    if (!dir_.valid()) return false;
    std::string error;
    if (disk::replace_file(dir_.get(), name, bytes, error)) return true;
    log(Level::error, "journal of " + r_.name() + ": " + error);
    return false;
}

void QueueJournal::flush_cursors(uint64_t now_mono, const ReplayPosition& replay_position) {
    next_cursor_save_ns_ = 0;
    save_cursors(now_mono, replay_position);
}

}  // namespace shmq::daemon
