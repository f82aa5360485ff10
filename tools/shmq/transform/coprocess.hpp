// `shmq transform`'s COMMAND: one child process fed lines on its standard
// input, answering one line each on its standard output (its standard error
// is ours). Non-blocking pipes driven by poll(), so a COMMAND that answers
// while we are still writing never deadlocks against us.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace shmq::cli::transform {

class Coprocess {
public:
    // Forks and execs argv[0] (searched in PATH). Throws std::runtime_error
    // (one line) when it cannot be started. The child gets its own process
    // group (a terminal's ^C goes to transform, which then closes the
    // child's stdin) and SIGTERM when transform dies.
    explicit Coprocess(const std::vector<std::string>& argv);
    Coprocess(const Coprocess&) = delete;
    Coprocess& operator=(const Coprocess&) = delete;
    ~Coprocess();  // closes the pipes; SIGKILLs and reaps a child still running

    // Queues `line` + '\n' for the child (written by pump()).
    void queue_line(std::string_view line);
    std::size_t unwritten() const noexcept { return out_.size() - out_pos_; }

    // Writes what it can and reads what is there, waiting up to `timeout_ms`
    // (-1: forever, 0: not at all) for progress on either side. Complete
    // reply lines go to replies(). Returns false once the child failed us:
    // its stdout ended (EOF) or a write found its stdin closed (EPIPE); see
    // failure(). EINTR returns true (the caller checks its stop flag).
    bool pump(int timeout_ms);
    std::deque<std::string>& replies() noexcept { return replies_; }

    // Why pump() returned false, e.g. "closed its standard output".
    const std::string& failure() const noexcept { return failure_; }
    bool failed() const noexcept { return !failure_.empty(); }

    // Closes the child's stdin (end of input) and waits up to `wait_ms` for
    // it to exit (then SIGTERM, and SIGKILL 1 s later; *terminated says so).
    // Returns a phrase for messages: "exited (status 3)", "was killed by signal 9".
    std::string finish(int wait_ms, bool* terminated = nullptr);
    // Non-blocking: has the child exited? (Reaps it.) Used when idle.
    bool exited();

private:
    bool write_some();
    bool read_some();
    std::string status_phrase() const;

    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    int in_fd_ = -1;   // the child's stdin (our write end)
    int out_fd_ = -1;  // the child's stdout (our read end)
    std::string out_;  // bytes not yet written
    std::size_t out_pos_ = 0;
    std::string in_;  // bytes read, not yet a whole line
    std::deque<std::string> replies_;
    std::string failure_;
};

}  // namespace shmq::cli::transform
