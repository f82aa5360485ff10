// The journal of one queue, DATA/journal/<queue>/: `queue` (what the region
// was created with, its epoch), `cursors` (each group's floors; both files:
// restore/queue_file.hpp) and p<N>/ segments (partition_journal.hpp). A
// journal of another incarnation of the name (another epoch) is moved aside,
// never appended to or cut.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cursors_text.hpp"
#include "partition_dir.hpp"
#include "partition_journal.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::daemon {

class QueueJournal {
public:
    // Opens (creates) the journal of `region` under `journal_root`
    // (DATA/journal), journals every partition in segments of `segment_bytes`
    // and writes `queue`. Logs what fails; never throws for the disk.
    QueueJournal(detail::Region& region, const std::string& journal_root, uint64_t segment_bytes);
    ~QueueJournal();
    QueueJournal(const QueueJournal&) = delete;
    QueueJournal& operator=(const QueueJournal&) = delete;

    // One turn of every partition's journal; returns the work done.
    int run(uint64_t now_mono);
    bool behind() const;  // some partition has published messages not yet journaled
    uint32_t partitions() const { return static_cast<uint32_t>(partitions_.size()); }
    // Retention of `partition` keeps every segment holding an offset >= this.
    void keep_from(uint32_t partition, uint64_t offset) { partitions_[partition]->keep_from(offset); }
    // Stops journaling; waits for the writes in flight.
    void stop() { partitions_.clear(); }

    // Writes `cursors` when changed, at most once a second, atomically.
    void save_cursors(uint64_t now_mono, const ReplayPosition& replay_position);
    // Writes `cursors` now if changed, however recently it was written.
    void flush_cursors(uint64_t now_mono, const ReplayPosition& replay_position);
    // Replaces DATA/journal/<queue>/<name> with `bytes` (atomically, durably);
    // logs and returns false when it cannot.
    bool save_file(const std::string& name, std::string_view bytes);
    // The queue's directory is open: cursors are saved in it.
    bool dir_open() const { return dir_.valid(); }

private:
    void set_aside_other_incarnation(int root_fd, const std::string& journal_root);
    void write_queue_file();

    detail::Region& r_;
    std::vector<std::unique_ptr<PartitionJournal>> partitions_;
    disk::DirFd dir_;            // DATA/journal/<queue>
    std::string saved_cursors_;  // last text written to `cursors`
    uint64_t next_cursor_save_ns_ = 0;
};

}  // namespace shmq::daemon
