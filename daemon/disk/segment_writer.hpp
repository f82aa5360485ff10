// Appends records to a partition's segments through io_uring. The only code
// that writes segments; the daemon's loop drives it without blocking:
//
//   append() copies a record into the current write buffer (no syscall unless
//   the buffer fills or the segment rolls);
//   poll() submits the current buffer as one write SQE (plus, per the fsync
//   policy, a linked fdatasync) and reaps finished completions;
//   durable_offset() says how far the records are on disk per the policy;
//   flush() submits and waits for everything: shutdown and tests only.
//
// Invariants: batches complete in submission order as far as durable_offset
// is concerned (a FIFO of in-flight batches); a buffer is never touched while
// its write is in flight; each batch writes one contiguous range of one file
// at a tracked position (no O_APPEND). The first error is sticky: the writer
// refuses further appends, and a new writer (after recovery truncates any torn
// tail) resumes. Segment files are created 0600 with O_EXCL | O_NOFOLLOW
// relative to the partition dir fd.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "partition_dir.hpp"
#include "record_format.hpp"
#include "shmq/shmq.hpp"  // Fsync

namespace shmq::disk {

const char* to_string(Fsync p) noexcept;  // "never", "batch", "always"

struct WriterOptions {
    // never: page cache only (survives a process crash, not a power loss);
    // batch: one fdatasync linked after each submitted batch (group commit);
    // always: every record is its own batch with a linked fdatasync.
    Fsync fsync = Fsync::batch;
    uint64_t segment_bytes = 64ull << 20;  // roll once a segment would pass this
    std::size_t buffer_bytes = 256u << 10;  // one write SQE carries at most this much (or one bigger record)
    unsigned max_batches_in_flight = 4;
    std::size_t max_record_bytes = kDefaultMaxRecordBytes;
    uint32_t partition = 0;
    uint64_t queue_epoch = 0;
    std::string label;  // for messages, e.g. "orders/p0"
};

enum class WriteStatus {
    ok,
    busy,          // every buffer is in flight: call poll() and retry
    disk_full,     // ENOSPC, EDQUOT or EFBIG: the caller reports `overloaded`
    io_error,      // any other I/O failure
    bad_argument,  // offset not above the last one, or a record too large
};
const char* to_string(WriteStatus s) noexcept;

class SegmentWriter {
public:
    // Takes a duplicate of `partition_dir_fd`. The first segment is created
    // at the first append, named after its offset. Returns nullptr and sets
    // `error` when io_uring cannot be set up.
    static std::unique_ptr<SegmentWriter> open(int partition_dir_fd, const WriterOptions& opts,
                                               uint64_t next_offset, std::string& error);
    ~SegmentWriter();  // waits for in-flight writes (never leaves the kernel writing freed buffers)
    SegmentWriter(const SegmentWriter&) = delete;
    SegmentWriter& operator=(const SegmentWriter&) = delete;

    // `offset` must be >= next_offset() and < UINT64_MAX (gaps are allowed,
    // never going back).
    [[nodiscard]] WriteStatus append(uint64_t offset, std::span<const std::byte> key,
                                     std::span<const std::byte> payload, uint64_t publish_unix_ns,
                                     uint16_t flags = 0);
    // Submits the pending buffer, reaps completions without waiting. Returns
    // the work done (batches submitted + completions reaped).
    int poll();
    // Submits everything and waits until it completed. Returns the status.
    [[nodiscard]] WriteStatus flush();

    WriteStatus status() const { return status_; }
    const std::string& error() const { return error_; }  // one line when status() is an error
    uint64_t next_offset() const { return next_offset_; }
    // Every record with a lower offset is written (and synced per the policy).
    uint64_t durable_offset() const { return durable_offset_; }
    std::size_t batches_in_flight() const { return in_flight_.size(); }
    uint64_t segments_created() const { return segments_created_; }
    // First offset of the segment being appended to; UINT64_MAX before the first append.
    uint64_t current_segment_first_offset() const;
    // The next append starts a new segment (if the current one holds any
    // record): a reader may then read the current one whole, once.
    void roll_at_next_append() { roll_requested_ = true; }

private:
    struct Segment;
    struct Batch;
    SegmentWriter(int dir_fd, const WriterOptions& opts, uint64_t next_offset);
    WriteStatus roll(uint64_t first_offset);
    Batch* take_free_batch(std::size_t min_bytes);
    void seal_current();
    bool submit_batch(std::size_t index);
    int reap(bool wait);
    void on_cqe(uint64_t user_data, int res);
    void complete_front();
    void fail(int err, const char* what);

    DirFd dir_;
    WriterOptions opts_;
    io_uring ring_{};
    bool ring_ok_ = false;
    std::vector<std::unique_ptr<Batch>> batches_;
    std::vector<std::size_t> free_;
    std::deque<std::size_t> in_flight_;  // submission order
    long current_ = -1;                  // batch being filled, or -1
    std::shared_ptr<Segment> segment_;   // the segment being appended to
    uint64_t next_offset_;
    uint64_t durable_offset_;
    uint64_t segments_created_ = 0;
    bool roll_requested_ = false;
    WriteStatus status_ = WriteStatus::ok;
    std::string error_;
};

}  // namespace shmq::disk
