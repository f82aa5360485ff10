// A shmqd under test: its data dir, lock file and log in the test's TempDir,
// started through /bin/sh (so a test can set limits first), its log read back.
// Compile with SHMQD_PATH="$<TARGET_FILE:shmqd>".
#pragma once

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "support/processes.hpp"

#ifndef SHMQD_PATH
#error "define SHMQD_PATH as the path of the shmqd binary"
#endif

namespace shmq::test {

class ShmqdProcess {
public:
    ShmqdProcess(TempDir& dir, Workers& workers) : dir_(dir), workers_(workers) {}

    std::string data_dir() const { return dir_.file("data").string(); }

    // `args`: more flags; `shell_prefix`: commands run before exec (e.g. ulimit).
    // With `wait_started`, waits until the log says "started" (at most 5 s).
    // A test's shmqd serves only the queues its args name (--queue): every
    // other queue on the host belongs to a test running beside it, which its
    // own shmqd (or none) must serve. Without a --queue it serves none.
    Worker& start(const std::string& args = "", const std::string& shell_prefix = "",
                  const std::string& log = "shmqd.log", bool wait_started = true) {
        const std::string queues = args.find("--queue ") == std::string::npos ? " --queue shmq-test-no-queue" : "";
        const std::string cmd = shell_prefix + "exec '" + SHMQD_PATH + "' --tick-ms 20 --data-dir " + data_dir() +
                                " --lock-file " + dir_.file("shmqd.lock").string() + " " + args + queues + " 2>>" +
                                dir_.file(log).string();
        Worker& w = workers_.start_program("shmqd", "/bin/sh", {"-c", cmd});
        if (wait_started) wait_for_log("started", log, std::chrono::seconds(5), count(log, "started") + 1);
        return w;
    }

    // Its exit code (128 + signal if killed), or -1 if it still runs after `timeout`.
    int wait_exit(Worker& w, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (workers_.running(w) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (workers_.running(w)) return -1;
        return WIFEXITED(w.status) ? WEXITSTATUS(w.status) : 128 + WTERMSIG(w.status);
    }

    std::string log_text(const std::string& log = "shmqd.log") const {
        std::ifstream f(dir_.file(log));
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

    std::size_t count(const std::string& log, const std::string& needle) const {
        const std::string text = log_text(log);
        std::size_t n = 0;
        for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
        return n;
    }

    // True once `needle` occurs at least `times` times in the log.
    bool wait_for_log(const std::string& needle, const std::string& log = "shmqd.log",
                      std::chrono::milliseconds timeout = std::chrono::seconds(5), std::size_t times = 1) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (count(log, needle) >= times) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    }

private:
    TempDir& dir_;
    Workers& workers_;
};

}  // namespace shmq::test
