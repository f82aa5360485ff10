// shmq_chaos_run: the long chaos run (tests/chaos/run; issue 7).
//
// One queue (several partitions, a small ring, on_full=spill, journal on)
// served by a shmqd whose data dir is in a scratch directory; producers
// (shmq_chaos_worker), a shared and an exclusive group of consumers
// (shmq_test_worker consume), all real processes. For --minutes M a killer
// SIGKILLs a random one of them -- or shmqd -- at random instants (seeded:
// --seed reproduces the schedule and the producers' bursts, not the
// processes' timing) and starts it again: a producer as a new producer id, a
// consumer with a new record file. Then it stops killing, stops the
// producers, lets the consumers drain everything (bounded by
// --drain-timeout-s), stops all, and checks the record files against what the
// producers were told was sent:
//
//   sent          messages whose send (or claim commit) returned ok; the one
//                 message in flight when a producer was killed may or may not
//                 exist: counted apart, never as lost
//   received, lost, duplicates   per group: check_delivery.hpp
//   order                        storage and exclusive group: check_order.hpp
//   journal                      check_journal.hpp
//   redelivery, stall, repair    the timings after kills: figures.hpp
// (the record files are read by read_records.hpp; what a run records, the
// checks' input, is run_data.hpp). Kills with a claim open in spill staging
// are counted, not timed.
//
// Prints the figures and one JSON line (report.hpp); exit 0 iff nothing was lost, no check
// failed, every process behaved and the drain finished; 1 otherwise; 2 on bad
// usage or setup failure. The scratch directory (record files, logs, shmqd's
// data) is removed unless the run failed or --keep was given.
//
// Paths of the programs come from the build: SHMQ_CHAOS_WORKER,
// SHMQ_TEST_WORKER, SHMQD_PATH.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chaos_status.hpp"
#include "figures.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "report.hpp"
#include "run_data.hpp"
#include "shmq/shmq.hpp"

#if !defined(SHMQ_CHAOS_WORKER) || !defined(SHMQ_TEST_WORKER) || !defined(SHMQD_PATH)
#error "define SHMQ_CHAOS_WORKER, SHMQ_TEST_WORKER and SHMQD_PATH as the paths of those programs"
#endif

namespace shmq::chaos {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true, std::memory_order_relaxed); }

uint64_t mono_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Config {
    double minutes = 2;
    uint64_t seed = 0;
    bool seed_given = false;
    uint32_t producers = 2;
    uint32_t shared = 2;
    uint32_t exclusive = 2;
    uint32_t partitions = 4;
    uint32_t capacity = 64;
    uint32_t spill_buffer = 128;
    uint32_t lease_ms = 10000;
    uint64_t rate = 1000;  // per producer, messages/s on average
    uint64_t burst = 100;
    uint64_t keys = 16;
    uint64_t dwell_every = 4;  // one message in N holds its claim open 0..3 ms
    uint64_t ack_delay_ms = 5;  // consumers hold each batch this long before ACKing it
    uint64_t kill_min_ms = 100;
    uint64_t kill_max_ms = 1500;
    uint64_t shmqd_down_max_ms = 300;  // a killed shmqd stays down 0..this long
    uint64_t drain_timeout_s = 120;
    uint64_t progress_s = 30;
    bool keep = false;
};

const char* kUsage =
    "usage: shmq_chaos_run [--minutes M] [--seed S] [--producers N] [--shared N] [--exclusive N]\n"
    "                      [--partitions N] [--capacity SLOTS] [--spill-buffer SLOTS] [--lease-ms MS]\n"
    "                      [--rate MSG_PER_S] [--burst N] [--keys N] [--dwell-every N]\n"
    "                      [--ack-delay-ms MS] [--kill-min-ms MS] [--kill-max-ms MS]\n"
    "                      [--shmqd-down-max-ms MS] [--drain-timeout-s S] [--progress-s S] [--keep]\n"
    "(see tests/chaos/chaos_run.cpp and docs/RELIABILITY.md)\n";

struct UsageError {
    std::string message;
};

uint64_t parse_u64(std::string_view flag, std::string_view text) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
        throw UsageError{std::string(flag) + " expects a non-negative integer, got '" + std::string(text) + "'"};
    return v;
}

