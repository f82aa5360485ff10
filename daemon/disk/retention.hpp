// Retention of a partition's journal: whole segments only, oldest first, and
// never the newest segment (the one being appended to). A segment's age is
// its file's mtime, i.e. the time of its last write.
#pragma once

#include <cstdint>

#include "partition_dir.hpp"

namespace shmq::disk {

struct RetentionResult {
    uint64_t segments_removed = 0;
    uint64_t bytes_removed = 0;
    uint64_t bytes_kept = 0;
};

// Removes the oldest segments while the partition holds more than
// `retain_bytes` (0: no size limit) or the segment was last written more than
// `retain_ms` before `now_unix_ns` (0: no age limit). Stops at the first
// segment it keeps, so what remains is a contiguous run of offsets.
// Never removes a segment holding an offset >= `keep_from` (a replay still
// reading it).
RetentionResult apply_retention(int dir_fd, uint64_t retain_bytes, uint64_t retain_ms, int64_t now_unix_ns,
                                const LogFn& log, uint64_t keep_from = UINT64_MAX);

}  // namespace shmq::disk
