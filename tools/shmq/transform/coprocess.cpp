#include "coprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace shmq::cli::transform {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

Coprocess::Coprocess(const std::vector<std::string>& argv) {
    if (argv.empty()) throw std::runtime_error("no COMMAND to run");
    std::vector<std::string> args = argv;  // built before fork: the child only calls async-signal-safe functions
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int to_child[2], from_child[2], exec_err[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
        ::close(to_child[0]), ::close(to_child[1]);
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    if (::pipe2(exec_err, O_CLOEXEC) != 0) {
        for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1], exec_err[0], exec_err[1]}) ::close(fd);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        ::signal(SIGPIPE, SIG_DFL);  // a filter writing to a closed pipe dies as in a shell pipeline
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::dup2(to_child[0], STDIN_FILENO) < 0 || ::dup2(from_child[1], STDOUT_FILENO) < 0) {
            const int e = errno;
            [[maybe_unused]] auto n = ::write(exec_err[1], &e, sizeof e);
            ::_exit(127);
        }
        ::execvp(cargv[0], cargv.data());
        const int e = errno;
        [[maybe_unused]] auto n = ::write(exec_err[1], &e, sizeof e);
        ::_exit(127);
    }
    pid_ = pid;
    ::close(to_child[0]);
    ::close(from_child[1]);
    ::close(exec_err[1]);
    in_fd_ = to_child[1];
    out_fd_ = from_child[0];
    int e = 0;
    ssize_t n;
    do n = ::read(exec_err[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    ::close(exec_err[0]);
    if (n == static_cast<ssize_t>(sizeof e)) {  // exec failed: the pipe carried its errno
        close_fd(in_fd_);
        close_fd(out_fd_);
        ::waitpid(pid_, &status_, 0);
        reaped_ = true;
        throw std::runtime_error("cannot run COMMAND '" + argv[0] + "': " + std::strerror(e));
    }
    ::fcntl(in_fd_, F_SETFL, ::fcntl(in_fd_, F_GETFL) | O_NONBLOCK);
    ::fcntl(out_fd_, F_SETFL, ::fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
}

Coprocess::~Coprocess() {
    close_fd(in_fd_);
    close_fd(out_fd_);
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
        }
    }
}

void Coprocess::queue_line(std::string_view line) {
    if (out_pos_ != 0 && out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
    }
    out_.append(line);
    out_.push_back('\n');
}

bool Coprocess::write_some() {
    while (out_pos_ < out_.size()) {
        const ssize_t n = ::write(in_fd_, out_.data() + out_pos_, out_.size() - out_pos_);
        if (n > 0) {
            out_pos_ += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        failure_ = errno == EPIPE ? "closed its standard input"
                                  : std::string("could not be written to (") + std::strerror(errno) + ")";
        return false;
    }
    out_.clear();
    out_pos_ = 0;
    return true;
}

bool Coprocess::read_some() {
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n > 0) {
            std::size_t start = 0;
            for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
                if (buf[i] != '\n') continue;
                in_.append(buf + start, i - start);
                replies_.push_back(std::move(in_));
                in_.clear();
                start = i + 1;
            }
            in_.append(buf + start, static_cast<std::size_t>(n) - start);
            if (static_cast<std::size_t>(n) < sizeof buf) return true;
            continue;
        }
        if (n == 0) {
            failure_ = "closed its standard output";
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        failure_ = std::string("could not be read from (") + std::strerror(errno) + ")";
        return false;
    }
}

bool Coprocess::pump(int timeout_ms) {
    if (failed()) return false;
    if (unwritten() != 0 && !write_some()) return false;
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {in_fd_, POLLOUT, 0}};
    const nfds_t nfds = unwritten() != 0 ? 2 : 1;
    const int r = ::poll(fds, nfds, timeout_ms);
    if (r < 0) {
        if (errno == EINTR) return true;
        failure_ = std::string("poll: ") + std::strerror(errno);
        return false;
    }
    // Replies first: what the child wrote before it went away still counts.
    if (fds[0].revents != 0 && !read_some()) return false;
    if (nfds == 2 && fds[1].revents != 0 && !write_some()) return false;
    return true;
}

bool Coprocess::exited() {
    if (reaped_) return true;
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) reaped_ = true;
    return reaped_;
}

std::string Coprocess::finish(int wait_ms, bool* terminated) {
    close_fd(in_fd_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    bool termed = false;
    auto killed_at = std::chrono::steady_clock::time_point::max();
    while (!exited()) {
        const auto now = std::chrono::steady_clock::now();
        if (!termed && now >= deadline) {
            ::kill(pid_, SIGTERM);
            termed = true;
            killed_at = now + std::chrono::seconds(1);
        } else if (termed && now >= killed_at) {
            ::kill(pid_, SIGKILL);
            killed_at = std::chrono::steady_clock::time_point::max();
        }
        // Drain its stdout meanwhile: a child blocked writing to us could not exit.
        if (out_fd_ >= 0) {
            char buf[4096];
            while (::read(out_fd_, buf, sizeof buf) > 0) {
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close_fd(out_fd_);
    if (terminated != nullptr) *terminated = termed;
    return termed ? "did not exit by itself (sent SIGTERM; it " + status_phrase() + ")" : status_phrase();
}

std::string Coprocess::status_phrase() const {
    if (WIFEXITED(status_)) return "exited (status " + std::to_string(WEXITSTATUS(status_)) + ")";
    if (WIFSIGNALED(status_)) return "was killed by signal " + std::to_string(WTERMSIG(status_));
    return "ended (wait status " + std::to_string(status_) + ")";
}

}  // namespace shmq::cli::transform
