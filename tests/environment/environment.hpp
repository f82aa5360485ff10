// Helpers of the hostile-environment tests: a function run in a forked child
// (as another user, under a resource limit, in a new namespace) reporting a
// line back through a pipe; probes for the capabilities those need, so a test
// skips with the reason instead of failing where it cannot run.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "shmq/shmq.hpp"

namespace shmq::test {

inline constexpr uid_t kNobody = 65534;  // nobody / nogroup on Debian
inline constexpr gid_t kNogroup = 65534;

struct ChildResult {
    int exit_code = -1;  // -1: killed by a signal (see signal)
    int signal = 0;
    std::string text;    // what the child wrote to its pipe
};

// Runs `body(write_fd)` in a forked child and returns its exit code and
// everything it wrote to write_fd. The child ends with _exit(body's value);
// an exception escaping body is reported as exit 99 with its what().
inline ChildResult in_child(const std::function<int(int)>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, 0, std::string("pipe: ") + std::strerror(errno)};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        int rc = 99;
        try {
            rc = body(fds[1]);
        } catch (const std::exception& e) {
            [[maybe_unused]] auto n = ::write(fds[1], e.what(), std::strlen(e.what()));
        }
        ::_exit(rc);
    }
    ::close(fds[1]);
    ChildResult r;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
            r.text.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
}

inline void write_text(int fd, const std::string& text) {
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

// In a child: become uid:gid with no supplementary groups. False if not allowed.
inline bool become(uid_t uid, gid_t gid) {
    return ::setgroups(0, nullptr) == 0 && ::setgid(gid) == 0 && ::setuid(uid) == 0;
}

// The child's `Error` as "code|message", or "ok".
inline std::string describe_error(const std::function<void()>& op) {
    try {
        op();
        return "ok";
    } catch (const Error& e) {
        return std::string(to_string(e.code())) + "|" + e.what();
    }
}

// Why this process cannot switch to another user (nullopt: it can).
inline std::optional<std::string> cannot_switch_user() {
    if (::geteuid() != 0) return std::string("needs root (to run children as uid 65534)");
    const auto r = in_child([](int) { return become(kNobody, kNogroup) ? 0 : 1; });
    if (r.exit_code != 0) return std::string("setuid/setgid to 65534 is not permitted here");
    return std::nullopt;
}

// Why `unshare FLAGS true` does not work here (nullopt: it does).
inline std::optional<std::string> cannot_unshare(const std::string& flags) {
    const std::string cmd = "unshare " + flags + " true >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return "`unshare " + flags + "` is not permitted here (needs root or a user namespace)";
    return std::nullopt;
}

// Why a tmpfs cannot be mounted in a new mount namespace here (nullopt: it can).
inline std::optional<std::string> cannot_mount_tmpfs() {
    if (auto why = cannot_unshare("--mount")) return why;
    const std::string cmd =
        "unshare --mount sh -c 'mount -t tmpfs -o size=64k tmpfs /mnt' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string("mounting a tmpfs in a new mount namespace is not permitted here");
    return std::nullopt;
}

inline bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

inline std::size_t count_lines(const std::string& text) {
    std::size_t n = 0;
    for (char c : text) n += c == '\n';
    return n;
}

}  // namespace shmq::test
