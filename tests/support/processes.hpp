// Helpers for the multi-process tests: running shmq_test_worker processes
// (fork + execv), waiting for them with a deadline (SIGKILL when it passes),
// scratch directories, and reading back the consumers' record files.
//
// The worker's path comes from the build: compile with
//   SHMQ_TEST_WORKER="$<TARGET_FILE:shmq_test_worker>".
#pragma once

#include <gtest/gtest.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include "support/record_retract.hpp"
#include "support/scale.hpp"

#ifndef SHMQ_TEST_WORKER
#error "define SHMQ_TEST_WORKER as the path of the shmq_test_worker binary"
#endif

namespace shmq::test {

inline const char* worker_path() { return SHMQ_TEST_WORKER; }

// A fresh directory under $TMPDIR (or /tmp), removed with its contents at
// destruction unless keep() was called (do that when a test failed, so the
// record files can be looked at).
class TempDir {
public:
    explicit TempDir(const char* tag) {
        std::string templ =
            (std::filesystem::temp_directory_path() / (std::string("shmq-") + tag + "-XXXXXX")).string();
        if (::mkdtemp(templ.data()) == nullptr)
            throw std::runtime_error("mkdtemp " + templ + " failed: " + std::strerror(errno));
        path_ = templ;
    }
    ~TempDir() {
        if (keep_) return;
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path file(const std::string& name) const { return path_ / name; }
    void keep() { keep_ = true; }

private:
    std::filesystem::path path_;
    bool keep_ = false;
};

// One worker process.
struct Worker {
    std::string label;  // e.g. "consumer c1", for failure messages
    pid_t pid = -1;
    bool reaped = false;
    bool timed_out = false;  // killed by us when its deadline passed
    int status = 0;          // from waitpid, once reaped

    bool succeeded() const { return reaped && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
    std::string describe() const {
        std::string s = label + " (pid " + std::to_string(pid) + ")";
        if (!reaped) return s + " is still running";
        if (timed_out) return s + " did not finish before its deadline; killed with SIGKILL";
        if (WIFEXITED(status)) return s + " exited with status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return s + " was killed by signal " + std::to_string(WTERMSIG(status));
        return s + " ended with wait status " + std::to_string(status);
    }
};

// The worker processes of one test. Whatever is still running when this
// goes away (a failed ASSERT, an exception) is killed with SIGKILL and reaped.
class Workers {
public:
    using Clock = std::chrono::steady_clock;

    Workers() = default;
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    ~Workers() {
        for (auto& w : workers_) kill_and_reap(w, false);
    }

    // Starts `shmq_test_worker args...`; its stdout/stderr are ours.
    Worker& start(std::string label, const std::vector<std::string>& args) {
        return start_program(std::move(label), worker_path(), args);
    }