Config parse_args(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string_view f = argv[i];
        if (f == "--keep") {
            c.keep = true;
            continue;
        }
        if (f == "--help" || f == "-h") throw UsageError{""};
        if (i + 1 >= argc) throw UsageError{"option " + std::string(f) + " needs a value"};
        const std::string_view v = argv[++i];
        auto u32 = [&](uint32_t& out) { out = static_cast<uint32_t>(parse_u64(f, v)); };
        if (f == "--minutes") {
            try {
                std::size_t used = 0;
                c.minutes = std::stod(std::string(v), &used);
                if (used != v.size() || !(c.minutes > 0)) throw std::invalid_argument("");
            } catch (const std::exception&) {
                throw UsageError{"--minutes expects a positive number, got '" + std::string(v) + "'"};
            }
        } else if (f == "--seed") {
            c.seed = parse_u64(f, v);
            c.seed_given = true;
        } else if (f == "--producers") u32(c.producers);
        else if (f == "--shared") u32(c.shared);
        else if (f == "--exclusive") u32(c.exclusive);
        else if (f == "--partitions") u32(c.partitions);
        else if (f == "--capacity") u32(c.capacity);
        else if (f == "--spill-buffer") u32(c.spill_buffer);
        else if (f == "--lease-ms") u32(c.lease_ms);
        else if (f == "--rate") c.rate = parse_u64(f, v);
        else if (f == "--burst") c.burst = parse_u64(f, v);
        else if (f == "--keys") c.keys = parse_u64(f, v);
        else if (f == "--dwell-every") c.dwell_every = parse_u64(f, v);
        else if (f == "--ack-delay-ms") c.ack_delay_ms = parse_u64(f, v);
        else if (f == "--kill-min-ms") c.kill_min_ms = parse_u64(f, v);
        else if (f == "--kill-max-ms") c.kill_max_ms = parse_u64(f, v);
        else if (f == "--shmqd-down-max-ms") c.shmqd_down_max_ms = parse_u64(f, v);
        else if (f == "--drain-timeout-s") c.drain_timeout_s = parse_u64(f, v);
        else if (f == "--progress-s") c.progress_s = parse_u64(f, v);
        else throw UsageError{"unknown option '" + std::string(f) + "'"};
    }
    if (c.producers < 1 || c.shared < 1 || c.exclusive < 1)
        throw UsageError{"--producers, --shared and --exclusive must be at least 1"};
    if (c.kill_max_ms < c.kill_min_ms || c.kill_max_ms == 0)
        throw UsageError{"--kill-max-ms must be positive and at least --kill-min-ms"};
    if (c.rate == 0 || c.burst == 0 || c.keys == 0) throw UsageError{"--rate, --burst and --keys must be positive"};
    return c;
}

// --- processes ---------------------------------------------------------------

// Starts `path args...` with stdout and stderr appended to `log`; the child
// dies with us (PR_SET_PDEATHSIG), so an interrupted run leaves no process.
pid_t spawn(const std::string& path, const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> strings{path};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + log.string() + ": " + std::strerror(errno));
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fd);
        throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {  // async-signal-safe calls only
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::execv(argv[0], argv.data());
        static const char msg[] = "shmq_chaos_run: execv failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::close(fd);
    return pid;
}

// SIGKILL and reap; returns the wait status.
int kill_and_reap(pid_t pid, int sig = SIGKILL) {
    ::kill(pid, sig);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

// The wait status if `pid` has exited, else nothing.
std::optional<int> try_reap(pid_t pid) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    if (r < 0 && errno == ECHILD) return -1;
    return std::nullopt;
}

std::string describe_status(int st) {
    if (st == -1) return "vanished";
    if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return "was killed by signal " + std::to_string(WTERMSIG(st));
    return "ended with wait status " + std::to_string(st);
}

std::string tail_of(const fs::path& file, std::size_t bytes = 600) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

// --- the run's state ---------------------------------------------------------

const char* role_name(Role r) {
    switch (r) {
        case Role::producer: return "producer";
        case Role::shared: return "shared consumer";
        case Role::exclusive: return "exclusive consumer";
        case Role::shmqd: return "shmqd";
    }
    return "?";
}

struct Slot {
    Role role;
    int run = -1;  // index into producers / consumers; -1 for shmqd
    pid_t pid = -1;
    uint64_t restart_due_ns = 0;  // non-zero: down, to be restarted then
    uint32_t group = 0;
};

struct Problem {
    std::string text;
};

