// Reads one partition's journal forward from an offset, for replays: one
// segment in memory at a time, read-only (retention, not the reader,
// removes segments; the journal keeps those a replay still needs). Every
// record is validated by disk::scan_segment (bounds, magic, CRC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partition_dir.hpp"
#include "record_codec.hpp"

namespace shmq::daemon {

class JournalCursor {
public:
    JournalCursor(int dir_fd, std::string label, disk::LogFn log)
        : dir_fd_(dir_fd), label_(std::move(label)), log_(std::move(log)) {}

    // The first record with offset >= `from`, or nullptr when the journal
    // holds none. Valid until the next call.
    const disk::RecordView* peek(uint64_t from);
    // The offset of the first record published at or after `unix_ns`, below
    // `below`; segments last written before it are skipped unread.
    std::optional<uint64_t> first_at_or_after(uint64_t unix_ns, uint64_t below);
    // The first offset the journal still holds (its oldest segment's), if any.
    std::optional<uint64_t> first_offset();

private:
    bool load(const disk::SegmentFile& seg, bool newest);

    int dir_fd_;
    std::string label_;
    disk::LogFn log_;
    bool loaded_ = false;
    uint64_t loaded_first_ = 0;
    std::vector<std::byte> bytes_;
    std::vector<disk::RecordView> records_;
    std::size_t index_ = 0;
};

}  // namespace shmq::daemon
