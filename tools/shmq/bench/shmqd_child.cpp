#include "shmqd_child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace shmq::cli::bench {

namespace {

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

std::string self_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : exe.parent_path().string();
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

}  // namespace

std::string find_shmqd(const std::string& wanted) {
    if (!wanted.empty()) {
        if (!executable(wanted)) throw BenchError("--shmqd " + wanted + " is not an executable file");
        return wanted;
    }
    const std::string here = self_dir();
    for (const char* rel : {"/shmqd", "/../daemon/shmqd", "/../sbin/shmqd"})
        if (!here.empty() && executable(here + rel)) return std::filesystem::path(here + rel).lexically_normal().string();
    if (const char* path = std::getenv("PATH")) {
        std::stringstream dirs(path);
        for (std::string d; std::getline(dirs, d, ':');)
            if (!d.empty() && executable(d + "/shmqd")) return d + "/shmqd";
    }
    throw BenchError("no shmqd beside " + (here.empty() ? std::string("shmq") : here + "/shmq") +
                     " nor in PATH; name it with --shmqd PATH");
}

ShmqdChild::ShmqdChild(const std::string& binary, const std::vector<std::string>& queues, std::chrono::milliseconds limit) {
    try {
        start(binary, queues, limit);
    } catch (...) {
        stop();  // no destructor runs after a constructor throws
        throw;
    }
}

void ShmqdChild::start(const std::string& binary, const std::vector<std::string>& queues, std::chrono::milliseconds limit) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/shmq-bench-daemon-" + std::to_string(::getpid()) + "-XXXXXX";
    if (!::mkdtemp(templ.data())) throw BenchError("cannot make a temporary directory " + templ + ": " + std::strerror(errno));
    dir_ = templ;
    register_name(NameKind::dir, dir_);
    log_ = dir_ + "/shmqd.log";
    lock_ = dir_ + "/shmqd.lock";
    data_ = dir_ + "/data";
    register_name(NameKind::file, log_);
    register_name(NameKind::file, lock_);
    register_name(NameKind::dir, data_);
    if (::mkdir(data_.c_str(), 0700) != 0) throw BenchError("cannot make " + data_ + ": " + std::strerror(errno));
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw BenchError("cannot create " + log_ + ": " + std::strerror(errno));
    ::close(fd);

    std::vector<std::string> args{binary, "--data-dir", data_, "--lock-file", lock_, "--metrics-listen", "127.0.0.1:0",
                                  "--log-level", "info"};
    for (const auto& q : queues) {
        args.push_back("--queue");
        args.push_back(q);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = log_;
    pid_ = kids_.spawn(-1, [&] {
        const int out = ::open(log.c_str(), O_WRONLY | O_APPEND);
        const int in = ::open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0)
            throw BenchError("cannot redirect shmqd's output to " + log + ": " + std::strerror(errno));
        ::execv(argv[0], argv.data());
        throw BenchError("cannot run " + std::string(argv[0]) + ": " + std::strerror(errno));
    });
    wait_ready(queues.size(), limit);
}

ShmqdChild::~ShmqdChild() { stop(); }

void ShmqdChild::stop() noexcept {
    kids_.kill_all();
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    for (const auto& f : {log_, lock_}) unregister_name(NameKind::file, f);
    for (const auto& d : {data_, dir_}) unregister_name(NameKind::dir, d);
    dir_.clear();
}

std::string ShmqdChild::read_log() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string ShmqdChild::log_tail(std::size_t lines) const {
    std::vector<std::string> all;
    std::stringstream text(read_log());
    for (std::string line; std::getline(text, line);) all.push_back(line);
    std::string tail;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        tail += (tail.empty() ? "" : " | ") + all[i];
    return tail.empty() ? "(nothing)" : tail;
}

void ShmqdChild::check_alive() {
    try {
        kids_.check();
    } catch (const BenchError& e) {
        throw BenchError(std::string("shmqd stopped (") + e.what() + "); its log ends: " + log_tail(5));
    }
}

// Readiness, from the log: "started", "metrics listening on HOST:PORT", and
// one "watching queue NAME" per queue (each queue is ours: --queue).
void ShmqdChild::wait_ready(std::size_t queues, std::chrono::milliseconds limit) {
    const uint64_t start = now_ns();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        check_alive();
        const std::string text = read_log();
        const std::string listening = "metrics listening on ";
        if (const auto at = text.find(listening); at != std::string::npos && port_ == 0) {
            const auto eol = text.find('\n', at);
            const std::string addr = text.substr(at + listening.size(), eol - at - listening.size());
            const auto colon = addr.rfind(':');
            if (colon != std::string::npos) port_ = static_cast<uint16_t>(std::atoi(addr.c_str() + colon + 1));
        }
        if (port_ != 0 && text.find(" started") != std::string::npos && count_of(text, "watching queue ") >= queues) {
            startup_ms_ = static_cast<double>(now_ns() - start) / 1e6;
            return;
        }
        if (std::chrono::steady_clock::now() > deadline)
            throw BenchError("shmqd did not report watching all " + std::to_string(queues) + " queues within " +
                             std::to_string(limit.count() / 1000) + " s; its log ends: " + log_tail(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace shmq::cli::bench
