#include "fork_guard.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "errors.hpp"

namespace shmq::python {

namespace {
std::atomic<uint64_t> g_generation{0};
// This process's pid, refreshed in a fork's child: one getpid() per process,
// not per handle (every Message has a ForkStamp).
std::atomic<pid_t> g_pid{0};

// Only async-signal-safe calls (raw syscalls, stack buffers): the handler
// runs in the child of a possibly multi-threaded parent.
void neutralize_region_descriptors() noexcept {
    const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return;
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    alignas(8) char buf[4096];
    static constexpr char kPrefix[] = "/dev/shm/shmq.";
    for (;;) {
        const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0) break;
        for (long at = 0; at < n;) {
            struct Entry {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[1];
            };
            const auto* e = reinterpret_cast<const Entry*>(buf + at);
            at += e->reclen;
            int fd = 0;
            bool number = e->name[0] != '\0';
            for (const char* c = e->name; *c != '\0'; ++c) {
                if (*c < '0' || *c > '9') number = false;
                else fd = fd * 10 + (*c - '0');
            }
            if (!number || fd == dir || fd == devnull) continue;
            char target[256];
            const ssize_t len = ::readlinkat(dir, e->name, target, sizeof target - 1);
            if (len < static_cast<ssize_t>(sizeof kPrefix - 1)) continue;
            if (std::memcmp(target, kPrefix, sizeof kPrefix - 1) != 0) continue;
            // The number stays taken (by /dev/null), so a later close of it
            // by anyone closes nothing of someone else's.
            if (devnull >= 0) ::dup3(devnull, fd, O_CLOEXEC);
            else ::close(fd);
        }
    }
    if (devnull >= 0) ::close(devnull);
    ::close(dir);
}

void in_child() noexcept {
    g_generation.fetch_add(1, std::memory_order_relaxed);
    g_pid.store(::getpid(), std::memory_order_relaxed);  // async-signal-safe
    neutralize_region_descriptors();
}
}  // namespace

void install_fork_guard() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_pid.store(::getpid(), std::memory_order_relaxed);
        ::pthread_atfork(nullptr, nullptr, in_child);
    });
}

uint64_t fork_generation() noexcept { return g_generation.load(std::memory_order_relaxed); }

pid_t ForkStamp::current_pid() noexcept {
    const pid_t pid = g_pid.load(std::memory_order_relaxed);
    return pid != 0 ? pid : ::getpid();  // 0: before install_fork_guard
}

void ForkStamp::check(const char* handle) const {
    if (!same_process()) raise_used_after_fork(handle, static_cast<long>(pid));
}

}  // namespace shmq::python
