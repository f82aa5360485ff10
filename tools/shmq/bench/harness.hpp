// The process harness of `shmq bench`: CPUs and pinning, memory shared with
// children, child processes (PR_SET_PDEATHSIG, reaped or killed, never left
// behind), the names of everything a run creates (removed at the end, on an
// error, and on SIGINT/SIGTERM), and the machine facts a report carries.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmq::cli::bench {

// A baseline that cannot run here (with the reason, shown in the report).
struct Skip : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A failed run: one line, ends the command with a non-zero exit.
struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline uint64_t now_ns() noexcept {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// CPUs this process may run on (sched_getaffinity), in order.
std::vector<int> allowed_cpus();
// Pins the calling process to one CPU; false if the kernel refused.
bool pin_to(int cpu) noexcept;

struct Machine {
    std::string cpu_model, kernel;
    long nproc = 0;
    std::vector<int> cpus;
};
Machine machine_facts();

// Anonymous MAP_SHARED memory, visible to children forked after it is made.
class SharedMemory {
public:
    explicit SharedMemory(std::size_t bytes);
    ~SharedMemory();
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    void* get() const noexcept { return p_; }
    std::size_t size() const noexcept { return n_; }

private:
    void* p_ = nullptr;
    std::size_t n_ = 0;
};

// One T (default-constructed) in shared memory.
template <class T>
class Shared {
public:
    Shared() : mem_(sizeof(T)), obj_(new (mem_.get()) T()) {}
    ~Shared() { obj_->~T(); }
    T* operator->() const noexcept { return obj_; }
    T& operator*() const noexcept { return *obj_; }
    T* get() const noexcept { return obj_; }

private:
    SharedMemory mem_;
    T* obj_;
};

// What a child says when it fails (the first one wins).
struct ChildError {
    std::atomic<int> set{0};
    char message[240] = {};
    void report(const std::string& what) noexcept;
};

// Children of one run. spawn() forks a process pinned to `cpu` (-1: not
// pinned) that dies with its parent, runs `body`, and _exits (1 if it threw,
// after writing the message into `errors`). The destructor SIGKILLs and reaps
// whatever is still running.
class Children {
public:
    explicit Children(ChildError* errors) : errors_(errors) {}
    ~Children();
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    pid_t spawn(int cpu, const std::function<void()>& body);
    // Waits for every child to exit, at most `limit`. Throws BenchError if one
    // failed (with its message), was killed, or the time ran out.
    void wait_all(std::chrono::milliseconds limit);
    // Waits up to `grace` for the children to exit by themselves, then kills
    // the rest (for blocking transports whose peers went away). Throws
    // BenchError if a child reported an error.
    void finish(std::chrono::milliseconds grace);
    // Throws BenchError if a child has exited with a failure already.
    void check();
    void kill_all() noexcept;

private:
    void reaped(pid_t pid, int status);
    ChildError* errors_;
    std::vector<pid_t> running_;
    std::string failure_;
};

// Names of what the bench creates, removed by cleanup_all() and by the
// SIGINT/SIGTERM handler (which also kills every child). Kinds: a shmq queue,
// a Boost.Interprocess object (a POSIX shm object), a POSIX message queue, a
// file and an (empty by then) directory, both by absolute path. Directories
// go last, the latest registered first (register a directory before what
// goes in it). At most 2048 names at once.
enum class NameKind { shmq_queue, boost_shm, posix_mq, file, dir };
void register_name(NameKind kind, const std::string& name);
void unregister_name(NameKind kind, const std::string& name);
void remove_name(NameKind kind, const std::string& name) noexcept;
void cleanup_all() noexcept;
void install_cleanup_handlers();
// Names are bench-TAG-PID-N: unique per run, and attributable to their run.
std::string unique_name(const std::string& tag);
// Removes what earlier runs left behind when they were SIGKILLed: names of
// this form whose PID is gone (in our pid namespace) and that are more than
// a minute old (a run in another pid namespace sharing /dev/shm is younger).
void sweep_stale() noexcept;

// One-letter state of a process from /proc/PID/stat ('R', 'S', ...), or '?'.
char process_state(pid_t pid) noexcept;

// Blocks until `pred` holds, sleeping 100 us between checks; throws
// BenchError after `limit` or when a child failed.
void wait_until(const std::function<bool()>& pred, Children& kids, std::chrono::milliseconds limit, const char* what);

}  // namespace shmq::cli::bench
