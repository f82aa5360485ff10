// The orchestrator's child processes (fork + execv): started with
// PR_SET_PDEATHSIG so they die with it, waited for with deadlines, and
// SIGKILLed and reaped by ~Children if still running (an error, ^C).
#pragma once

#include <sys/types.h>
#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace examples {

struct Child {
    std::string label;  // "worker 2", for messages
    pid_t pid = -1;
    bool reaped = false;
    int status = 0;  // from waitpid, once reaped

    bool exited_zero() const;
    std::string describe() const;  // "charger 1 (pid 123) exited with status 2"
};

class Children {
public:
    using Deadline = std::chrono::steady_clock::time_point;

    Children() = default;
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    ~Children();

    // Starts `path args...`; its stdout is ours, its stderr ours or appended to `stderr_path`.
    Child& spawn(std::string label, const std::string& path, const std::vector<std::string>& args,
                 const std::string& stderr_path = "");
    bool running(Child& c);                     // reaps it if it has exited
    bool wait(Child& c, Deadline deadline);     // true when it exited before the deadline
    void kill(Child& c);                        // SIGKILL now, and reap
    void stop(Child& c, Deadline deadline);     // SIGTERM; SIGKILL at the deadline
    bool pause(Child& c);                       // SIGSTOP; true once it is stopped (false: it exited)
    void resume(Child& c);                      // SIGCONT

private:
    std::deque<Child> children_;  // deque: references stay valid
};

// This program's own path (/proc/self/exe), to start itself in other roles.
std::string self_path();

// Runs `path args...` to completion; returns its stdout. Throws with one line
// when it cannot start or exits non-zero (its stderr is ours).
std::string run_capture(const std::string& path, const std::vector<std::string>& args);

}  // namespace examples
