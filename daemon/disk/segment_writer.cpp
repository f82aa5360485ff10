#include "segment_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "record_codec.hpp"

namespace shmq::disk {

namespace {
// user_data = batch index << 2 | kind.
enum Kind : uint64_t { kWrite = 0, kSyncFile = 1, kSyncDir = 2 };
}  // namespace

struct SegmentWriter::Segment {
    int fd = -1;
    uint64_t size = 0;  // bytes appended (header included), written or not
    uint64_t records = 0;
    uint64_t first_offset = 0;
    ~Segment() {
        if (fd >= 0) ::close(fd);
    }
};

struct SegmentWriter::Batch {
    std::vector<std::byte> buf;
    std::size_t len = 0;      // bytes filled
    std::size_t written = 0;  // bytes the kernel reported written
    uint64_t file_pos = 0;    // where buf[0] goes in the file
    uint64_t end_offset = 0;  // next_offset after this batch's last record
    std::shared_ptr<Segment> seg;
    int pending = 0;  // CQEs still to come for the current submission
    bool resubmit = false;
    bool done = false;
};

const char* to_string(Fsync p) noexcept {
    switch (p) {
    case Fsync::never: return "never";
    case Fsync::batch: return "batch";
    case Fsync::always: return "always";
    }
    return "?";
}

const char* to_string(WriteStatus s) noexcept {
    switch (s) {
    case WriteStatus::ok: return "ok";
    case WriteStatus::busy: return "busy";
    case WriteStatus::disk_full: return "disk full";
    case WriteStatus::io_error: return "I/O error";
    case WriteStatus::bad_argument: return "bad argument";
    }
    return "?";
}

SegmentWriter::SegmentWriter(int dir_fd, const WriterOptions& opts, uint64_t next_offset)
    : dir_(dir_fd), opts_(opts), next_offset_(next_offset), durable_offset_(next_offset) {}

std::unique_ptr<SegmentWriter> SegmentWriter::open(int partition_dir_fd, const WriterOptions& opts,
                                                   uint64_t next_offset, std::string& error) {
    if (opts.max_batches_in_flight == 0 || opts.max_batches_in_flight > 256 || opts.buffer_bytes == 0) {
        error = "bad writer options: 1..256 batches in flight and a non-empty buffer";
        return nullptr;
    }
    const int fd = ::fcntl(partition_dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("cannot duplicate the partition dir fd: ") + std::strerror(errno);
        return nullptr;
    }
    std::unique_ptr<SegmentWriter> w(new SegmentWriter(fd, opts, next_offset));
    // Up to three SQEs per batch (write, fdatasync, directory fsync).
    const int rc = io_uring_queue_init(opts.max_batches_in_flight * 3, &w->ring_, 0);
    if (rc < 0) {
        error = std::string("io_uring setup failed: ") + std::strerror(-rc);
        return nullptr;
    }
    w->ring_ok_ = true;
    for (unsigned i = 0; i < opts.max_batches_in_flight; ++i) {
        w->batches_.push_back(std::make_unique<Batch>());
        w->free_.push_back(i);
    }
    return w;
}

SegmentWriter::~SegmentWriter() {
    if (!ring_ok_) return;
    seal_current();
    // The kernel may still read our buffers: wait for every completion.
    while (!in_flight_.empty())
        if (reap(true) < 0) break;
    io_uring_queue_exit(&ring_);
}

void SegmentWriter::fail(int err, const char* what) {
    if (status_ != WriteStatus::ok) return;  // the first error sticks
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    status_ = full ? WriteStatus::disk_full : WriteStatus::io_error;
    const std::string where = opts_.label.empty() ? std::string("segment") : opts_.label;
    error_ = (full ? "overloaded: data dir full (" : "disk write failed (") + where + ": " + what + ": " +
             std::strerror(err) + ")";
}

uint64_t SegmentWriter::current_segment_first_offset() const {
    return segment_ ? segment_->first_offset : UINT64_MAX;
}

WriteStatus SegmentWriter::roll(uint64_t first_offset) {
    const std::string name = segment_file_name(first_offset);
    const int fd = ::openat(dir_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(errno, ("create " + name).c_str());
        return status_;
    }
    segment_ = std::make_shared<Segment>();
    segment_->fd = fd;
    segment_->first_offset = first_offset;
    roll_requested_ = false;
    ++segments_created_;
    return WriteStatus::ok;
}

SegmentWriter::Batch* SegmentWriter::take_free_batch(std::size_t min_bytes) {
    if (free_.empty()) return nullptr;
    current_ = static_cast<long>(free_.back());
    free_.pop_back();
    Batch& b = *batches_[static_cast<std::size_t>(current_)];
    if (b.buf.size() < min_bytes) b.buf.resize(min_bytes);
    b.len = b.written = 0;
    b.pending = 0;
    b.resubmit = b.done = false;
    b.seg = segment_;
    b.file_pos = segment_->size;
    b.end_offset = next_offset_;
    return &b;
}

WriteStatus SegmentWriter::append(uint64_t offset, std::span<const std::byte> key,
                                  std::span<const std::byte> payload, uint64_t publish_unix_ns, uint16_t flags) {
    if (status_ != WriteStatus::ok) return status_;
    // UINT64_MAX is refused so that next_offset (offset + 1) never wraps.
    if (offset < next_offset_ || offset == UINT64_MAX || key.size() > kMaxKeyBytes ||
        key.size() + payload.size() > opts_.max_record_bytes)
        return WriteStatus::bad_argument;
    const auto rs = static_cast<std::size_t>(record_size(key.size(), payload.size()));
    const bool new_segment =
        !segment_ || (segment_->records > 0 && (roll_requested_ || segment_->size + rs > opts_.segment_bytes));
    Batch* b = current_ >= 0 ? batches_[static_cast<std::size_t>(current_)].get() : nullptr;
    if (new_segment || (b && b->len + rs > b->buf.size())) {
        seal_current();
        b = nullptr;
    }
    if (status_ != WriteStatus::ok) return status_;
    if (!b && free_.empty()) return WriteStatus::busy;  // nothing changed; retry after poll()
    if (new_segment) {
        if (roll(offset) != WriteStatus::ok) return status_;
        const SegmentHeader h = make_segment_header(opts_.partition, opts_.queue_epoch, offset);
        b = take_free_batch(std::max(opts_.buffer_bytes, sizeof h + rs));
        std::memcpy(b->buf.data(), &h, sizeof h);
        b->len = sizeof h;
        segment_->size = sizeof h;
    } else if (!b) {
        b = take_free_batch(std::max(opts_.buffer_bytes, rs));
    }
    encode_record(std::span(b->buf).subspan(b->len, rs), offset, publish_unix_ns, flags, key, payload);
    b->len += rs;
    b->end_offset = offset + 1;
    segment_->size += rs;
    ++segment_->records;
    next_offset_ = offset + 1;
    if (opts_.fsync == Fsync::always || b->len >= opts_.buffer_bytes) seal_current();
    return status_;
}

void SegmentWriter::seal_current() {
    if (current_ < 0) return;
    const auto idx = static_cast<std::size_t>(current_);
    current_ = -1;
    if (batches_[idx]->len == 0) {
        batches_[idx]->seg.reset();
        free_.push_back(idx);
        return;
    }
    in_flight_.push_back(idx);
    // After an error nothing more is submitted; the batch completes as failed.
    if (status_ != WriteStatus::ok || !submit_batch(idx)) batches_[idx]->done = true;
}

bool SegmentWriter::submit_batch(std::size_t idx) {
    Batch& b = *batches_[idx];
    const bool sync = opts_.fsync != Fsync::never;
    // A new file's name is durable only once its directory is synced.
    const bool sync_dir = sync && b.file_pos == 0;
    io_uring_sqe* w = io_uring_get_sqe(&ring_);
    io_uring_sqe* s = sync ? io_uring_get_sqe(&ring_) : nullptr;
    io_uring_sqe* d = sync_dir ? io_uring_get_sqe(&ring_) : nullptr;
    if (!w || (sync && !s) || (sync_dir && !d)) {  // cannot happen: 3 SQEs per batch are reserved
        fail(EBUSY, "no free submission entry");
        return false;
    }
    const std::size_t left = b.len - b.written;
    io_uring_prep_write(w, b.seg->fd, b.buf.data() + b.written, static_cast<unsigned>(left),
                        b.file_pos + b.written);
    io_uring_sqe_set_data64(w, idx << 2 | kWrite);
    b.pending = 1;
    if (s) {
        // The sync starts only after the write fully succeeded (a short or
        // failed write cancels it).
        w->flags |= IOSQE_IO_LINK;
        io_uring_prep_fsync(s, b.seg->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(s, idx << 2 | kSyncFile);
        ++b.pending;
    }
    if (d) {
        s->flags |= IOSQE_IO_LINK;
        io_uring_prep_fsync(d, dir_.get(), 0);
        io_uring_sqe_set_data64(d, idx << 2 | kSyncDir);
        ++b.pending;
    }
    const int rc = io_uring_submit(&ring_);
    if (rc < 0) {
        // The SQEs stay queued: reap(true) submits them again before waiting.
        fail(-rc, "io_uring_submit");
    }
    return true;
}

void SegmentWriter::on_cqe(uint64_t ud, int res) {
    const std::size_t idx = ud >> 2;
    if (idx >= batches_.size()) return;  // not ours: ignore
    Batch& b = *batches_[idx];
    const uint64_t kind = ud & 3;
    --b.pending;
    if (kind == kWrite) {
        if (res < 0) {
            fail(-res, "write");
        } else {
            b.written += static_cast<std::size_t>(res);
            if (b.written < b.len) {
                if (res == 0) fail(EIO, "write made no progress");
                else b.resubmit = true;  // short write: the rest goes again
            }
        }
    } else if (res == -ECANCELED) {
        if (!b.resubmit && status_ == WriteStatus::ok) fail(ECANCELED, "sync cancelled");
    } else if (res < 0) {
        fail(-res, kind == kSyncFile ? "fdatasync" : "directory fsync");
    }
    if (b.pending > 0) return;
    if (b.resubmit && status_ == WriteStatus::ok) {
        b.resubmit = false;
        if (submit_batch(idx)) return;
    }
    b.done = true;
}

void SegmentWriter::complete_front() {
    while (!in_flight_.empty() && batches_[in_flight_.front()]->done) {
        Batch& b = *batches_[in_flight_.front()];
        // After an error nothing more counts as durable: a gap may precede it.
        if (status_ == WriteStatus::ok) durable_offset_ = b.end_offset;
        b.seg.reset();  // closes a rolled-away segment once its last batch is done
        free_.push_back(in_flight_.front());
        in_flight_.pop_front();
    }
}

int SegmentWriter::reap(bool wait) {
    int n = 0;
    io_uring_cqe* cqe = nullptr;
    complete_front();  // batches failed before submission complete without a CQE
    if (wait && !in_flight_.empty()) {
        // Submits anything a failed io_uring_submit left queued, then waits.
        int rc;
        do rc = io_uring_submit_and_wait(&ring_, 1);
        while (rc == -EINTR);
        if (rc < 0) {
            fail(-rc, "io_uring_submit_and_wait");
            return -1;
        }
    }
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe) {
        on_cqe(io_uring_cqe_get_data64(cqe), cqe->res);
        io_uring_cqe_seen(&ring_, cqe);
        ++n;
    }
    complete_front();
    return n;
}

int SegmentWriter::poll() {
    int work = 0;
    if (current_ >= 0 && batches_[static_cast<std::size_t>(current_)]->len > 0 &&
        status_ == WriteStatus::ok) {
        seal_current();
        ++work;
    }
    if (!in_flight_.empty()) work += std::max(0, reap(false));
    return work;
}

WriteStatus SegmentWriter::flush() {
    seal_current();
    while (!in_flight_.empty())
        if (reap(true) < 0) break;
    return status_;
}

}  // namespace shmq::disk
