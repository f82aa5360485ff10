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
//   received      per group, distinct messages recorded by its consumers
//   lost          per group, sent and never recorded: must be 0
//   duplicates    per group, records beyond the first of a message; each must
//                 come from a redelivery (deliveries >= 2 in one record)
//   order         storage: per (producer, key) offsets rise with the send
//                 order, each message at one offset, in the key's partition;
//                 exclusive group (DESIGN.md promise 3: "within a partition, an
//                 exclusive group sees messages in offset order; redelivery
//                 after a crash restarts from the oldest unACKed offset"):
//                 (a) each consumer receives each partition's offsets in
//                 increasing order, (b) the group's first deliveries of each
//                 partition, in time order, are in offset order (a
//                 redelivery may go back, a first delivery may not)
//   redelivery    per consumer kill: kill -> the first redelivery (a record
//                 after the kill with more deliveries) of a message the killed
//                 consumer had recorded, i.e. held unACKed
//   stall         per producer kill that left a ring claim open at partition
//                 p, offset o (killed between claim and commit): kill -> the
//                 first delivery, in any group, of an offset >= o in p (a
//                 consumer waits at o until the reaper aborts it; this
//                 includes waiting for the next send to p). Kills with a
//                 claim open in spill staging are counted, not timed.
//   journal       after shmqd's last (clean) stop, each partition's journal
//                 as recovery reads it: offsets strictly rising (each once),
//                 every record the message consumers got at that offset, every
//                 delivered offset in the retained range present, and the
//                 journal reaching the last delivered offset; no corrupt region
//   repair        per producer kill holding a ring claim: kill -> the
//                 partition's aborted count rises (the reaper aborted the
//                 claim), polled every 0.5 ms: the stall proper (promise 2)
//
// Prints the figures and one JSON line; exit 0 iff nothing was lost, no check
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
#include <cstdio>
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
#include "inspect/inspect.hpp"
#include "partition_dir.hpp"
#include "recovery.hpp"
#include "region.hpp"
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

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string fixed(double v, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
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

enum class Role { producer, shared, exclusive, shmqd };
const char* role_name(Role r) {
    switch (r) {
        case Role::producer: return "producer";
        case Role::shared: return "shared consumer";
        case Role::exclusive: return "exclusive consumer";
        case Role::shmqd: return "shmqd";
    }
    return "?";
}

// One producer process: its producer id is its index in Run::producers.
struct ProducerRun {
    fs::path status_file;
    uint64_t* page = nullptr;
    pid_t pid = -1;
    bool killed = false;
    uint64_t kill_ns = 0;
    // Read from the status page once it has ended.
    uint64_t acked = 0;
    bool in_flight = false;  // message `acked` was being sent when it died
    Phase phase = Phase::idle;
    uint32_t claim_partition = 0;
    uint64_t claim_offset = 0;
    bool claim_staged = false;
    uint64_t dwells = 0;
    // Killed holding a ring claim: kill -> the reaper aborted it (the
    // partition's aborted count rose), polled every 0.5 ms; 0 if unmeasured.
    uint64_t repair_ns = 0;
    bool repair_timed_out = false;  // no abort counted within 5 s of the kill
    bool repair_no_snapshot = false;  // the region could not be read just before the kill
};

// One consumer process (one record file).
struct ConsumerRun {
    uint32_t group = 0;  // index into kGroups
    fs::path file;
    pid_t pid = -1;
    bool killed = false;
    uint64_t kill_ns = 0;
};

struct GroupDef {
    const char* name;
    const char* kind;
    GroupKind group_kind;
    Role role;
};
constexpr GroupDef kGroups[2] = {{"shared", "shared", GroupKind::shared, Role::shared},
                                 {"excl", "exclusive", GroupKind::exclusive, Role::exclusive}};

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
    // shmqd's down times: (kill, restart); restart 0 while still down.
    std::vector<std::pair<uint64_t, uint64_t>> shmqd_down_;
    bool shmqd_down_at(uint64_t t) const {
        for (auto& [from, to] : shmqd_down_)
            if (t >= from && (to == 0 || t < to)) return true;
        return false;
    }
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
    if (!shmqd_down_.empty() && shmqd_down_.back().second == 0) shmqd_down_.back().second = mono_ns();
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
        shmqd_down_.push_back({now, 0});
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

// One record line: "K:i partition offset deliveries key received_ns".
struct Rec {
    uint64_t offset;
    uint64_t ns;
    uint32_t msg;  // index in the run's message space (Run::analyse)
    uint32_t partition;
    uint32_t deliveries;
    uint32_t file;  // index in consumers_
};

template <class T>
bool num(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

struct Percentiles {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, max = 0;  // ms
};
Percentiles percentiles(std::vector<uint64_t> v) {
    Percentiles p;
    p.n = v.size();
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    p.p50 = ms(v[v.size() / 2]);
    p.p99 = ms(v[std::min(v.size() - 1, v.size() * 99 / 100)]);
    p.max = ms(v.back());
    return p;
}
std::string json(const Percentiles& p) {
    return "{\"n\":" + std::to_string(p.n) + ",\"p50_ms\":" + fixed(p.p50, 2) + ",\"p99_ms\":" + fixed(p.p99, 2) +
           ",\"max_ms\":" + fixed(p.max, 2) + "}";
}
std::string words(const Percentiles& p) {
    if (p.n == 0) return "none measured";
    return "max " + fixed(p.max) + " ms, p99 " + fixed(p.p99) + " ms, p50 " + fixed(p.p50) + " ms over " +
           std::to_string(p.n) + " kills";
}

struct GroupResult {
    uint64_t records = 0, received = 0, lost = 0, duplicates = 0, duplicated_messages = 0, unexplained = 0;
    uint64_t in_flight_received = 0;
    uint64_t order_within_consumer = 0, order_first_delivery = 0;
    Percentiles redelivery, redelivery_up;  // all kills; kills while shmqd was up
    uint64_t kills_without_redelivery = 0;
    std::vector<std::string> examples;
};

int Run::analyse() {
    // Message space: producer k's messages 0..acked_k are [base_k, base_k + acked_k]
    // (the last one: in flight at its kill, or never sent).
    std::vector<uint64_t> base(producers_.size() + 1, 0);
    uint64_t sent = 0, in_flight = 0, dwells = 0;
    for (std::size_t k = 0; k < producers_.size(); ++k) {
        base[k + 1] = base[k] + producers_[k].acked + 1;
        sent += producers_[k].acked;
        in_flight += producers_[k].in_flight;
        dwells += producers_[k].dwells;
    }
    const uint64_t space = base.back();
    if (space >= UINT32_MAX) {
        problem("too many messages to analyse");
        return 1;
    }
    auto name_of = [&](uint32_t msg) {
        const auto k = static_cast<std::size_t>(std::upper_bound(base.begin(), base.end(), msg) - base.begin() - 1);
        return std::to_string(k) + ":" + std::to_string(msg - base[k]);
    };

    // Read every record file.
    std::vector<std::vector<Rec>> recs(2);
    uint64_t malformed = 0, torn = 0, unexpected = 0, misrouted = 0;
    std::vector<std::string> bad_examples;
    auto bad = [&](uint64_t& counter, std::string what) {
        ++counter;
        if (bad_examples.size() < 8) bad_examples.push_back(std::move(what));
    };
    for (uint32_t f = 0; f < consumers_.size(); ++f) {
        std::ifstream in(consumers_[f].file, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::string_view rest = text;
        auto& out = recs[consumers_[f].group];
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            if (nl == std::string_view::npos) {  // killed during its write(2): never ACKed
                ++torn;
                break;
            }
            std::string_view line = rest.substr(0, nl);
            rest.remove_prefix(nl + 1);
            std::string_view fld[6];
            bool ok = true;
            for (int i = 0; i < 6 && ok; ++i) {
                const auto sp = line.find(' ');
                if (i < 5 && sp == std::string_view::npos) ok = false;
                fld[i] = i < 5 ? line.substr(0, sp) : line;
                if (i < 5 && ok) line.remove_prefix(sp + 1);
            }
            const auto colon = fld[0].find(':');
            uint32_t producer = 0, key_n = 0;
            uint64_t seq = 0;
            Rec r{};
            ok = ok && colon != std::string_view::npos && num(fld[0].substr(0, colon), producer) &&
                 num(fld[0].substr(colon + 1), seq) && num(fld[1], r.partition) && num(fld[2], r.offset) &&
                 num(fld[3], r.deliveries) && fld[4].starts_with("key-") && num(fld[4].substr(4), key_n) &&
                 num(fld[5], r.ns);
            if (!ok) {
                bad(malformed, consumers_[f].file.filename().string() + ": malformed '" + std::string(line.substr(0, 80)) + "'");
                continue;
            }
            if (producer >= producers_.size() || seq > producers_[producer].acked ||
                (seq == producers_[producer].acked && !producers_[producer].in_flight)) {
                bad(unexpected, "message " + std::string(fld[0]) + " was never sent");
                continue;
            }
            if (key_n != seq % cfg_.keys || r.partition != partition_for_key(fld[4], cfg_.partitions)) {
                bad(misrouted, "message " + std::string(fld[0]) + " with key " + std::string(fld[4]) + " in partition " +
                                   std::to_string(r.partition));
                continue;
            }
            r.msg = static_cast<uint32_t>(base[producer] + seq);
            r.file = f;
            out.push_back(r);
        }
    }

    // Storage: each message at one offset; per (producer, key) offsets rise with seq.
    std::vector<uint64_t> offset_of(space, UINT64_MAX);
    uint64_t two_offsets = 0, storage_order = 0;
    for (auto& g : recs)
        for (const Rec& r : g) {
            if (offset_of[r.msg] == UINT64_MAX) offset_of[r.msg] = r.offset;
            else if (offset_of[r.msg] != r.offset)
                bad(two_offsets, "message " + name_of(r.msg) + " at offsets " + std::to_string(offset_of[r.msg]) +
                                     " and " + std::to_string(r.offset));
        }
    for (std::size_t k = 0; k < producers_.size(); ++k)
        for (uint64_t key = 0; key < cfg_.keys; ++key) {
            uint64_t prev = UINT64_MAX, prev_seq = 0;
            for (uint64_t seq = key; seq <= producers_[k].acked; seq += cfg_.keys) {
                const uint64_t o = offset_of[base[k] + seq];
                if (o == UINT64_MAX) continue;
                if (prev != UINT64_MAX && o <= prev)
                    bad(storage_order, "producer " + std::to_string(k) + " key-" + std::to_string(key) + ": seq " +
                                           std::to_string(seq) + " at offset " + std::to_string(o) + " after seq " +
                                           std::to_string(prev_seq) + " at " + std::to_string(prev));
                prev = o;
                prev_seq = seq;
            }
        }

    // Per group.
    GroupResult result[2];
    for (uint32_t gi = 0; gi < 2; ++gi) {
        auto& rs = recs[gi];
        GroupResult& gr = result[gi];
        auto example = [&](std::string s) {
            if (gr.examples.size() < 8) gr.examples.push_back(std::move(s));
        };
        gr.records = rs.size();
        std::vector<uint16_t> count(space, 0);
        std::vector<uint8_t> redelivered(space, 0);
        for (const Rec& r : rs) {
            if (count[r.msg] < UINT16_MAX) ++count[r.msg];
            if (r.deliveries >= 2) redelivered[r.msg] = 1;
        }
        for (std::size_t k = 0; k < producers_.size(); ++k) {
            for (uint64_t seq = 0; seq <= producers_[k].acked; ++seq) {
                const uint64_t m = base[k] + seq;
                const bool was_sent = seq < producers_[k].acked;
                if (count[m] == 0) {
                    if (was_sent && ++gr.lost <= 8) example("lost: " + std::to_string(k) + ":" + std::to_string(seq));
                    continue;
                }
                if (was_sent) ++gr.received;
                else ++gr.in_flight_received;
                if (count[m] > 1) {
                    gr.duplicates += count[m] - 1u;
                    ++gr.duplicated_messages;
                    if (!redelivered[m] && ++gr.unexplained <= 8)
                        example("recorded " + std::to_string(count[m]) + " times, never redelivered: " +
                                std::to_string(k) + ":" + std::to_string(seq));
                }
            }
        }
        // Redelivery after each kill of one of this group's consumers.
        std::vector<uint32_t> by_msg(rs.size());
        for (uint32_t i = 0; i < rs.size(); ++i) by_msg[i] = i;
        std::sort(by_msg.begin(), by_msg.end(), [&](uint32_t a, uint32_t b) {
            return rs[a].msg != rs[b].msg ? rs[a].msg < rs[b].msg : rs[a].ns < rs[b].ns;
        });
        std::vector<uint64_t> latencies, latencies_up;
        std::vector<std::pair<std::size_t, std::size_t>> file_range(consumers_.size(), {0, 0});
        for (std::size_t i = 0; i < rs.size();) {  // records of a file are contiguous
            std::size_t j = i;
            while (j < rs.size() && rs[j].file == rs[i].file) ++j;
            file_range[rs[i].file] = {i, j};
            i = j;
        }
        for (uint32_t f = 0; f < consumers_.size(); ++f) {
            const ConsumerRun& c = consumers_[f];
            if (c.group != gi || !c.killed) continue;
            uint64_t first = UINT64_MAX;
            for (std::size_t i = file_range[f].first; i < file_range[f].second; ++i) {
                const Rec& held = rs[i];
                auto it = std::lower_bound(by_msg.begin(), by_msg.end(), held.msg,
                                           [&](uint32_t a, uint32_t m) { return rs[a].msg < m; });
                for (; it != by_msg.end() && rs[*it].msg == held.msg; ++it)
                    if (rs[*it].ns > c.kill_ns && rs[*it].deliveries > held.deliveries) first = std::min(first, rs[*it].ns);
            }
            if (first != UINT64_MAX) {
                latencies.push_back(first - c.kill_ns);
                if (!shmqd_down_at(c.kill_ns)) latencies_up.push_back(first - c.kill_ns);
            }
            else ++gr.kills_without_redelivery;
        }
        gr.redelivery = percentiles(std::move(latencies));
        gr.redelivery_up = percentiles(std::move(latencies_up));

        if (kGroups[gi].group_kind != GroupKind::exclusive) continue;
        // (a) each consumer: per partition, offsets rise.
        std::vector<std::vector<uint64_t>> last(consumers_.size());
        for (const Rec& r : rs) {
            auto& l = last[r.file];
            if (l.empty()) l.assign(cfg_.partitions, UINT64_MAX);
            if (r.partition < cfg_.partitions && l[r.partition] != UINT64_MAX && r.offset <= l[r.partition] &&
                ++gr.order_within_consumer <= 4)
                example(consumers_[r.file].file.filename().string() + ": partition " + std::to_string(r.partition) +
                        " offset " + std::to_string(r.offset) + " after " + std::to_string(l[r.partition]));
            if (r.partition < cfg_.partitions) l[r.partition] = r.offset;
        }
        // (b) first deliveries per partition in offset order, in time.
        std::vector<uint32_t> by_time(rs.size());
        for (uint32_t i = 0; i < rs.size(); ++i) by_time[i] = i;
        std::sort(by_time.begin(), by_time.end(), [&](uint32_t a, uint32_t b) { return rs[a].ns < rs[b].ns; });
        std::vector<uint8_t> seen(space, 0);
        std::vector<uint64_t> highest(cfg_.partitions, 0);
        std::vector<bool> any(cfg_.partitions, false);
        for (uint32_t i : by_time) {
            const Rec& r = rs[i];
            if (seen[r.msg] || r.partition >= cfg_.partitions) continue;
            seen[r.msg] = 1;
            if (any[r.partition] && r.offset < highest[r.partition]) {
                if (++gr.order_first_delivery <= 4)
                    example("first delivery of partition " + std::to_string(r.partition) + " offset " +
                            std::to_string(r.offset) + " (" + consumers_[r.file].file.filename().string() +
                            ") after offset " + std::to_string(highest[r.partition]));
                continue;
            }
            highest[r.partition] = r.offset;
            any[r.partition] = true;
        }
    }

    // Partition stall after producer kills that left a ring claim open.
    std::vector<std::vector<std::pair<uint64_t, uint64_t>>> by_offset(cfg_.partitions);  // (offset, ns)
    for (auto& g : recs)
        for (const Rec& r : g)
            if (r.partition < cfg_.partitions) by_offset[r.partition].push_back({r.offset, r.ns});
    std::vector<std::vector<uint64_t>> suffix_min(cfg_.partitions);
    for (uint32_t p = 0; p < cfg_.partitions; ++p) {
        auto& v = by_offset[p];
        std::sort(v.begin(), v.end());
        suffix_min[p].assign(v.size() + 1, UINT64_MAX);
        for (std::size_t i = v.size(); i-- > 0;) suffix_min[p][i] = std::min(suffix_min[p][i + 1], v[i].second);
    }
    std::vector<uint64_t> stalls, repairs, stalls_up, repairs_up;
    uint64_t kills_ring_claim = 0, kills_staged_claim = 0, kills_in_send = 0, kills_idle = 0, stall_unmeasured = 0;
    uint64_t repair_timed_out = 0, repair_no_snapshot = 0, repair_in_commit = 0;
    for (const ProducerRun& p : producers_) {
        if (!p.killed) continue;
        const bool holding = p.phase == Phase::holding || p.phase == Phase::committing;
        if (!holding) {
            (p.phase == Phase::idle ? kills_idle : kills_in_send)++;
            continue;
        }
        if (p.claim_staged) {
            ++kills_staged_claim;
            continue;
        }
        ++kills_ring_claim;
        const bool up = !shmqd_down_at(p.kill_ns);
        if (p.repair_ns != 0) repairs.push_back(p.repair_ns);
        if (p.repair_ns != 0 && up) repairs_up.push_back(p.repair_ns);
        repair_timed_out += p.repair_timed_out;
        repair_no_snapshot += p.repair_no_snapshot;
        repair_in_commit += p.phase == Phase::committing;
        if (p.claim_partition >= cfg_.partitions) continue;
        const auto& v = by_offset[p.claim_partition];
        const auto i = static_cast<std::size_t>(
            std::lower_bound(v.begin(), v.end(), std::make_pair(p.claim_offset, uint64_t{0})) - v.begin());
        const uint64_t first = suffix_min[p.claim_partition][i];
        if (first == UINT64_MAX) ++stall_unmeasured;
        else stalls.push_back(first > p.kill_ns ? first - p.kill_ns : 0);
        if (first != UINT64_MAX && up) stalls_up.push_back(first > p.kill_ns ? first - p.kill_ns : 0);
    }
    const Percentiles stall = percentiles(std::move(stalls));
    const Percentiles repair = percentiles(std::move(repairs));
    const Percentiles stall_up = percentiles(std::move(stalls_up));
    const Percentiles repair_up = percentiles(std::move(repairs_up));

    // The journal, read back as recovery reads it (read-only).
    struct JournalCheck {
        uint64_t records = 0, out_of_order = 0, mismatched = 0, missing = 0, behind = 0, corrupt = 0, unreadable = 0;
    } jc;
    for (uint32_t p = 0; p < cfg_.partitions; ++p) {
        std::vector<std::pair<uint64_t, uint32_t>> delivered;  // (offset, msg), sorted, unique
        for (auto& g : recs)
            for (const Rec& r : g)
                if (r.partition == p) delivered.push_back({r.offset, r.msg});
        std::sort(delivered.begin(), delivered.end());
        delivered.erase(std::unique(delivered.begin(), delivered.end()), delivered.end());
        std::string error;
        disk::DirFd dir = disk::open_partition_dir((dir_ / "data" / "journal").string(), queue_, p, false, error);
        if (!dir.valid()) {
            bad(jc.unreadable, "journal of partition " + std::to_string(p) + ": " + error);
            continue;
        }
        disk::RecoveryOptions ro;
        ro.partition = p;
        ro.repair = false;
        std::vector<uint64_t> offsets;
        const auto report = disk::recover_partition(dir.get(), ro, [&](const disk::RecordView& rv) {
            ++jc.records;
            if (!offsets.empty() && rv.offset <= offsets.back())
                bad(jc.out_of_order, "journal p" + std::to_string(p) + ": offset " + std::to_string(rv.offset) +
                                         " after " + std::to_string(offsets.back()));
            offsets.push_back(rv.offset);
            const std::string_view text(reinterpret_cast<const char*>(rv.payload.data()), rv.payload.size());
            const auto it = std::lower_bound(delivered.begin(), delivered.end(), std::make_pair(rv.offset, uint32_t{0}));
            const bool match = it != delivered.end() && it->first == rv.offset && name_of(it->second) == text;
            if (!match)
                bad(jc.mismatched, "journal p" + std::to_string(p) + " offset " + std::to_string(rv.offset) + " holds '" +
                                       std::string(text.substr(0, 40)) + "', consumers got " +
                                       (it != delivered.end() && it->first == rv.offset ? name_of(it->second) : "nothing"));
        });
        jc.corrupt += report.corrupt;
        if (report.corrupt) bad(jc.unreadable, "journal p" + std::to_string(p) + ": " + std::to_string(report.corrupt) + " corrupt regions");
        if (offsets.empty()) {
            if (!delivered.empty()) bad(jc.behind, "journal p" + std::to_string(p) + " is empty");
            continue;
        }
        std::sort(offsets.begin(), offsets.end());
        for (auto& [o, m] : delivered)
            if (o >= offsets.front() && o <= offsets.back() && !std::binary_search(offsets.begin(), offsets.end(), o))
                bad(jc.missing, "journal p" + std::to_string(p) + " lacks offset " + std::to_string(o) + " (" + name_of(m) + ")");
        if (!delivered.empty() && delivered.back().first > offsets.back())
            bad(jc.behind, "journal p" + std::to_string(p) + " ends at offset " + std::to_string(offsets.back()) +
                               ", consumers got up to " + std::to_string(delivered.back().first));
    }

    // Report.
    uint64_t total_kills = 0;
    for (auto& [r, n] : kills_) total_kills += n;
    const bool lost_any = result[0].lost + result[1].lost != 0;
    const uint64_t violations = unexpected + misrouted + two_offsets + storage_order + result[0].unexplained +
                                result[1].unexplained + result[1].order_within_consumer + result[1].order_first_delivery +
                                malformed + jc.out_of_order + jc.mismatched + jc.missing + jc.behind + jc.corrupt +
                                jc.unreadable;
    if (lost_any) problem("messages lost");
    if (violations) problem(std::to_string(violations) + " check violations");
    const bool pass = problems_.empty() && drained_;

    std::cout << "[chaos] ---- result (seed " << cfg_.seed << ") ----\n";
    std::cout << "  killing for         " << fixed(kill_seconds_) << " s, then drained in " << fixed(drain_seconds_)
              << " s" << (drained_ ? "" : " (NOT drained)") << "\n";
    std::cout << "  kills               " << total_kills << ": producer " << kills_[Role::producer] << ", shared consumer "
              << kills_[Role::shared] << ", exclusive consumer " << kills_[Role::exclusive] << ", shmqd "
              << kills_[Role::shmqd] << "\n";
    std::cout << "  producer kills      " << kills_ring_claim << " with a ring claim open, " << kills_staged_claim
              << " with a spill-staging claim open, " << kills_in_send << " inside send/claim/commit, " << kills_idle
              << " between messages\n";
    std::cout << "  sent                " << sent << " acknowledged by " << producers_.size()
              << " producer processes (" << dwells << " through a held claim); " << in_flight
              << " more in flight at a kill (received: shared " << result[0].in_flight_received << ", exclusive "
              << result[1].in_flight_received << "; not counted as sent or lost)\n";
    for (uint32_t gi = 0; gi < 2; ++gi) {
        const GroupResult& gr = result[gi];
        std::cout << "  group " << kGroups[gi].name << " (" << kGroups[gi].kind << ")"
                  << std::string(gi == 0 ? 4 : 1, ' ') << "received " << gr.received << " distinct, lost " << gr.lost
                  << ", duplicates " << gr.duplicates << " (of " << gr.duplicated_messages << " messages; "
                  << gr.unexplained << " without a redelivery), records " << gr.records << "\n";
        std::cout << "      redelivery after a consumer kill: " << words(gr.redelivery) << " ("
                  << gr.kills_without_redelivery << " kills held nothing recorded)\n"
                  << "          of which with shmqd up at the kill: " << words(gr.redelivery_up) << "\n";
        if (kGroups[gi].group_kind == GroupKind::exclusive)
            std::cout << "      order: " << gr.order_within_consumer << " offsets not rising within a consumer, "
                      << gr.order_first_delivery << " first deliveries out of offset order\n";
        for (auto& e : gr.examples) std::cout << "      " << e << "\n";
    }
    std::cout << "  storage             " << storage_order << " (producer, key) order violations, " << two_offsets
              << " messages at two offsets, " << misrouted << " in the wrong partition, " << unexpected
              << " never sent, " << malformed << " malformed records, " << torn << " torn record tails (killed writes)\n";
    for (auto& e : bad_examples) std::cout << "      " << e << "\n";
    std::cout << "  journal             " << jc.records << " records kept (retention 4 MiB per partition): "
              << jc.out_of_order << " out of order or twice, " << jc.mismatched << " not the delivered message, "
              << jc.missing << " delivered offsets missing, " << jc.behind << " partitions behind, " << jc.corrupt
              << " corrupt regions\n";
    std::cout << "  partition stall     after a producer kill with a ring claim open (kill -> first delivery of an "
                 "offset >= the claimed one in its partition; includes waiting for the next send there): "
              << words(stall) << (stall_unmeasured ? " (" + std::to_string(stall_unmeasured) + " unmeasured)" : "")
              << "\n          of which with shmqd up at the kill: " << words(stall_up) << "\n";
    std::cout << "  dead claim repaired kill -> the reaper aborted the claim (partition's aborted count rose, polled "
                 "every 0.5 ms): "
              << words(repair);
    if (repair_timed_out + repair_no_snapshot + repair_in_commit != 0)
        std::cout << " (not timed: " << repair_in_commit << " killed inside commit, " << repair_timed_out
                  << " with no abort counted within 5 s, " << repair_no_snapshot << " with no snapshot before the kill)";
    std::cout << "\n          of which with shmqd up at the kill: " << words(repair_up) << "\n";
    std::cout << "  spill               " << spilled_ << " messages went through spill staging; backlog up to "
              << max_spill_backlog_ << ", up to " << max_spill_disk_ << " on disk at once (sampled every 100 ms)\n";
    std::cout << "  DLQ depth at end    " << dlq_depth_ << "; shmqd started " << shmqd_starts_ << " times\n";
    std::cout << "  verdict             " << (pass ? "PASS" : "FAIL") << std::endl;
    for (auto& p : problems_) std::cout << "    - " << p.text.substr(0, p.text.find('\n')) << "\n";

    auto group_json = [&](uint32_t gi) {
        const GroupResult& gr = result[gi];
        std::string s = std::string("{\"kind\":\"") + kGroups[gi].kind + "\",\"received\":" + std::to_string(gr.received) +
                        ",\"lost\":" + std::to_string(gr.lost) + ",\"duplicates\":" + std::to_string(gr.duplicates) +
                        ",\"unexplained_duplicates\":" + std::to_string(gr.unexplained) +
                        ",\"in_flight_received\":" + std::to_string(gr.in_flight_received) +
                        ",\"redelivery_after_kill\":" + json(gr.redelivery) +
                        ",\"redelivery_after_kill_shmqd_up\":" + json(gr.redelivery_up);
        if (kGroups[gi].group_kind == GroupKind::exclusive)
            s += ",\"order_violations\":" + std::to_string(gr.order_within_consumer + gr.order_first_delivery);
        return s + "}";
    };
    std::cout << "{\"chaos_run\":{\"seed\":" << cfg_.seed << ",\"minutes\":" << cfg_.minutes
              << ",\"killing_s\":" << fixed(kill_seconds_) << ",\"drain_s\":" << fixed(drain_seconds_)
              << ",\"drained\":" << (drained_ ? "true" : "false") << ",\"kills\":{\"producer\":"
              << kills_[Role::producer] << ",\"shared_consumer\":" << kills_[Role::shared]
              << ",\"exclusive_consumer\":" << kills_[Role::exclusive] << ",\"shmqd\":" << kills_[Role::shmqd]
              << "},\"sent\":" << sent << ",\"in_flight_at_kill\":" << in_flight << ",\"groups\":{\"shared\":"
              << group_json(0) << ",\"excl\":" << group_json(1) << "},\"partition_stall_after_producer_kill\":"
              << json(stall) << ",\"partition_stall_shmqd_up\":" << json(stall_up)
              << ",\"dead_claim_repair\":" << json(repair) << ",\"dead_claim_repair_shmqd_up\":" << json(repair_up) << ",\"storage_order_violations\":" << storage_order << ",\"two_offsets\":" << two_offsets
              << ",\"misrouted\":" << misrouted << ",\"journal\":{\"records\":" << jc.records
              << ",\"violations\":" << (jc.out_of_order + jc.mismatched + jc.missing + jc.behind + jc.corrupt + jc.unreadable)
              << "}" << ",\"spilled\":" << spilled_
              << ",\"max_spill_backlog\":" << max_spill_backlog_ << ",\"max_spill_on_disk\":" << max_spill_disk_ << ",\"never_sent\":" << unexpected << ",\"dlq_depth\":" << dlq_depth_
              << ",\"pass\":" << (pass ? "true" : "false") << "}}" << std::endl;
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
