#include "children.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace examples {

namespace {

// fork + execv with argv built before the fork: the child calls only
// async-signal-safe functions. `out_fd`/`err_fd` (if >= 0) become its stdout/stderr.
pid_t start(const std::string& path, const std::vector<std::string>& args, int out_fd, int err_fd) {
    std::vector<std::string> strings{path};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
        if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
        if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
        ::execv(argv[0], argv.data());
        static const char msg[] = "example: execv of a child process failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    return pid;
}

int wait_blocking(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

}  // namespace

bool Child::exited_zero() const { return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string Child::describe() const {
    std::string s = label + " (pid " + std::to_string(pid) + ")";
    if (!reaped) return s + " is still running";
    if (WIFEXITED(status)) return s + " exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return s + " was killed by signal " + std::to_string(WTERMSIG(status));
    return s + " ended with wait status " + std::to_string(status);
}

Children::~Children() {
    for (auto& c : children_) kill(c);
}

Child& Children::spawn(std::string label, const std::string& path, const std::vector<std::string>& args,
                       const std::string& stderr_path) {
    int err_fd = -1;
    if (!stderr_path.empty()) {
        err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (err_fd < 0) throw std::runtime_error("cannot open " + stderr_path + ": " + std::strerror(errno));
    }
    pid_t pid = -1;
    try {
        pid = start(path, args, -1, err_fd);
    } catch (...) {
        if (err_fd >= 0) ::close(err_fd);
        throw;
    }
    if (err_fd >= 0) ::close(err_fd);
    Child& c = children_.emplace_back();
    c.label = std::move(label);
    c.pid = pid;
    return c;
}

bool Children::running(Child& c) {
    if (c.reaped) return false;
    int st = 0;
    const pid_t r = ::waitpid(c.pid, &st, WNOHANG);
    if (r == c.pid) {
        c.reaped = true;
        c.status = st;
    }
    return !c.reaped;
}

bool Children::wait(Child& c, Deadline deadline) {
    while (running(c)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

void Children::kill(Child& c) {
    if (!running(c)) return;
    ::kill(c.pid, SIGKILL);
    c.status = wait_blocking(c.pid);
    c.reaped = true;
}

void Children::stop(Child& c, Deadline deadline) {
    if (!running(c)) return;
    ::kill(c.pid, SIGTERM);
    if (!wait(c, deadline)) kill(c);
}

bool Children::pause(Child& c) {
    if (!running(c)) return false;
    ::kill(c.pid, SIGSTOP);
    int st = 0;
    while (::waitpid(c.pid, &st, WUNTRACED) < 0 && errno == EINTR) {
    }
    if (WIFSTOPPED(st)) return true;
    c.reaped = true;  // it exited before the signal landed
    c.status = st;
    return false;
}

void Children::resume(Child& c) {
    if (!c.reaped) ::kill(c.pid, SIGCONT);
}

std::string self_path() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) throw std::runtime_error(std::string("cannot read /proc/self/exe: ") + std::strerror(errno));
    return std::string(buf, static_cast<std::size_t>(n));
}

std::string run_capture(const std::string& path, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
    pid_t pid = -1;
    try {
        pid = start(path, args, fds[1], -1);  // dup2 clears O_CLOEXEC on the child's stdout
    } catch (...) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw;
    }
    ::close(fds[1]);
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    const int st = wait_blocking(pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        std::string cmd = path;
        for (auto& a : args) cmd += " " + a;
        throw std::runtime_error("'" + cmd + "' failed (wait status " + std::to_string(st) + ")");
    }
    return out;
}

}  // namespace examples
