#include "segment_reader.hpp"
#include "record_dedup.hpp"
#include "sync_uring.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shmq::disk {

bool read_whole_file(int fd, uint64_t max_bytes, std::vector<std::byte>& out, std::string& error) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        error = std::string("fstat: ") + std::strerror(errno);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        error = "not a regular file";
        return false;
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size > max_bytes) {
        error = std::to_string(size) + " bytes, above the " + std::to_string(max_bytes) + "-byte segment limit";
        return false;
    }
    out.resize(static_cast<std::size_t>(size));
    // Through io_uring like every disk access of shmqd (files come whole;
    // reads are sequential anyway). A short read: the file shrank under us.
    std::size_t got = 0;
    while (got < out.size()) {
        const auto chunk = static_cast<unsigned>(std::min<std::size_t>(out.size() - got, 1u << 30));
        const int n = read_at(fd, out.data() + got, chunk, got);
        if (n == -EINTR || n == -EAGAIN) continue;
        if (n < 0) {
            error = std::string("read: ") + std::strerror(-n);
            return false;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return true;
}

bool read_segment_records(int dir_fd, const SegmentFile& seg, std::vector<std::byte>& bytes,
                          std::vector<RecordView>& records, const LogFn& scan_log, const std::string& label,
                          std::string& error) {
    const int fd = ::openat(dir_fd, seg.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("open: ") + std::strerror(errno);
        return false;
    }
    const bool ok = read_whole_file(fd, 1ull << 30, bytes, error);
    ::close(fd);
    if (!ok) return false;
    ScanState state;
    scan_segment(bytes, kDefaultMaxRecordBytes, state, [&](const RecordView& r) { records.push_back(r); }, scan_log,
                 label);
    return true;
}

namespace {

bool acceptable(std::span<const std::byte> file, uint64_t pos, std::size_t max_record, const ScanState& st,
                RecordView& v, RecordCheck& why) {
    why = check_record(file.subspan(static_cast<std::size_t>(pos)), max_record, v);
    return why == RecordCheck::ok && (!st.have_last || v.offset > st.last_offset);
}

}  // namespace

ScanResult scan_segment(std::span<const std::byte> file, std::size_t max_record_bytes, ScanState& state,
                        const std::function<void(const RecordView&)>& on_record, const LogFn& log,
                        const std::string& label) {
    ScanResult r;
    const uint64_t size = file.size();
    const uint32_t version = segment_version(file);  // an older segment's flags are read as today's
    uint64_t pos = std::min<uint64_t>(sizeof(SegmentHeader), size);
    r.good_end = pos;
    while (pos < size) {
        RecordView v;
        RecordCheck why;
        if (acceptable(file, pos, max_record_bytes, state, v, why)) {
            v.flags = flags_of_version(version, v.flags);
            on_record(v);
            ++r.records;
            state.have_last = true;
            state.last_offset = v.offset;
            pos += v.size;  // > 0: at least a header
            r.good_end = pos;
            continue;
        }
        const char* reason = why == RecordCheck::ok ? "offset not above the previous one" : to_string(why);
        // Resync: records start 8-aligned, so try every later 8-aligned position.
        uint64_t q = pos + kRecordAlign;
        RecordView skip;
        RecordCheck ignored;
        while (q + sizeof(RecordHeader) <= size && !acceptable(file, q, max_record_bytes, state, skip, ignored))
            q += kRecordAlign;
        if (q + sizeof(RecordHeader) > size) {
            r.tail_bad = true;
            if (log)
                log(label + ": no valid record in the last " + std::to_string(size - pos) + " bytes from byte " +
                    std::to_string(pos) + " (" + reason + ")");
            break;
        }
        ++r.corrupt_regions;
        if (log)
            log(label + ": corrupt record at byte " + std::to_string(pos) + " (" + reason + "); skipped " +
                std::to_string(q - pos) + " bytes");
        pos = q;
    }
    return r;
}

}  // namespace shmq::disk
