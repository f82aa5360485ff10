#include "small_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "partition_dir.hpp"
#include "segment_reader.hpp"
#include "sync_uring.hpp"

namespace shmq::disk {

bool replace_file(int dir_fd, const std::string& name, std::string_view text, std::string& error) {
    const std::string tmp = name + ".tmp";
    const int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = tmp + ": cannot create (" + std::strerror(errno) + ")";
        return false;
    }
    DirFd closer(fd);
    int rc = run_uring(2, [&](io_uring& ring) {
        io_uring_sqe* w = io_uring_get_sqe(&ring);
        io_uring_prep_write(w, fd, text.data(), static_cast<unsigned>(text.size()), 0);
        w->flags |= IOSQE_IO_LINK;
        io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, 0);
    });
    if (rc < 0) {
        error = tmp + ": write (" + std::strerror(-rc) + ")";
        return false;
    }
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
        error = name + ": rename (" + std::strerror(errno) + ")";
        return false;
    }
    rc = run_uring(1, [&](io_uring& ring) { io_uring_prep_fsync(io_uring_get_sqe(&ring), dir_fd, 0); });
    if (rc < 0) {
        error = name + ": directory fsync (" + std::strerror(-rc) + ")";
        return false;
    }
    return true;
}

bool read_small_file(int dir_fd, const std::string& name, std::size_t max_bytes, std::string& out, std::string& error) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error = name + ": " + std::strerror(errno);
        return false;
    }
    DirFd closer(fd);
    std::vector<std::byte> bytes;
    if (!read_whole_file(fd, max_bytes, bytes, error)) return false;
    out.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return true;
}

}  // namespace shmq::disk
