#include "harness.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <dirent.h>
#include <sys/stat.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

namespace {

cpu_set_t& original_mask() {
    static cpu_set_t mask = [] {
        cpu_set_t m;
        CPU_ZERO(&m);
        if (::sched_getaffinity(0, sizeof m, &m) != 0) {
            for (int i = 0; i < std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)); ++i) CPU_SET(i, &m);
        }
        return m;
    }();
    return mask;
}

// Async-signal-safe registries: fixed arrays, published with atomics.
constexpr int kMaxNames = 2048;  // `bench daemon` registers each of its up to 2000 queues
constexpr int kMaxChildren = 256;
struct NameEntry {
    std::atomic<int> state{0};  // 0 free, 1 being written, 2 in use
    NameKind kind = NameKind::shmq_queue;
    char name[256] = {};
    char path[256] = {};  // what shm_unlink / mq_unlink / unlink / rmdir takes
};
NameEntry g_names[kMaxNames];
std::atomic<pid_t> g_children[kMaxChildren];
std::atomic<pid_t> g_owner{0};

void track_child(pid_t pid) noexcept {
    for (auto& slot : g_children) {
        pid_t expected = 0;
        if (slot.compare_exchange_strong(expected, pid)) return;
    }
}
void untrack_child(pid_t pid) noexcept {
    for (auto& slot : g_children) {
        pid_t expected = pid;
        if (slot.compare_exchange_strong(expected, 0)) return;
    }
}

void unlink_path(NameKind kind, const char* path) noexcept {
    switch (kind) {
        case NameKind::posix_mq: ::mq_unlink(path); break;
        case NameKind::file: ::unlink(path); break;
        case NameKind::dir: ::rmdir(path); break;
        default: ::shm_unlink(path); break;
    }
}

void on_fatal_signal(int sig) {
    if (::getpid() == g_owner.load()) {
        for (auto& slot : g_children) {
            const pid_t pid = slot.load();
            if (pid > 0) ::kill(pid, SIGKILL);
        }
        for (auto& e : g_names)
            if (e.state.load(std::memory_order_acquire) == 2 && e.kind != NameKind::dir) unlink_path(e.kind, e.path);
        for (int i = kMaxNames - 1; i >= 0; --i)  // directories once their files are gone, inner (later) first
            if (g_names[i].state.load(std::memory_order_acquire) == 2 && g_names[i].kind == NameKind::dir)
                unlink_path(NameKind::dir, g_names[i].path);
        static const char msg[] = "shmq: bench interrupted; its queues were removed\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + ::strsignal(WTERMSIG(status));
    return "stopped";
}

}  // namespace

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    const cpu_set_t& m = original_mask();
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &m)) cpus.push_back(i);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

bool pin_to(int cpu) noexcept {
    if (cpu < 0) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

Machine machine_facts() {
    Machine m;
    std::ifstream info("/proc/cpuinfo");
    for (std::string line; std::getline(info, line);) {
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                m.cpu_model = line.substr(line.find_first_not_of(" \t", colon + 1));
                break;
            }
        }
    }
    if (m.cpu_model.empty()) m.cpu_model = "unknown";
    struct utsname u {};
    if (::uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release;
    m.nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
    m.cpus = allowed_cpus();
    return m;
}

SharedMemory::SharedMemory(std::size_t bytes) : n_((bytes + 4095) & ~std::size_t{4095}) {
    p_ = ::mmap(nullptr, n_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p_ == MAP_FAILED) {
        p_ = nullptr;
        throw BenchError("cannot map " + std::to_string(n_) + " bytes of shared memory: " + std::strerror(errno));
    }
}

SharedMemory::~SharedMemory() {
    if (p_) ::munmap(p_, n_);
}

void ChildError::report(const std::string& what) noexcept {
    int expected = 0;
    if (!set.compare_exchange_strong(expected, 1)) return;
    const std::size_t n = std::min(what.size(), sizeof message - 1);
    std::memcpy(message, what.data(), n);
    message[n] = '\0';
    for (char& c : message)
        if (c == '\n') c = ' ';
    set.store(2, std::memory_order_release);
}

Children::~Children() { kill_all(); }

pid_t Children::spawn(int cpu, const std::function<void()>& body) {
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw BenchError(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
        if (cpu >= 0) pin_to(cpu);
        try {
            body();
        } catch (const std::exception& e) {
            errors_->report(e.what());
            ::_exit(1);
        } catch (...) {
            errors_->report("unknown exception");
            ::_exit(1);
        }
        ::_exit(0);
    }
    track_child(pid);
    running_.push_back(pid);
    return pid;
}

void Children::reaped(pid_t pid, int status) {
    untrack_child(pid);
    running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    if (!failure_.empty()) return;
    if (errors_->set.load(std::memory_order_acquire) == 2) failure_ = errors_->message;
    else failure_ = "a benchmark process " + describe_status(status);
}

void Children::check() {
    for (auto pids = running_; pid_t pid : pids) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) reaped(pid, status);
    }
    if (!failure_.empty()) {
        kill_all();
        throw BenchError(failure_);
    }
}

void Children::kill_all() noexcept {
    for (pid_t pid : running_) ::kill(pid, SIGKILL);
    for (pid_t pid : running_) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        untrack_child(pid);
    }
    running_.clear();
}

namespace {
// Sleeps until some child exits or `ms` passes, without waking up meanwhile
// (a poll on pidfds); falls back to short sleeps where pidfds are missing.
void sleep_until_a_child_exits(const std::vector<pid_t>& pids, int ms) {
    std::vector<pollfd> fds;
    for (pid_t pid : pids) {
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) {
            for (auto& f : fds) ::close(f.fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 2)));
            return;
        }
        fds.push_back({fd, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), ms);
    for (auto& f : fds) ::close(f.fd);
}
}  // namespace

