// Reads a partition's spill segments back in sequence order for the refill:
// one segment in memory at a time, records served from `from` on and below
// the writer's durable offset. Segments wholly behind the refill are removed.
// Everything read is validated by disk::scan_segment (CRC, bounds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition_dir.hpp"
#include "record_codec.hpp"

namespace shmq::daemon {

class SpillReader {
public:
    // `debug`: where to say what it loads and removes; may be empty.
    SpillReader(int dir_fd, std::string label, disk::LogFn log, disk::LogFn debug = {})
        : dir_fd_(dir_fd), label_(std::move(label)), log_(std::move(log)), debug_(std::move(debug)) {}

    // The first record with offset >= `from` and < `durable_end`, or nullptr
    // when none is readable yet. `current_segment`: first offset of the
    // segment the writer appends to (not removed, re-read when it grew).
    const disk::RecordView* peek(uint64_t from, uint64_t durable_end, uint64_t current_segment);
    void forget();  // drop what is loaded (after the files changed under us)
    uint64_t segments_removed() const { return removed_; }

private:
    bool load(const disk::SegmentFile& seg, bool complete);

    int dir_fd_;
    std::string label_;
    disk::LogFn log_;
    disk::LogFn debug_;
    bool loaded_ = false;
    bool loaded_complete_ = false;  // holds every record it will ever hold
    uint64_t loaded_first_ = 0;
    uint64_t loaded_end_ = 0;  // one past the last record offset loaded
    std::vector<std::byte> bytes_;
    std::vector<disk::RecordView> records_;
    std::size_t index_ = 0;
    uint64_t removed_ = 0;
};

}  // namespace shmq::daemon