    // Starts any program (e.g. shmqd) the same way.
    Worker& start_program(std::string label, const std::string& path, const std::vector<std::string>& args) {
        std::vector<std::string> argv_strings;
        argv_strings.emplace_back(path);
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;  // built before fork: the child only calls async-signal-safe functions
        for (auto& a : argv_strings) argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
        if (pid == 0) {
            // Die with the test process (a ctest timeout kills only the test).
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::execv(argv[0], argv.data());
            static const char msg[] = "shmq test: execv of the worker failed\n";
            [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
            ::_exit(127);
        }
        Worker& w = workers_.emplace_back();
        w.label = std::move(label);
        w.pid = pid;
        return w;
    }

    // A simulated crash: SIGKILL now, and reap.
    void kill(Worker& w) { kill_and_reap(w, false); }

    // True while the worker has not exited (reaps it if it has).
    bool running(Worker& w) {
        poll(w);
        return !w.reaped;
    }

    // Waits until every worker in `ws` has exited or `timeout` passed; the ones
    // still running then are killed (SIGKILL). Success iff all exited with 0.
    // With `needed` (e.g. the consumers that producers depend on): when all of
    // those have exited and `grace` has passed, stop waiting early (the rest
    // can only be stalled) and report it.
    testing::AssertionResult wait(const std::vector<Worker*>& ws, std::chrono::milliseconds timeout,
                                  const std::vector<Worker*>& needed = {},
                                  std::chrono::milliseconds grace = std::chrono::seconds(10)) {
        const auto start = Clock::now();
        const auto deadline = start + timeout;
        std::optional<Clock::time_point> needed_gone;
        for (;;) {
            bool all = true;
            for (Worker* w : ws) all &= !running(*w);
            if (all || Clock::now() >= deadline) break;
            if (!needed.empty() && !needed_gone) {
                bool gone = true;
                for (Worker* w : needed) gone &= !running(*w);
                if (gone) needed_gone = Clock::now();
            }
            if (needed_gone && Clock::now() - *needed_gone >= grace) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        for (Worker* w : ws) kill_and_reap(*w, true);
        bool ok = true;
        std::string failures;
        for (Worker* w : ws) {
            if (w->succeeded()) continue;
            ok = false;
            failures += "\n  " + w->describe();
        }
        if (ok) return testing::AssertionSuccess();
        auto f = testing::AssertionFailure();
        f << "worker(s) failed (waited " << waited.count() << " ms of up to " << timeout.count() << " ms):" << failures;
        if (needed_gone && Clock::now() - *needed_gone >= grace) {
            f << "\n  (stopped waiting " << grace.count() << " ms after all of ";
            for (std::size_t i = 0; i < needed.size(); ++i) f << (i ? ", " : "") << needed[i]->label;
            f << " had exited: the rest were stalled)";
        }
        return f;
    }

    testing::AssertionResult wait_all(std::chrono::milliseconds timeout) {
        std::vector<Worker*> ws;
        for (auto& w : workers_) ws.push_back(&w);
        return wait(ws, timeout);
    }

private:
    static void poll(Worker& w) {
        if (w.reaped) return;
        int st = 0;
        const pid_t r = ::waitpid(w.pid, &st, WNOHANG);
        if (r == w.pid) {
            w.reaped = true;
            w.status = st;
        } else if (r < 0 && errno == ECHILD) {
            w.reaped = true;  // not ours any more (cannot happen in these tests)
            w.status = -1;
        }
    }
    static void kill_and_reap(Worker& w, bool mark_timeout) {
        poll(w);
        if (w.reaped) return;
        ::kill(w.pid, SIGKILL);
        int st = 0;
        while (::waitpid(w.pid, &st, 0) < 0 && errno == EINTR) {
        }
        w.reaped = true;
        w.status = st;
        w.timed_out = mark_timeout;
    }

    std::deque<Worker> workers_;  // deque: references stay valid
};

// CPU time (user + system, in clock ticks) a live process has used so far.
inline std::optional<uint64_t> cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(paren + 2));  // field 3 onwards
    std::string f;
    uint64_t utime = 0;
    uint64_t stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
    }
    if (!fields) return std::nullopt;
    return utime + stime;
}

// One line a consumer wrote: "K:i partition offset deliveries key received_ns".
struct Record {
    uint32_t producer = 0;  // K
    uint64_t seq = 0;       // i
    uint32_t partition = 0;
    uint64_t offset = 0;
    uint32_t deliveries = 0;
    std::string key;    // "-" for none
    uint64_t received_ns = 0;  // CLOCK_MONOTONIC when the consumer received it
    uint64_t acking_ns = 0;    // consume --hold-us: CLOCK_MONOTONIC just before its ACK (0: not written)
    uint32_t file = 0;  // index of the file it came from, in read order
    uint64_t line = 0;  // line number in that file, from 1
};

struct Records {
    std::vector<std::filesystem::path> files;
    std::vector<Record> records;
    std::vector<std::string> problems;  // unreadable files, malformed lines (first few)
    std::size_t malformed = 0;
    std::size_t torn = 0;  // unterminated last lines skipped (allow_torn_tail)
};

namespace detail_records {

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

inline bool parse_line(std::string_view line, Record& r) {
    std::string_view f[6];
    for (int i = 0; i < 6; ++i) {
        const auto sp = line.find(' ');
        if (i < 5 && sp == std::string_view::npos) return false;
        f[i] = i < 5 ? line.substr(0, sp) : line;
        if (i < 5) line.remove_prefix(sp + 1);
    }
    // An optional seventh field: acking_ns.
    if (const auto sp = f[5].find(' '); sp != std::string_view::npos) {
        if (!parse_number(f[5].substr(sp + 1), r.acking_ns)) return false;
        f[5] = f[5].substr(0, sp);
    }
    if (f[4].empty()) return false;
    const auto colon = f[0].find(':');
    if (colon == std::string_view::npos) return false;
    return parse_number(f[0].substr(0, colon), r.producer) && parse_number(f[0].substr(colon + 1), r.seq) &&
           parse_number(f[1], r.partition) && parse_number(f[2], r.offset) && parse_number(f[3], r.deliveries) &&
           (r.key.assign(f[4]), true) && parse_number(f[5], r.received_ns);
}

}  // namespace detail_records

// Reads the records of every file, in order (file index = position in `files`),
// less those a later "retract" line of the same file takes back.
// allow_torn_tail: a file's unterminated last line is skipped, not a problem
// (a consumer killed during its write(2); those messages were never ACKed).
inline Records read_records(const std::vector<std::filesystem::path>& files, bool allow_torn_tail = false) {
    Records out;
    out.files = files;
    for (uint32_t fi = 0; fi < files.size(); ++fi) {
        std::ifstream in(files[fi], std::ios::binary);
        if (!in) {
            out.problems.push_back("cannot read " + files[fi].string());
            continue;
        }
        std::string text;
        in.seekg(0, std::ios::end);
        text.resize(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)));
        in.seekg(0, std::ios::beg);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        std::string_view rest = text;
        std::size_t line_no = 0;
        while (!rest.empty()) {
            ++line_no;
            const auto nl = rest.find('\n');
            const std::string_view line = rest.substr(0, nl);
            rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
            Record r;
            if (nl == std::string_view::npos && allow_torn_tail) {
                ++out.torn;
                break;
            }
            if (nl != std::string_view::npos && line.starts_with(kRetractPrefix)) {
                if (!retract_record(out.records, fi, line.substr(kRetractPrefix.size())) && ++out.malformed <= 5)
                    out.problems.push_back(files[fi].filename().string() + ":" + std::to_string(line_no) +
                                           ": retracts no record: '" + std::string(line.substr(0, 120)) + "'");
                continue;
            }
            if (nl == std::string_view::npos || !detail_records::parse_line(line, r)) {
                if (++out.malformed <= 5)
                    out.problems.push_back(files[fi].filename().string() + ":" + std::to_string(line_no) +
                                           ": malformed record '" + std::string(line.substr(0, 120)) + "'");
                continue;
            }
            r.file = fi;
            r.line = line_no;
            out.records.push_back(std::move(r));
        }
    }
    return out;
}

// Waits until `file` holds at least `bytes` bytes; false on timeout.
inline bool wait_for_file_size(const std::filesystem::path& file, std::uintmax_t bytes,
                               std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(file, ec);
        if (!ec && size >= bytes) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// The latest modification time among `files`: when the last record was written.
inline std::chrono::system_clock::time_point last_write(const std::vector<std::filesystem::path>& files) {
    auto latest = std::chrono::system_clock::time_point::min();
    for (auto& f : files) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0) continue;
        const auto t =
            std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
        if (t > latest) latest = t;
    }
    return latest;
}

}  // namespace shmq::test
