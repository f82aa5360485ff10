#include "retention.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shmq::disk {

RetentionResult apply_retention(int dir_fd, uint64_t retain_bytes, uint64_t retain_ms, int64_t now_unix_ns,
                                const LogFn& log, uint64_t keep_from) {
    RetentionResult r;
    const std::vector<SegmentFile> files = list_segments(dir_fd, log);
    for (const SegmentFile& f : files) r.bytes_kept += f.bytes;
    const int64_t max_age_ns =
        retain_ms > uint64_t{INT64_MAX / 1'000'000} ? INT64_MAX : static_cast<int64_t>(retain_ms * 1'000'000);
    for (std::size_t i = 0; i + 1 < files.size(); ++i) {
        const SegmentFile& f = files[i];
        const bool too_big = retain_bytes != 0 && r.bytes_kept > retain_bytes;
        const bool too_old = retain_ms != 0 && f.mtime_unix_ns < now_unix_ns - max_age_ns;
        if (!too_big && !too_old) break;
        if (files[i + 1].first_offset > keep_from) break;  // f may hold keep_from
        if (::unlinkat(dir_fd, f.name.c_str(), 0) != 0) {
            if (log) log(f.name + ": retention cannot remove it: " + std::strerror(errno));
            break;
        }
        ++r.segments_removed;
        r.bytes_removed += f.bytes;
        r.bytes_kept -= f.bytes;
    }
    if (r.segments_removed > 0) ::fsync(dir_fd);
    return r;
}

}  // namespace shmq::disk
