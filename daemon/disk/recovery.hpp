// Recovery of one partition's segments at start (and read-only scans for
// replay): every valid record in offset order, the next offset to write, and
// repairs so the writer can append again.
//
// Rules (docs/DISK.md "Recovery"):
//  - segments are read in first_offset order; symlinks and non-regular files
//    are refused, never opened through;
//  - a segment whose header is valid but names another partition, another
//    queue epoch, or a first offset other than its file name is refused whole;
//    a bad header alone is reported and its records are still scanned (each
//    record carries its own magic and CRC);
//  - a record must validate (bounds, magic, CRC) and its offset must rise
//    strictly; otherwise it is skipped, counted and logged, and the scan
//    resynchronizes on the next valid record;
//  - bad bytes after the last valid record of the LAST segment are a torn
//    tail: with `repair`, the file is truncated to its last valid record, and
//    a last segment left without records is removed;
//  - bad bytes at the end of any other segment are counted as corruption.
// Each record is returned once; nothing is modified without `repair`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "partition_dir.hpp"
#include "record_codec.hpp"

namespace shmq::disk {

struct RecoveryOptions {
    uint32_t partition = 0;
    uint64_t queue_epoch = 0;  // 0: accept any epoch
    std::size_t max_record_bytes = kDefaultMaxRecordBytes;
    uint64_t max_segment_bytes = 1ull << 30;  // larger files are refused, never read
    bool repair = true;
    LogFn log;
};

struct RecoveryReport {
    uint64_t next_offset = 0;  // above every recovered record and every segment's first offset
    uint64_t segments = 0;     // segment files scanned
    uint64_t records = 0;
    uint64_t corrupt = 0;  // corrupt records/regions and bad headers skipped
    uint64_t refused_segments = 0;
    uint64_t truncated_bytes = 0;
    uint64_t removed_segments = 0;  // empty last segments removed by repair
    uint64_t first_offset = 0;      // of the first recovered record (valid when records > 0)
};

using RecordFn = std::function<void(const RecordView&)>;

// `dir_fd` is the partition directory (open_partition_dir). The spans of each
// RecordView are valid only during its callback.
RecoveryReport recover_partition(int dir_fd, const RecoveryOptions& opts, const RecordFn& on_record);

// Removes every record with an offset >= `offset` (segments starting there
// are removed, the one before is cut at its first such record) and any bad
// tail of that segment: a writer may then append from `offset`. Used when
// what is on disk past a point cannot be trusted to be complete (writes
// that were in flight when shmqd died may have landed out of order).
[[nodiscard]] bool truncate_from(int dir_fd, uint64_t offset, const LogFn& log, std::string& error);

}  // namespace shmq::disk
