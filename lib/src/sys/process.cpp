#include "shmq/internal/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace shmq::sys {

std::optional<uint64_t> process_start_ticks(pid_t pid) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    // The command name (field 2) may contain spaces and ')': start after the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr) return std::nullopt;
    ++p;
    // Fields 3.. follow; field 22 is starttime: skip 19 fields after ')'.
    for (int field = 3; field < 22; ++field) {
        p = std::strchr(p + 1, ' ');
        if (p == nullptr) return std::nullopt;
    }
    char* end = nullptr;
    errno = 0;
    unsigned long long ticks = std::strtoull(p + 1, &end, 10);
    if (errno != 0 || end == p + 1) return std::nullopt;
    return ticks;
}

uint64_t pid_namespace_inode() noexcept {
    // A process never changes pid namespace, but a fork may start in another
    // one (after unshare(CLONE_NEWPID)): the cache is keyed by pid, so a
    // child never uses its parent's answer.
    thread_local pid_t cached_pid = 0;
    thread_local uint64_t cached_ns = 0;
    const pid_t pid = ::getpid();
    if (pid == cached_pid && cached_ns != 0) return cached_ns;
    struct stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
    cached_pid = pid;
    cached_ns = static_cast<uint64_t>(st.st_ino);
    return cached_ns;
}

PidCheck check_pid(pid_t pid, uint64_t start_ticks, uint64_t pid_ns) noexcept {
    const uint64_t our_ns = pid_namespace_inode();
    if (pid <= 0) return PidCheck::dead;
    if (pid_ns == 0 || our_ns == 0 || pid_ns != our_ns) return PidCheck::unknown;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return PidCheck::dead;
    auto now = process_start_ticks(pid);
    if (!now) return PidCheck::dead;  // vanished between kill() and /proc
    return *now == start_ticks ? PidCheck::alive : PidCheck::dead;
}

namespace {
struct flock byte_lock(short type, uint64_t byte) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(byte);
    fl.l_len = 1;
    fl.l_pid = 0;  // required for OFD locks
    return fl;
}
}  // namespace

bool try_lock_byte(int fd, uint64_t byte) noexcept {
    struct flock fl = byte_lock(F_WRLCK, byte);
    return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

void unlock_byte(int fd, uint64_t byte) noexcept {
    struct flock fl = byte_lock(F_UNLCK, byte);
    ::fcntl(fd, F_OFD_SETLK, &fl);
}

bool byte_is_locked_by_other(int fd, uint64_t byte) noexcept {
    struct flock fl = byte_lock(F_WRLCK, byte);
    if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return true;  // cannot tell: assume held (alive)
    return fl.l_type != F_UNLCK;
}

}  // namespace shmq::sys
