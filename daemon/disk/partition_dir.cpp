#include "partition_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "record_codec.hpp"

namespace shmq::disk {

DirFd::~DirFd() {
    if (fd_ >= 0) ::close(fd_);
}

DirFd& DirFd::operator=(DirFd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

bool valid_queue_dir_name(std::string_view q) noexcept {
    if (q.empty() || q.size() > 255 || q == "." || q == "..") return false;
    return std::all_of(q.begin(), q.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

namespace {

// Opens `name` under `parent` as a directory, never through a symlink.
int open_subdir(int parent, const char* name, bool create) {
    if (create && ::mkdirat(parent, name, 0700) != 0 && errno != EEXIST) return -1;
    return ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

std::string errno_text(int e) {
    if (e == ELOOP || e == ENOTDIR) return "is a symlink or not a directory; refused";
    return std::strerror(e);
}

}  // namespace

DirFd open_partition_dir(const std::string& data_dir, std::string_view queue, uint32_t partition, bool create,
                         std::string& error) {
    if (!valid_queue_dir_name(queue)) {
        error = "bad queue name for the data dir: '" + std::string(queue) + "'";
        return {};
    }
    if (create && ::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        error = "cannot create data dir " + data_dir + ": " + std::strerror(errno);
        return {};
    }
    DirFd root(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) {
        error = "cannot open data dir " + data_dir + ": " + std::strerror(errno);
        return {};
    }
    const std::string qname(queue);
    DirFd qdir(open_subdir(root.get(), qname.c_str(), create));
    if (!qdir.valid()) {
        error = data_dir + "/" + qname + ": " + errno_text(errno);
        return {};
    }
    const std::string pname = "p" + std::to_string(partition);
    DirFd pdir(open_subdir(qdir.get(), pname.c_str(), create));
    if (!pdir.valid()) {
        error = data_dir + "/" + qname + "/" + pname + ": " + errno_text(errno);
        return {};
    }
    return pdir;
}

std::vector<SegmentFile> list_segments(int dir_fd, const LogFn& log) {
    std::vector<SegmentFile> out;
    // fdopendir takes ownership of its fd: give it a duplicate.
    const int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        if (log) log(std::string("cannot list segments: ") + std::strerror(errno));
        return out;
    }
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        if (log) log(std::string("cannot list segments: ") + std::strerror(errno));
        return out;
    }
    ::rewinddir(d);
    while (const dirent* e = ::readdir(d)) {
        uint64_t first = 0;
        if (!parse_segment_file_name(e->d_name, first)) continue;
        struct stat st{};
        if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode)) {
            if (log) log(std::string("segment ") + e->d_name + " is not a regular file (symlink?); refused");
            continue;
        }
        out.push_back({first, e->d_name, static_cast<uint64_t>(st.st_size),
                       int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const SegmentFile& a, const SegmentFile& b) {
        return a.first_offset < b.first_offset;
    });
    return out;
}

}  // namespace shmq::disk
