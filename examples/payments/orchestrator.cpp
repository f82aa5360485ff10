// payments [run] [options]: the whole demo in one process tree.
//
//   1. create the three queues (requests with a dedup window; names unique to
//      the run, removed at the end whatever happens), the SQLite ledger, and
//      start shmqd on the queues with its own lock file;
//   2. join the receipts queue as the audit, start the chargers and the
//      receipts workers and wait until each joined its group; start checkout;
//   3. every 100-400 ms SIGKILL a random stage process (checkout while it
//      has not finished, a charger, a receipts worker) and start it again;
//   4. when every payment has its receipt (or at the timeout), stop the
//      stages, read the rest of the receipts, the queues' counters and the
//      ledger, and print the report.
// Exit status: 0 every check held, 1 one failed (the report says which),
// 2 bad usage or a setup error.
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <shmq/shmq.hpp>

#include "args.hpp"
#include "audit.hpp"
#include "children.hpp"
#include "../common/orchestration.hpp"
#include "ledger.hpp"
#include "payments.hpp"
#include "report.hpp"
#include "roles.hpp"
#include "shmq_tool.hpp"
#include "status.hpp"

namespace payments {

namespace {

using examples::check_interrupted;
using examples::read_file;
using examples::RunDir;
using examples::tool;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: payments [run] [--payments N] [--rate PER_S] [--chargers N] [--receipt-workers N]\n"
    "                [--kill-min-ms MS] [--kill-max-ms MS] [--seed S] [--timeout-s S] [--bin-dir DIR]\n"
    "                [--keep] [--no-shmqd] [--no-kill]\n"
    "  defaults: 20000 payments, new ones sent at 2000/s (0: flat out), 2 chargers, 2 receipts workers,\n"
    "  a SIGKILL every 100-400 ms, 120 s to finish; shmq and shmqd are looked for in --bin-dir\n"
    "  (default: this program's directory).\n";

struct Config {
    uint64_t payments = 20000;
    uint64_t rate = 2000;
    uint32_t chargers = 2;
    uint32_t receipt_workers = 2;
    uint64_t kill_min_ms = 100, kill_max_ms = 400;
    uint64_t seed = 0;
    std::chrono::seconds timeout{120};
    std::string shmq_path;
    std::string shmqd_path;  // empty: run without shmqd
    bool keep = false;
    bool kill = true;
};

Config parse(int argc, char** argv, int first) {
    const Args a(argc, argv, first,
                 {"--payments", "--rate", "--chargers", "--receipt-workers", "--kill-min-ms", "--kill-max-ms", "--seed",
                  "--timeout-s", "--bin-dir"},
                 {"--keep", "--no-shmqd", "--no-kill"});
    Config c;
    c.payments = a.number("--payments", c.payments, 1, 10'000'000);
    c.rate = a.number("--rate", c.rate);
    c.chargers = static_cast<uint32_t>(a.number("--chargers", c.chargers, 1, 16));
    c.receipt_workers = static_cast<uint32_t>(a.number("--receipt-workers", c.receipt_workers, 1, 16));
    c.kill_min_ms = a.number("--kill-min-ms", c.kill_min_ms, 1, 600'000);
    c.kill_max_ms = a.number("--kill-max-ms", c.kill_max_ms, c.kill_min_ms, 600'000);
    c.seed = a.number("--seed", std::random_device{}());
    c.timeout = std::chrono::seconds(a.number("--timeout-s", 120, 1, 3600));
    const std::string bin_dir = a.text("--bin-dir").value_or(std::filesystem::path(self_path()).parent_path().string());
    c.shmq_path = tool(bin_dir, "shmq");
    c.shmqd_path = a.has("--no-shmqd") ? "" : tool(bin_dir, "shmqd");
    c.keep = a.has("--keep");
    c.kill = !a.has("--no-kill");
    return c;
}

// The run's queues, removed when it ends (normally, by an exception or on ^C).
struct QueuesGuard {
    std::vector<std::string> names;
    void create(const std::string& name, const shmq::QueueOptions& o) {
        try {
            (void)shmq::Queue::create(name, o);
        } catch (const shmq::Error& e) {
            throw std::runtime_error("cannot create queue " + name + ": " + e.what());
        }
        names.push_back(name);
    }
    ~QueuesGuard() {
        for (const auto& n : names) try {
                shmq::Queue::remove(n);
            } catch (...) {  // already gone
            }
    }
};

// One stage process slot: a killed process is replaced in its slot, which
// keeps its status page (the counters add up over its incarnations).
struct Slot {
    std::string role;  // "checkout", "charger", "receipts"
    uint32_t index = 0;
    std::unique_ptr<StatusPage> status;
    Child* child = nullptr;
    uint64_t starts = 0;
    uint64_t kills = 0;
    uint64_t aimed = 0;     // kills that landed in the slot's target phase (see kill_aimed)
    bool finished = false;  // checkout: exited 0 after sending everything
};

class Stages {
public:
    Stages(Children& children, const Config& cfg, const std::string& dir, const std::string& prefix)
        : children_(children), cfg_(cfg), dir_(dir), prefix_(prefix), self_(self_path()) {}

    Slot& add(std::string role, uint32_t index) {
        auto& s = *slots_.emplace_back(std::make_unique<Slot>());
        s.role = std::move(role);
        s.index = index;
        s.status = std::make_unique<StatusPage>(status_file(dir_, s.role, index), true);
        return s;
    }

    void start(Slot& s) {
        std::vector<std::string> args{s.role};
        if (s.role == "checkout")
            args.insert(args.end(), {"--queue", queue_names(prefix_).requests, "--payments",
                                     std::to_string(cfg_.payments), "--rate", std::to_string(cfg_.rate), "--status",
                                     status_file(dir_, s.role, s.index)});
        else
            args.insert(args.end(), {"--prefix", prefix_, "--dir", dir_, "--index", std::to_string(s.index)});
        ++s.starts;
        s.child = &children_.spawn(s.role + " " + std::to_string(s.index), self_, args);
    }

    // Waits until the slot's current incarnation has joined its group.
    void wait_ready(Slot& s, Clock::time_point deadline) {
        while (s.status->get(&StageStatus::ready) < s.starts) {
            check_interrupted();
            if (!children_.running(*s.child) || Clock::now() >= deadline)
                throw std::runtime_error("a stage did not join its group: " + s.child->describe());
            std::this_thread::sleep_for(1ms);
        }
    }

    std::vector<std::unique_ptr<Slot>>& slots() { return slots_; }

    StageSummary summary(const std::string& role) const {
        StageSummary out;
        for (const auto& s : slots_) {
            if (s->role != role) continue;
            ++out.processes;
            out.starts += s->starts;
            out.kills += s->kills;
            out.aimed += s->aimed;
            for (auto f : {&StageStatus::new_sends, &StageStatus::duplicates, &StageStatus::applied,
                           &StageStatus::already, &StageStatus::commits, &StageStatus::lease_lost})
                out.totals.*f += s->status->get(f);
        }
        return out;
    }

private:
    Children& children_;
    const Config& cfg_;
    std::string dir_, prefix_, self_;
    std::vector<std::unique_ptr<Slot>> slots_;
};

// SIGKILLs `victim` at the instant that tests the most: a charger between a
// SQLite commit and its shmq commit (Phase::charged), a receipts worker with
// a transaction open (Phase::holding); checkout anywhere. Waits up to 100 ms
// for it: when the status page shows the phase, stops the process (SIGSTOP),
// looks again (stopped, it cannot change) and kills it, or lets it go on.
// Then it kills it wherever it is. True if it landed in the phase.
bool kill_aimed(Children& children, Slot& victim) {
    const uint64_t target = victim.role == "charger"    ? Phase::charged
                            : victim.role == "receipts" ? Phase::holding
                                                        : Phase::idle;
    const auto give_up = Clock::now() + 100ms;
    while (target != Phase::idle && Clock::now() < give_up) {
        while (victim.status->get(&StageStatus::phase) != target && Clock::now() < give_up)
            std::this_thread::yield();  // its phases last microseconds: look often
        if (!children.pause(*victim.child)) return false;  // it exited
        if (victim.status->get(&StageStatus::phase) == target) {
            children.kill(*victim.child);
            return true;
        }
        children.resume(*victim.child);
    }
    children.kill(*victim.child);
    return target == Phase::idle;
}

int run(const Config& cfg, RunDir& dir) {
    RunSummary s;
    s.payments = cfg.payments;
    s.rate = cfg.rate;
    s.kill = cfg.kill;
    s.kill_min_ms = cfg.kill_min_ms;
    s.kill_max_ms = cfg.kill_max_ms;
    s.seed = cfg.seed;
    s.dir = dir.path;
    s.prefix = "payments-" + std::to_string(::getpid());
    const QueueNames names = queue_names(s.prefix);
    const ShmqTool shmq_tool(cfg.shmq_path);

    QueuesGuard queues;
    queues.create(names.requests, requests_options(cfg.payments));
    queues.create(names.charged, stage_options());
    queues.create(names.receipts, stage_options());
    Ledger::create(ledger_file(dir.path));
    Children children;  // declared after the queues: its processes die before the queues are removed

    Child* shmqd = !cfg.shmqd_path.empty() ? &examples::start_shmqd(children, cfg.shmqd_path, dir.path, queues.names) : nullptr;
    s.shmqd_pid = shmqd ? shmqd->pid : -1;

    ReceiptAudit audit(names.receipts, cfg.payments);  // joins "audit" before any receipt exists
    Stages stages(children, cfg, dir.path, s.prefix);
    std::vector<Slot*> workers;
    for (uint32_t i = 0; i < cfg.chargers; ++i) workers.push_back(&stages.add("charger", i));
    for (uint32_t i = 0; i < cfg.receipt_workers; ++i) workers.push_back(&stages.add("receipts", i));
    Slot& checkout = stages.add("checkout", 0);
    for (Slot* w : workers) stages.start(*w);
    const auto ready_deadline = Clock::now() + 10s;
    for (Slot* w : workers) stages.wait_ready(*w, ready_deadline);  // the groups exist before the first request

    const auto started = Clock::now();
    const auto deadline = started + cfg.timeout;
    stages.start(checkout);
    std::mt19937_64 rng(cfg.seed);
    auto kill_gap = [&] { return std::chrono::milliseconds(cfg.kill_min_ms + rng() % (cfg.kill_max_ms - cfg.kill_min_ms + 1)); };
    auto next_kill = Clock::now() + kill_gap();

    for (;;) {
        check_interrupted();
        audit.poll(5ms);
        if (!checkout.finished && !children.running(*checkout.child)) {
            if (checkout.child->exited_zero())
                checkout.finished = true;
            else
                s.problems.push_back(checkout.child->describe() + " (not killed by us)");
        }
        for (Slot* w : workers)
            if (!children.running(*w->child)) s.problems.push_back(w->child->describe() + " (not killed by us)");
        if (!s.problems.empty()) break;
        if (audit.counts().distinct == cfg.payments && checkout.finished) break;
        const auto now = Clock::now();
        if (now >= deadline) {
            s.problems.push_back("not finished within " + std::to_string(cfg.timeout.count()) +
                                 " s (--timeout-s); the counts below are what had arrived by then");
            break;
        }
        if (cfg.kill && now >= next_kill) {
            next_kill = now + kill_gap();
            std::vector<Slot*> alive;
            for (auto& slot : stages.slots())
                if (!slot->finished && children.running(*slot->child)) alive.push_back(slot.get());
            if (alive.empty()) continue;
            Slot& victim = *alive[rng() % alive.size()];
            const bool aimed = kill_aimed(children, victim);
            const int st = victim.child->status;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && victim.role == "checkout") {
                victim.finished = true;  // it finished just before the signal: nothing was killed
                continue;
            }
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
                s.problems.push_back(victim.child->describe() + " (before our SIGKILL landed)");
                break;
            }
            ++victim.kills;
            victim.aimed += aimed ? 1 : 0;
            victim.status->set(&StageStatus::phase, Phase::idle);
            stages.start(victim);
        }
    }
    s.seconds = std::chrono::duration<double>(Clock::now() - started).count();

    // Stop the stages (SIGTERM: each finishes its batch), then read what is left.
    // A process restarted a moment ago may not have its SIGTERM handler yet:
    // let it join its group first.
    const auto settle = Clock::now() + 5s;
    for (auto& slot : stages.slots())
        while (children.running(*slot->child) && slot->status->get(&StageStatus::ready) < slot->starts &&
               Clock::now() < settle)
            std::this_thread::sleep_for(1ms);
    for (auto& slot : stages.slots()) children.stop(*slot->child, Clock::now() + 5s);
    for (auto& slot : stages.slots())
        if (!slot->finished && !slot->child->exited_zero() && s.problems.empty())
            s.problems.push_back(slot->child->describe() + " when asked to stop");
    audit.poll(300ms);  // anything late would be a duplicate
    s.audit = audit.counts();
    s.first_missing = audit.first_missing();
    s.checkout = stages.summary("checkout");
    s.chargers = stages.summary("charger");
    s.receipts = stages.summary("receipts");
    try {
        s.requests_q = shmq_tool.stat(names.requests);
        s.charged_q = shmq_tool.stat(names.charged);
        s.receipts_q = shmq_tool.stat(names.receipts);
    } catch (const std::exception& e) {
        s.problems.push_back(std::string("shmq stat: ") + e.what());
    }
    s.ledger = audit_ledger(ledger_file(dir.path), cfg.payments);
    if (shmqd) {
        children.stop(*shmqd, Clock::now() + 5s);
        if (!shmqd->exited_zero()) s.problems.push_back(shmqd->describe() + "; see " + dir.path + "/shmqd.log");
    }

    dir.keep = cfg.keep || !s.ok();
    if (!dir.keep) s.dir += " (removed)";
    print_report(std::cout, s);
    return s.ok() ? 0 : 1;
}

}  // namespace

int run_orchestrator(int argc, char** argv, int first) {
    if (examples::help_asked(argc, argv, first, kUsage)) return 0;
    const Config cfg = parse(argc, argv, first);
    return examples::run_in_dir("payments", [&](RunDir& dir) { return run(cfg, dir); });
}

}  // namespace payments
