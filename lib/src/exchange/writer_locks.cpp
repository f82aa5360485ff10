#include "writer_locks.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "exchange_common.hpp"

namespace shmq::detail::exchange {

namespace {

constexpr std::string_view kGraphLock = "/dev/shm/shmq-x-graph.lock";

// Blocks until this process holds the OFD write lock of byte `at` of `fd`
// (or fails with the errno). The kernel releases it at close or death.
int lock_byte(int fd, uint64_t at) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(at);
    fl.l_len = 1;
    while (::fcntl(fd, F_OFD_SETLKW, &fl) != 0)
        if (errno != EINTR) return errno;
    return 0;
}

void unlock_byte(int fd, uint64_t at) noexcept {
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(at);
    fl.l_len = 1;
    (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

}  // namespace

WriterLock::WriterLock(int fd, const std::string& what) : fd_(fd) {
    if (int e = lock_byte(fd_, xlayout::kWriterLockByte))
        fail(Errc::invalid_argument, "cannot lock " + what + ": " + errno_text(e));
}

WriterLock::~WriterLock() { unlock_byte(fd_, xlayout::kWriterLockByte); }

GraphLock::GraphLock() {
    fd_ = ::open(std::string(kGraphLock).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0)
        fail(errno == EACCES ? Errc::permission_denied : Errc::invalid_argument,
             "cannot open " + std::string(kGraphLock) + ": " + errno_text(errno) +
                 "; exchange-to-exchange binds need it (remove it if it belongs to another user)");
    if (int e = lock_byte(fd_, 0)) {
        ::close(fd_);
        fail(Errc::invalid_argument, "cannot lock " + std::string(kGraphLock) + ": " + errno_text(e));
    }
}

GraphLock::~GraphLock() { ::close(fd_); }

}  // namespace shmq::detail::exchange
