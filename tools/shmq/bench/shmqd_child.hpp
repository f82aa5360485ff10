// shmqd as a child of `shmq bench daemon`: started with a private data
// directory, lock file and log in a temporary directory of its own (so it
// neither meets the host's shmqd nor serves other people's queues), told the
// queues to serve with --queue, its /metrics on a free loopback port. The
// log is a file the bench reads, never a pipe shmqd could block on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace shmq::cli::bench {

// The shmqd to measure: `wanted` if set, else one beside this shmq binary
// (build tree: build/bin; installed: ../sbin), else the first in PATH.
std::string find_shmqd(const std::string& wanted);

class ShmqdChild {
public:
    // Starts shmqd and waits until it logged "started", its metrics port,
    // and "watching queue NAME" for every queue; throws BenchError with the
    // log's last lines if it exits or `limit` passes.
    ShmqdChild(const std::string& binary, const std::vector<std::string>& queues, std::chrono::milliseconds limit);
    ~ShmqdChild();  // SIGKILLs it and removes the temporary directory
    ShmqdChild(const ShmqdChild&) = delete;
    ShmqdChild& operator=(const ShmqdChild&) = delete;

    pid_t pid() const noexcept { return pid_; }
    uint16_t metrics_port() const noexcept { return port_; }
    double startup_ms() const noexcept { return startup_ms_; }  // spawn to the last "watching queue"
    const std::string& dir() const noexcept { return dir_; }
    std::string log_tail(std::size_t lines) const;
    // Throws BenchError (with the log's last lines) if shmqd has exited.
    void check_alive();

private:
    void start(const std::string& binary, const std::vector<std::string>& queues, std::chrono::milliseconds limit);
    void stop() noexcept;
    void wait_ready(std::size_t queues, std::chrono::milliseconds limit);
    std::string read_log() const;
    Shared<ChildError> errors_;
    Children kids_{errors_.get()};
    std::string dir_, log_, lock_, data_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    double startup_ms_ = 0;
};

}  // namespace shmq::cli::bench