void Children::wait_all(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!running_.empty()) {
        check();
        if (running_.empty()) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            kill_all();
            throw BenchError("a benchmark run did not finish within " + std::to_string(limit.count() / 1000) +
                             " s (is the machine overloaded?)");
        }
        sleep_until_a_child_exits(running_, static_cast<int>(std::min<int64_t>(left.count(), 60'000)) + 1);
    }
    check();
}

void Children::finish(std::chrono::milliseconds grace) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!running_.empty()) {
        check();
        if (running_.empty()) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        sleep_until_a_child_exits(running_, static_cast<int>(left.count()) + 1);
    }
    kill_all();
    if (!failure_.empty()) throw BenchError(failure_);
    if (errors_->set.load(std::memory_order_acquire) == 2) throw BenchError(errors_->message);
}

void register_name(NameKind kind, const std::string& name) {
    g_owner.store(::getpid());
    for (auto& e : g_names) {
        int expected = 0;
        if (!e.state.compare_exchange_strong(expected, 1)) continue;
        e.kind = kind;
        std::snprintf(e.name, sizeof e.name, "%s", name.c_str());
        const char* form = kind == NameKind::shmq_queue                      ? "/shmq.%s"
                           : kind == NameKind::file || kind == NameKind::dir ? "%s"
                                                                               : "/%s";
        std::snprintf(e.path, sizeof e.path, form, name.c_str());
        e.state.store(2, std::memory_order_release);
        return;
    }
    throw BenchError("too many objects created at once");
}

void unregister_name(NameKind kind, const std::string& name) {
    for (auto& e : g_names)
        if (e.state.load(std::memory_order_acquire) == 2 && e.kind == kind && name == e.name) {
            e.state.store(0, std::memory_order_release);
            return;
        }
}

void remove_name(NameKind kind, const std::string& name) noexcept {
    if (kind == NameKind::shmq_queue) {
        try {
            if (Queue::exists(name)) Queue::remove(name);
        } catch (...) {
            ::shm_unlink(("/shmq." + name).c_str());
        }
    } else if (kind == NameKind::file || kind == NameKind::dir) {
        unlink_path(kind, name.c_str());
    } else {
        unlink_path(kind, ("/" + name).c_str());
    }
    unregister_name(kind, name);
}

void cleanup_all() noexcept {
    for (auto& slot : g_children) {
        const pid_t pid = slot.exchange(0);
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    for (auto& e : g_names)
        if (e.state.load(std::memory_order_acquire) == 2 && e.kind != NameKind::dir) remove_name(e.kind, e.name);
    for (int i = kMaxNames - 1; i >= 0; --i)
        if (g_names[i].state.load(std::memory_order_acquire) == 2 && g_names[i].kind == NameKind::dir)
            remove_name(NameKind::dir, g_names[i].name);
}

void install_cleanup_handlers() {
    g_owner.store(::getpid());
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a pipe baseline whose peer died gets EPIPE, reported as an error
}

std::string unique_name(const std::string& tag) {
    static int counter = 0;
    return "bench-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

namespace {
// The PID inside bench-TAG-PID-N, or 0.
pid_t pid_in_name(const std::string& n) {
    const auto last = n.rfind('-');
    if (last == std::string::npos || last == 0) return 0;
    const auto before = n.rfind('-', last - 1);
    if (before == std::string::npos) return 0;
    const std::string digits = n.substr(before + 1, last - before - 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return 0;
    return static_cast<pid_t>(std::stol(digits));
}

bool is_stale(const std::string& dir, const std::string& entry, const std::string& name) {
    const pid_t pid = pid_in_name(name);
    if (pid <= 0 || pid == ::getpid()) return false;
    if (::kill(pid, 0) == 0 || errno != ESRCH) return false;
    struct stat st {};
    if (::stat((dir + "/" + entry).c_str(), &st) != 0) return false;
    return std::time(nullptr) - st.st_mtime > 60;
}

template <class F>
void each_entry(const char* dir, F&& f) {
    DIR* d = ::opendir(dir);
    if (!d) return;
    while (dirent* e = ::readdir(d)) f(std::string(e->d_name));
    ::closedir(d);
}
}  // namespace

void sweep_stale() noexcept {
    try {
        each_entry("/dev/shm", [](const std::string& entry) {
            if (entry.rfind("shmq.bench-", 0) == 0) {
                const std::string name = entry.substr(5);
                if (is_stale("/dev/shm", entry, name)) remove_name(NameKind::shmq_queue, name);
            } else if (entry.rfind("bench-boost-", 0) == 0 && is_stale("/dev/shm", entry, entry)) {
                ::shm_unlink(("/" + entry).c_str());
            }
        });
        each_entry("/dev/mqueue", [](const std::string& entry) {  // only where it is mounted
            if (entry.rfind("bench-mq-", 0) == 0 && is_stale("/dev/mqueue", entry, entry)) ::mq_unlink(("/" + entry).c_str());
        });
    } catch (...) {
    }
}

char process_state(pid_t pid) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return '?';
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return '?';
    buf[n] = '\0';
    const char* close_paren = std::strrchr(buf, ')');
    if (!close_paren || close_paren[1] != ' ') return '?';
    return close_paren[2];
}

void wait_until(const std::function<bool()>& pred, Children& kids, std::chrono::milliseconds limit, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        kids.check();
        if (std::chrono::steady_clock::now() > deadline)
            throw BenchError(std::string("timed out waiting for ") + what);
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

}  // namespace shmq::cli::bench