class Run {
public:
    explicit Run(const Config& c) : cfg_(c), rng_(c.seed) {
        std::string templ = (fs::temp_directory_path() / "shmq-chaosrun-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
        dir_ = templ;
        queue_ = "t-chaos-" + std::to_string(::getpid());
    }
    ~Run() { cleanup(); }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    int main();

private:
    // setup and the killer loop
    void create_queue();
    void start_shmqd(Slot& s);
    void start_producer(Slot& s);
    void start_consumer(Slot& s);
    void start(Slot& s);
    void kill_slot(Slot& s);
    void watch_unexpected_exits();
    std::optional<inspect::QueueSnapshot> snapshot() const;
    void progress(uint64_t now, uint64_t started);
    bool stop_producers();
    bool drain();
    void stop_all();
    void read_producer_page(ProducerRun& p);
    void cleanup();
    // analysis
    int analyse();

    uint64_t rand_between(uint64_t lo, uint64_t hi) { return hi <= lo ? lo : lo + rng_() % (hi - lo + 1); }
    void problem(std::string text) {
        std::cout << "[chaos] PROBLEM: " << text << std::endl;
        problems_.push_back({std::move(text)});
    }

    Config cfg_;
    std::mt19937_64 rng_;
    fs::path dir_;
    std::string queue_;
    bool queue_created_ = false;
    std::vector<Slot> slots_;
    std::vector<ProducerRun> producers_;
    std::vector<ConsumerRun> consumers_;
    ShmqdDowntime shmqd_down_;
    std::map<Role, uint64_t> kills_;
    std::vector<Problem> problems_;
    uint64_t shmqd_starts_ = 0;
    double kill_seconds_ = 0, drain_seconds_ = 0;
    bool drained_ = false;
    uint64_t dlq_depth_ = 0;
    // Sampled every 100 ms while killing: how much spilling really happened.
    uint64_t max_spill_backlog_ = 0, max_spill_disk_ = 0, spilled_ = 0;
};

void Run::create_queue() {
    QueueOptions o;
    o.partitions = cfg_.partitions;
    o.capacity = cfg_.capacity;
    o.max_message = 64;
    o.on_full = OnFull::spill;
    o.spill_buffer = cfg_.spill_buffer;
    o.journal = true;
    o.retain_bytes = 4u << 20;  // retention runs too: whole segments beyond 4 MiB per partition go
    o.lease_ms = cfg_.lease_ms;  // redelivery comes from death detection, not expiry
    o.max_deliveries = 1000;     // nothing is poison here: a DLQ entry would be a finding
    o.max_participants = 64;
    Queue q = Queue::create(queue_, o);
    queue_created_ = true;
    // Both groups exist before message 0.
    for (const auto& g : kGroups) {
        ConsumerOptions co;
        co.kind = g.group_kind;
        auto c = q.consumer(g.name, co);
    }
}

void Run::start_shmqd(Slot& s) {
    const fs::path log = dir_ / "shmqd.log";
    s.pid = spawn(SHMQD_PATH,
                  {"--queue", queue_, "--tick-ms", "10", "--data-dir", (dir_ / "data").string(), "--lock-file",
                   (dir_ / "shmqd.lock").string()},
                  log);
    ++shmqd_starts_;
    if (!shmqd_down_.spans.empty() && shmqd_down_.spans.back().second == 0) shmqd_down_.spans.back().second = mono_ns();
}

void Run::start_producer(Slot& s) {
    const auto id = static_cast<uint32_t>(producers_.size());
    ProducerRun& p = producers_.emplace_back();
    p.status_file = dir_ / ("producer-" + std::to_string(id) + ".status");
    const int fd = ::open(p.status_file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::ftruncate(fd, kStatusBytes) != 0)
        throw std::runtime_error("cannot make " + p.status_file.string() + ": " + std::strerror(errno));
    void* m = ::mmap(nullptr, kStatusBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw std::runtime_error("cannot map " + p.status_file.string());
    p.page = static_cast<uint64_t*>(m);
    p.pid = spawn(SHMQ_CHAOS_WORKER,
                  {"produce", queue_, "--id", std::to_string(id), "--status", p.status_file.string(), "--rate",
                   std::to_string(cfg_.rate), "--burst", std::to_string(cfg_.burst), "--keys", std::to_string(cfg_.keys),
                   "--dwell-every", std::to_string(cfg_.dwell_every), "--seed",
                   std::to_string(cfg_.seed * 1'000'003ull + id + 1)},
                  dir_ / "producers.log");
    s.run = static_cast<int>(id);
    s.pid = p.pid;
}

void Run::start_consumer(Slot& s) {
    const auto& g = kGroups[s.group];
    ConsumerRun& c = consumers_.emplace_back();
    c.group = s.group;
    c.file = dir_ / (std::string(g.name) + "-" + std::to_string(&s - slots_.data()) + "-" +
                     std::to_string(consumers_.size() - 1) + ".txt");
    std::ofstream(c.file).close();  // exists even if the worker is killed before it opens it
    c.pid = spawn(SHMQ_TEST_WORKER,
                  {"consume", queue_, "--group", g.name, "--kind", g.kind, "--out", c.file.string(), "--batch", "64",
                   "--idle-ms", "86400000",
                   // hold each batch a moment, so kills catch messages in flight
                   "--ack-delay-ms", std::to_string(cfg_.ack_delay_ms)},
                  dir_ / "consumers.log");
    s.run = static_cast<int>(consumers_.size() - 1);
    s.pid = c.pid;
}

void Run::start(Slot& s) {
    s.restart_due_ns = 0;
    switch (s.role) {
        case Role::shmqd: start_shmqd(s); break;
        case Role::producer: start_producer(s); break;
        default: start_consumer(s); break;
    }
}

void Run::read_producer_page(ProducerRun& p) {
    StatusPage page(p.page);
    p.acked = page.load(StatusWord::acked);
    p.phase = static_cast<Phase>(page.load(StatusWord::phase));
    p.in_flight = p.phase != Phase::idle && page.load(StatusWord::seq) == p.acked;
    p.claim_partition = static_cast<uint32_t>(page.load(StatusWord::claim_partition));
    p.claim_offset = page.load(StatusWord::claim_offset);
    p.claim_staged = page.load(StatusWord::claim_staged) != 0;
    p.dwells = page.load(StatusWord::dwells);
}

void Run::kill_slot(Slot& s) {
    std::optional<inspect::QueueSnapshot> before;
    if (s.role == Role::producer) before = snapshot();
    const uint64_t now = mono_ns();
    kill_and_reap(s.pid);
    ++kills_[s.role];
    if (s.role == Role::producer) {
        ProducerRun& p = producers_[static_cast<std::size_t>(s.run)];
        p.killed = true;
        p.kill_ns = now;
        read_producer_page(p);
        // Killed holding a ring claim (claim returned, commit not begun): its
        // abort is certain; time it. (A killer blocked here only delays the
        // next kill.)
        if (p.phase == Phase::holding && !p.claim_staged && !before) p.repair_no_snapshot = true;
        if (p.phase == Phase::holding && !p.claim_staged && before && p.claim_partition < before->partitions.size()) {
            p.repair_timed_out = true;
            const uint64_t was = before->partitions[p.claim_partition].aborted;
            while (mono_ns() < now + 5'000'000'000ull) {
                auto snap = snapshot();
                if (snap && snap->partitions[p.claim_partition].aborted > was) {
                    p.repair_ns = mono_ns() - now;
                    p.repair_timed_out = false;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::microseconds(500));
            }
        }
    } else if (s.role == Role::shmqd) {
        shmqd_down_.spans.push_back({now, 0});
    } else {
        ConsumerRun& c = consumers_[static_cast<std::size_t>(s.run)];
        c.killed = true;
        c.kill_ns = now;
    }
    s.pid = -1;
    s.restart_due_ns = now + (s.role == Role::shmqd ? rand_between(0, cfg_.shmqd_down_max_ms) * 1'000'000 : 0) + 1;
}

// A process that ended without being killed is a finding (its log says why);
// it is started again so the run goes on.
void Run::watch_unexpected_exits() {
    for (auto& s : slots_) {
        if (s.pid < 0) continue;
        const auto st = try_reap(s.pid);
        if (!st) continue;
        const fs::path log = s.role == Role::shmqd ? dir_ / "shmqd.log"
                             : s.role == Role::producer ? dir_ / "producers.log"
                                                        : dir_ / "consumers.log";
        problem(std::string(role_name(s.role)) + " (pid " + std::to_string(s.pid) + ") " + describe_status(*st) +
                " without being killed; log tail:\n" + tail_of(log));
        if (s.role == Role::producer) read_producer_page(producers_[static_cast<std::size_t>(s.run)]);
        s.pid = -1;
        s.restart_due_ns = mono_ns() + 100'000'000;
    }
}

std::optional<inspect::QueueSnapshot> Run::snapshot() const {
    try {
        auto region = detail::Region::open(queue_, detail::Access::read_only);
        return inspect::snapshot(*region);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void Run::progress(uint64_t now, uint64_t started) {
    uint64_t sent = 0;
    for (auto& p : producers_) sent += StatusPage(p.page).load(StatusWord::acked);
    uint64_t kills = 0;
    for (auto& [r, n] : kills_) kills += n;
    std::cout << "[chaos] " << fixed(static_cast<double>(now - started) / 1e9, 0) << " s: " << sent << " sent, " << kills
              << " kills";
    if (auto snap = snapshot())
        std::cout << ", depth " << snap->depth << ", spill backlog " << snap->spill_backlog << ", spilled "
                  << snap->spilled;
    std::cout << std::endl;
}

bool Run::stop_producers() {
    for (auto& s : slots_)
        if (s.role == Role::producer && s.pid >= 0) StatusPage(producers_[static_cast<std::size_t>(s.run)].page).store(StatusWord::stop, 1);
    const uint64_t deadline = mono_ns() + 60'000'000'000ull;
    bool ok = true;
    for (auto& s : slots_) {
        if (s.role != Role::producer || s.pid < 0) continue;
        std::optional<int> st;
        while (!(st = try_reap(s.pid)) && mono_ns() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!st) {
            problem("producer " + std::to_string(s.run) + " did not stop within 60 s (killed)");
            st = kill_and_reap(s.pid);
            ok = false;
        } else if (!(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)) {
            problem("producer " + std::to_string(s.run) + " " + describe_status(*st) + " when stopped; log tail:\n" +
                    tail_of(dir_ / "producers.log"));
            ok = false;
        }
        read_producer_page(producers_[static_cast<std::size_t>(s.run)]);
        s.pid = -1;
    }
    return ok;
}

// Until every group has finished every message (per partition: floor at
// tail) and nothing is left in spill; false on timeout.
bool Run::drain() {
    const uint64_t started = mono_ns();
    const uint64_t deadline = started + cfg_.drain_timeout_s * 1'000'000'000ull;
    std::optional<inspect::QueueSnapshot> snap;
    for (;;) {
        watch_unexpected_exits();
        for (auto& s : slots_)
            if (s.pid < 0 && s.restart_due_ns != 0 && s.role != Role::producer) start(s);
        snap = snapshot();
        bool done = snap.has_value();
        if (snap) {
            for (auto& p : snap->partitions) done &= p.spill_backlog == 0;
            for (auto& g : snap->groups)
                for (auto& gp : g.partitions) done &= gp.lag == 0 && gp.in_flight == 0 && gp.retrying == 0;
            dlq_depth_ = snap->dlq.depth;
        }
        if (done) break;
        if (mono_ns() >= deadline || g_interrupted.load()) {
            std::string left;
            if (snap) {
                for (auto& p : snap->partitions)
                    if (p.spill_backlog) left += " p" + std::to_string(p.partition) + " spill backlog " + std::to_string(p.spill_backlog) + ";";
                for (auto& g : snap->groups)
                    for (auto& gp : g.partitions)
                        if (gp.lag || gp.in_flight || gp.retrying)
                            left += " " + g.name + " p" + std::to_string(gp.partition) + " lag " + std::to_string(gp.lag) +
                                    " in flight " + std::to_string(gp.in_flight) + " retrying " + std::to_string(gp.retrying) + ";";
            }
            problem("the consumers did not drain the queue within " + std::to_string(cfg_.drain_timeout_s) + " s:" + left);
            drain_seconds_ = static_cast<double>(mono_ns() - started) / 1e9;
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    drain_seconds_ = static_cast<double>(mono_ns() - started) / 1e9;
    return true;
}

// Consumers are idle (or the drain gave up): SIGKILL them; shmqd gets SIGTERM.
void Run::stop_all() {
    for (auto& s : slots_) {
        if (s.pid < 0 || s.role == Role::shmqd) continue;
        kill_and_reap(s.pid);
        s.pid = -1;
    }
    for (auto& s : slots_) {
        if (s.pid < 0 || s.role != Role::shmqd) continue;
        ::kill(s.pid, SIGTERM);
        const uint64_t deadline = mono_ns() + 10'000'000'000ull;
        std::optional<int> st;
        while (!(st = try_reap(s.pid)) && mono_ns() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!st) {
            problem("shmqd did not exit within 10 s of SIGTERM (killed)");
            kill_and_reap(s.pid);
        } else if (!(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)) {
            problem("shmqd " + describe_status(*st) + " on SIGTERM; log tail:\n" + tail_of(dir_ / "shmqd.log"));
        }
        s.pid = -1;
    }
}

void Run::cleanup() {
    for (auto& s : slots_)
        if (s.pid >= 0) kill_and_reap(s.pid), s.pid = -1;
    for (auto& p : producers_)
        if (p.page) ::munmap(p.page, kStatusBytes), p.page = nullptr;
    if (queue_created_) {
        try {
            Queue::remove(queue_);
        } catch (const std::exception&) {
        }
        queue_created_ = false;
    }
    if (dir_.empty()) return;
    if (cfg_.keep || !problems_.empty()) {
        std::cout << "[chaos] record files, logs and shmqd's data kept in " << dir_.string() << std::endl;
    } else {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    dir_.clear();
}

int Run::main() {
    std::cout << "[chaos] seed " << cfg_.seed << " (reproduce the kill schedule: --seed " << cfg_.seed << ")" << std::endl;
    std::cout << "[chaos] queue " << queue_ << ": " << cfg_.partitions << " partitions x " << cfg_.capacity
              << " slots, on_full=spill (staging " << cfg_.spill_buffer << "), journal on, lease " << cfg_.lease_ms
              << " ms; " << cfg_.producers << " producers (" << cfg_.rate << " msg/s each in bursts of ~" << cfg_.burst
              << ", " << cfg_.keys << " keys), " << cfg_.shared << " shared + " << cfg_.exclusive
              << " exclusive consumers; a SIGKILL every " << cfg_.kill_min_ms << ".." << cfg_.kill_max_ms << " ms for "
              << cfg_.minutes << " min; scratch " << dir_.string() << std::endl;
    create_queue();
    slots_.push_back({Role::shmqd});
    for (uint32_t i = 0; i < cfg_.shared; ++i) slots_.push_back({Role::shared, -1, -1, 0, 0});
    for (uint32_t i = 0; i < cfg_.exclusive; ++i) slots_.push_back({Role::exclusive, -1, -1, 0, 1});
    for (uint32_t i = 0; i < cfg_.producers; ++i) slots_.push_back({Role::producer});
    start(slots_[0]);
    // shmqd serves the queue before anything else starts.
    for (int i = 0; i < 500 && tail_of(dir_ / "shmqd.log", 100000).find("started") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (auto& s : slots_)
        if (s.role != Role::shmqd) start(s);

    const uint64_t started = mono_ns();
    const uint64_t end = started + static_cast<uint64_t>(cfg_.minutes * 60e9);
    uint64_t next_kill = started + rand_between(cfg_.kill_min_ms, cfg_.kill_max_ms) * 1'000'000;
    uint64_t next_sample = started;
    uint64_t next_progress = started + cfg_.progress_s * 1'000'000'000ull;
    for (uint64_t now = mono_ns(); now < end && !g_interrupted.load(); now = mono_ns()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        watch_unexpected_exits();
        now = mono_ns();
        for (auto& s : slots_)
            if (s.pid < 0 && s.restart_due_ns != 0 && now >= s.restart_due_ns) start(s);
        if (now >= next_kill) {
            std::vector<Slot*> alive;
            for (auto& s : slots_)
                if (s.pid >= 0) alive.push_back(&s);
            if (!alive.empty()) kill_slot(*alive[rng_() % alive.size()]);
            next_kill = now + rand_between(cfg_.kill_min_ms, cfg_.kill_max_ms) * 1'000'000;
        }
        if (now >= next_sample) {
            if (auto snap = snapshot()) {
                uint64_t disk = 0;
                for (auto& p : snap->partitions) disk += p.spill_disk_messages;
                max_spill_backlog_ = std::max(max_spill_backlog_, snap->spill_backlog);
                max_spill_disk_ = std::max(max_spill_disk_, disk);
                spilled_ = std::max(spilled_, snap->spilled);
            }
            next_sample = now + 100'000'000;
        }
        if (cfg_.progress_s != 0 && now >= next_progress) {
            progress(now, started);
            next_progress += cfg_.progress_s * 1'000'000'000ull;
        }
    }
    kill_seconds_ = static_cast<double>(mono_ns() - started) / 1e9;
    for (auto& s : slots_)  // whatever is down comes back for the drain
        if (s.pid < 0 && s.restart_due_ns != 0 && s.role != Role::producer) start(s);
    std::cout << "[chaos] killing stopped after " << fixed(kill_seconds_) << " s; stopping producers, draining" << std::endl;
    stop_producers();
    drained_ = !g_interrupted.load() && drain();
    stop_all();
    if (queue_created_) {
        Queue::remove(queue_);
        queue_created_ = false;
    }
    if (g_interrupted.load()) problem("interrupted");
    return analyse();
}

// --- analysis ----------------------------------------------------------------

// `a` then `b`, at most 8 in all.
std::vector<std::string> first_examples(std::vector<std::string> a, const std::vector<std::string>& b) {
    for (const auto& e : b) add_example(a, e);
    return a;
}

// Runs every check on what the run recorded, prints the report; 0 iff it passed.
int Run::analyse() {
    RunSummary run;
    run.seed = cfg_.seed;
    run.minutes = cfg_.minutes;
    run.kill_seconds = kill_seconds_;
    run.drain_seconds = drain_seconds_;
    run.drained = drained_;
    run.kills = kills_;
    run.producer_processes = producers_.size();
    for (const ProducerRun& p : producers_) {
        run.sent += p.acked;
        run.in_flight += p.in_flight;
        run.dwells += p.dwells;
    }
    run.spilled = spilled_;
    run.max_spill_backlog = max_spill_backlog_;
    run.max_spill_disk = max_spill_disk_;
    run.dlq_depth = dlq_depth_;
    run.shmqd_starts = shmqd_starts_;
    const MessageSpace space = message_space(producers_);
    if (space.size() >= UINT32_MAX) {
        problem("too many messages to analyse");
        return 1;
    }

    Findings f;
    f.records = read_record_files(consumers_, producers_, space, cfg_.keys, cfg_.partitions);
    const auto& recs = f.records.by_group;
    f.storage = check_storage_order(recs, producers_, space, cfg_.keys);
    for (uint32_t gi = 0; gi < 2; ++gi) {
        GroupFindings& gf = f.groups[gi];
        gf.delivery = check_delivery(recs[gi], producers_, space);
        gf.redelivery = redelivery_after_consumer_kills(recs[gi], gi, consumers_, shmqd_down_);
        if (kGroups[gi].group_kind == GroupKind::exclusive)
            gf.order = check_exclusive_order(recs[gi], consumers_, space, cfg_.partitions);
        gf.examples = first_examples(gf.delivery.examples, gf.order.examples);
    }
    f.producer_kills = producer_kill_figures(recs, producers_, cfg_.partitions, shmqd_down_);
    f.journal = check_journal((dir_ / "data" / "journal").string(), queue_, cfg_.partitions, recs, space);
    f.examples = first_examples(first_examples(f.records.examples, f.storage.examples), f.journal.examples);

    if (f.lost_any()) problem("messages lost");
    if (const uint64_t violations = f.violations()) problem(std::to_string(violations) + " check violations");
    const bool pass = problems_.empty() && drained_;
    std::vector<std::string> problems;
    for (const auto& p : problems_) problems.push_back(p.text);
    print_report(std::cout, run, f, problems, pass);
    return pass ? 0 : 1;
}

}  // namespace
}  // namespace shmq::chaos

int main(int argc, char** argv) {
    using namespace shmq::chaos;
    Config cfg;
    try {
        cfg = parse_args(argc, argv);
    } catch (const UsageError& e) {
        if (!e.message.empty()) std::cerr << "shmq_chaos_run: " << e.message << "\n";
        std::cerr << kUsage;
        return e.message.empty() ? 0 : 2;
    }
    if (!cfg.seed_given) cfg.seed = (mono_ns() ^ (static_cast<uint64_t>(::getpid()) << 32)) % 1'000'000'000'000ull;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    try {
        Run run(cfg);
        return run.main();
    } catch (const std::exception& e) {
        std::cerr << "shmq_chaos_run: " << e.what() << std::endl;
        return 2;
    }
}
