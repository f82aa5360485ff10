// The directory of one queue partition, DATA/<queue>/p<partition>/, and the
// listing of its segment files. Every path component below DATA is opened
// relative to its parent's fd with O_NOFOLLOW: a symlink anywhere below the
// data dir is refused, never followed. Directories are created 0700.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace shmq::disk {

// One line per event (a refused file, a corrupt record, a truncation).
using LogFn = std::function<void(const std::string&)>;

// Owns a directory fd.
class DirFd {
public:
    DirFd() = default;
    explicit DirFd(int fd) : fd_(fd) {}
    ~DirFd();
    DirFd(DirFd&& o) noexcept : fd_(o.release()) {}
    DirFd& operator=(DirFd&& o) noexcept;
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() { int f = fd_; fd_ = -1; return f; }

private:
    int fd_ = -1;
};

// Queue names as directory names: 1..255 bytes of [A-Za-z0-9._-], not "." or "..".
[[nodiscard]] bool valid_queue_dir_name(std::string_view queue) noexcept;

// Opens (and with `create`, makes 0700) DATA/<queue>/p<partition>. The data
// dir itself may be a symlink (the operator's choice); nothing below it may.
// On failure returns an invalid DirFd and sets `error` to one line.
DirFd open_partition_dir(const std::string& data_dir, std::string_view queue, uint32_t partition, bool create,
                         std::string& error);

struct SegmentFile {
    uint64_t first_offset = 0;
    std::string name;
    uint64_t bytes = 0;
    int64_t mtime_unix_ns = 0;
};

// The regular files named like segments, sorted by first_offset. A segment
// name that is not a regular file (a symlink, a directory) is refused: left
// out and reported through `log`. Other names are ignored.
std::vector<SegmentFile> list_segments(int dir_fd, const LogFn& log);

}  // namespace shmq::disk
