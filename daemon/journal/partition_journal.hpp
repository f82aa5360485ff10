// shmqd's journal of one partition (QueueParams::journal): a built-in reader
// that appends every published message, in offset order, to segments in
// DATA/journal/<queue>/p<N> through io_uring, and deletes whole segments past
// retention. journal_floor (PartitionControl) follows what is written per the
// fsync policy; reclaim never releases a slot above it.
//
// A restarted shmqd cuts the journal back to journal_floor (what was in
// flight may have landed out of order) and journals again from there: the
// slots are still in the ring. So the journal holds every published offset
// once, in order, aborted claims left out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shmq/internal/participants.hpp"
#include "partition_dir.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "segment_writer.hpp"

namespace shmq::daemon {

struct JournalOptions {
    std::string root;       // DATA/journal
    std::string queue_dir;  // <queue>
    uint64_t segment_bytes = 64ull << 20;
};

class PartitionJournal {
public:
    PartitionJournal(detail::Region& region, uint32_t partition, JournalOptions opts);
    ~PartitionJournal();
    PartitionJournal(const PartitionJournal&) = delete;
    PartitionJournal& operator=(const PartitionJournal&) = delete;

    // One turn: append what was published, poll writes, advance
    // journal_floor, apply retention once a second. Returns the work done.
    int run(uint64_t now_mono);
    bool behind() const;  // published messages not yet journaled
    // Retention keeps every segment holding an offset >= this (replays read them).
    void keep_from(uint64_t offset) { keep_from_ = offset; }

private:
    bool restart(uint64_t now_mono);
    void on_error(uint64_t now_mono, const std::string& why);
    void retain(uint64_t now_mono);

    detail::Region& r_;
    uint32_t p_;
    JournalOptions opts_;
    std::string label_;
    ring::RingRef ring_;
    disk::DirFd dir_;
    std::unique_ptr<disk::SegmentWriter> writer_;
    uint64_t next_ = 0;  // next offset to journal
    uint64_t next_retention_ns_ = 0;
    uint64_t retry_at_ns_ = 0;
    bool broken_ = false;
    uint64_t keep_from_ = UINT64_MAX;
};

}  // namespace shmq::daemon
