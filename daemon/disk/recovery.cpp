#include "recovery.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "segment_reader.hpp"

namespace shmq::disk {

namespace {

// Returns why a valid header does not belong in this directory, or "".
std::string misplaced(const SegmentHeader& h, const SegmentFile& f, const RecoveryOptions& o) {
    if (h.partition != o.partition)
        return "written for partition " + std::to_string(h.partition) + ", this is " + std::to_string(o.partition);
    if (o.queue_epoch != 0 && h.queue_epoch != o.queue_epoch)
        return "from queue epoch " + std::to_string(h.queue_epoch) + ", expected " + std::to_string(o.queue_epoch);
    if (h.first_offset != f.first_offset)
        return "header says first offset " + std::to_string(h.first_offset) + ", the name another";
    return "";
}

}  // namespace

RecoveryReport recover_partition(int dir_fd, const RecoveryOptions& opts, const RecordFn& on_record) {
    RecoveryReport rep;
    auto log = [&](const std::string& line) {
        if (opts.log) opts.log(line);
    };
    const std::vector<SegmentFile> files = list_segments(dir_fd, [&](const std::string& line) {
        ++rep.refused_segments;
        log(line);
    });
    ScanState state;
    std::vector<std::byte> bytes;
    bool dir_changed = false;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const SegmentFile& f = files[i];
        const bool last = i + 1 == files.size();
        const bool may_repair = opts.repair && last;
        const int fd = ::openat(dir_fd, f.name.c_str(), (may_repair ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            ++rep.refused_segments;
            log(f.name + ": cannot open (" + std::strerror(errno) + "); refused");
            continue;
        }
        DirFd closer(fd);  // closes the file on every path
        std::string err;
        if (!read_whole_file(fd, opts.max_segment_bytes, bytes, err)) {
            ++rep.refused_segments;
            log(f.name + ": " + err + "; refused");
            continue;
        }
        ++rep.segments;
        SegmentHeader h{};
        if (auto bad = check_segment_header(bytes, h)) {
            if (bytes.size() < sizeof(SegmentHeader) && may_repair) {
                // Torn at creation: nothing of it was ever durable.
                ::unlinkat(dir_fd, f.name.c_str(), 0);
                ++rep.removed_segments;
                rep.truncated_bytes += bytes.size();
                dir_changed = true;
                log(f.name + ": " + *bad + "; removed the torn new segment");
                continue;
            }
            ++rep.corrupt;
            log(f.name + ": " + *bad + "; scanning its records anyway");
        } else if (std::string why = misplaced(h, f, opts); !why.empty()) {
            ++rep.refused_segments;
            log(f.name + ": " + why + "; refused");
            continue;
        } else if (f.first_offset >= rep.next_offset) {
            rep.next_offset = f.first_offset;  // offsets from here on were handed out
        }
        const ScanResult r = scan_segment(
            bytes, opts.max_record_bytes, state,
            [&](const RecordView& v) {
                if (rep.records == 0) rep.first_offset = v.offset;
                ++rep.records;
                on_record(v);
            },
            opts.log, f.name);
        rep.corrupt += r.corrupt_regions;
        if (r.tail_bad && !may_repair) ++rep.corrupt;
        if (r.tail_bad && may_repair) {
            if (::ftruncate(fd, static_cast<off_t>(r.good_end)) != 0) {
                log(f.name + ": cannot truncate the torn tail: " + std::strerror(errno));
            } else {
                rep.truncated_bytes += bytes.size() - r.good_end;
                log(f.name + ": truncated a torn tail of " + std::to_string(bytes.size() - r.good_end) +
                    " bytes at byte " + std::to_string(r.good_end));
                ::fdatasync(fd);
            }
        }
        if (may_repair && r.records == 0) {
            // Nothing to keep: remove it so the writer can create this name afresh.
            ::unlinkat(dir_fd, f.name.c_str(), 0);
            ++rep.removed_segments;
            dir_changed = true;
        }
    }
    if (state.have_last) {
        // Saturates: a record at UINT64_MAX (never written by SegmentWriter) leaves nothing to hand out.
        const uint64_t after = state.last_offset == UINT64_MAX ? UINT64_MAX : state.last_offset + 1;
        rep.next_offset = std::max(rep.next_offset, after);
    }
    if (dir_changed) ::fsync(dir_fd);
    return rep;
}

}  // namespace shmq::disk

namespace shmq::disk {

bool truncate_from(int dir_fd, uint64_t offset, const LogFn& log, std::string& error) {
    const std::vector<SegmentFile> files = list_segments(dir_fd, log);
    std::size_t keep = files.size();  // first segment starting at or past `offset`
    for (std::size_t i = 0; i < files.size(); ++i)
        if (files[i].first_offset >= offset) {
            keep = i;
            break;
        }
    for (std::size_t i = keep; i < files.size(); ++i)
        if (::unlinkat(dir_fd, files[i].name.c_str(), 0) != 0 && errno != ENOENT) {
            error = files[i].name + ": cannot remove (" + std::strerror(errno) + ")";
            return false;
        }
    if (keep == 0) return true;
    // Only the last segment starting below `offset` may hold records at or past it.
    const SegmentFile& f = files[keep - 1];
    const int fd = ::openat(dir_fd, f.name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error = f.name + ": cannot open (" + std::strerror(errno) + ")";
        return false;
    }
    DirFd closer(fd);
    std::vector<std::byte> bytes;
    if (!read_whole_file(fd, 1ull << 30, bytes, error)) return false;
    ScanState state;
    uint64_t cut = UINT64_MAX;
    const ScanResult scan = scan_segment(
        bytes, kDefaultMaxRecordBytes, state,
        [&](const RecordView& r) {
            if (r.offset >= offset && cut == UINT64_MAX)
                cut = static_cast<uint64_t>(r.key.data() - bytes.data()) - sizeof(RecordHeader);
        },
        {}, f.name);
    if (cut == UINT64_MAX) cut = scan.good_end;  // nothing at or past `offset`: drop only a bad tail
    if (cut >= bytes.size()) return true;
    if (::ftruncate(fd, static_cast<off_t>(cut)) != 0) {
        error = f.name + ": cannot truncate (" + std::strerror(errno) + ")";
        return false;
    }
    if (log) log(f.name + ": cut at byte " + std::to_string(cut) + " (records from offset " + std::to_string(offset) + " on)");
    return true;
}

}  // namespace shmq::disk
