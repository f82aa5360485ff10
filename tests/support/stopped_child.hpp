// A child process stopped (SIGSTOP) at one of the library's crash points
// (shmq/internal/crash_points.hpp), for a test to inspect and then SIGKILL.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "shmq/internal/crash_points.hpp"

namespace shmq::test {

// In a child: stop the next time the library passes `at`.
inline void stop_at(detail::CrashPoint at) {
    static detail::CrashPoint point;
    point = at;
    detail::crash_hook = [](detail::CrashPoint here) {
        if (here == point) ::raise(SIGSTOP);
    };
}

// Forks a child running `body` (its exit code; an exception exits 5), and
// returns once the child has stopped, which `body` arranges with stop_at.
template <class Body>
pid_t fork_until_stopped(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 5;
        try {
            code = body();
        } catch (...) {
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, WUNTRACED);
    EXPECT_TRUE(WIFSTOPPED(status)) << "the child did not reach its crash point";
    return pid;
}

}  // namespace shmq::test
