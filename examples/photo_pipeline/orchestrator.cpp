// photo_pipeline [run] [options]: the whole demo in one process tree.
//
//   1. create the queue (unique name, removed at the end whatever happens)
//      and start shmqd on it, with its own lock file;
//   2. start the workers and wait until each has joined its group (a group
//      that joined late would miss the photos the other had finished);
//   3. start the upload; once half the photos are through the victim's group,
//      SIGKILL one of its workers at an instant it holds unACKed messages;
//   4. wait until every good photo has a record in both groups and every
//      corrupt one is in the DLQ once per group; stop the workers;
//   5. read the records, `shmq stat` and `shmq dlq ls`; print the report.
// Exit status: 0 nothing lost, 1 something lost or a process failed (the
// report says what), 2 bad usage or a setup error.
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <shmq/shmq.hpp>

#include "args.hpp"
#include "children.hpp"
#include "../common/orchestration.hpp"
#include "photo.hpp"
#include "pipeline.hpp"
#include "report.hpp"
#include "roles.hpp"
#include "shmq_tool.hpp"
#include "status.hpp"
#include "tally.hpp"

namespace photo_pipeline {

namespace {

using examples::check_interrupted;
using examples::read_file;
using examples::RunDir;
using examples::tool;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: photo_pipeline [run] [--photos N] [--resize-workers N] [--moderation-workers N] [--corrupt N]\n"
    "                      [--rate PHOTOS_PER_S] [--timeout-s S] [--bin-dir DIR] [--keep] [--no-shmqd] [--no-kill]\n"
    "  defaults: 20000 photos, 3 resize + 2 moderation workers, 1 corrupt photo, 10000 photos/s (0: flat out),\n"
    "  60 s to finish; shmq and shmqd are looked for in --bin-dir (default: this program's directory).\n";

struct Config {
    uint64_t photos = 20000;
    uint32_t workers[2] = {3, 2};  // per kGroups entry
    uint64_t corrupt = 1;
    uint64_t rate = 10000;
    std::chrono::seconds timeout{60};
    std::string shmq_path;   // the tool, for stat and dlq ls
    std::string shmqd_path;  // empty: run without shmqd
    bool keep = false;
    bool kill = true;
};

Config parse(int argc, char** argv, int first) {
    const Args a(argc, argv, first,
                 {"--photos", "--resize-workers", "--moderation-workers", "--corrupt", "--rate", "--timeout-s",
                  "--bin-dir"},
                 {"--keep", "--no-shmqd", "--no-kill"});
    Config c;
    c.photos = a.number("--photos", c.photos, 1, 10'000'000);
    c.workers[0] = static_cast<uint32_t>(a.number("--resize-workers", c.workers[0], 1, 32));
    c.workers[1] = static_cast<uint32_t>(a.number("--moderation-workers", c.workers[1], 1, 32));
    c.corrupt = a.number("--corrupt", c.corrupt, 0, 50);  // the DLQ holds 64 letters: 2 per corrupt photo
    if (c.corrupt >= c.photos) throw std::runtime_error("--corrupt must be less than --photos");
    c.rate = a.number("--rate", c.rate);
    c.timeout = std::chrono::seconds(a.number("--timeout-s", 60, 1, 3600));
    const std::string bin_dir = a.text("--bin-dir").value_or(std::filesystem::path(self_path()).parent_path().string());
    c.shmq_path = tool(bin_dir, "shmq");
    c.shmqd_path = a.has("--no-shmqd") ? "" : tool(bin_dir, "shmqd");
    c.keep = a.has("--keep");
    c.kill = !a.has("--no-kill");
    return c;
}

// The queue, removed when the run ends (normally, by an exception or on ^C).
struct QueueGuard {
    std::string name;
    explicit QueueGuard(std::string n) : name(std::move(n)) {
        try {
            (void)shmq::Queue::create(name, queue_options());
        } catch (const shmq::Error& e) {
            throw std::runtime_error("cannot create queue " + name + ": " + e.what());
        }
    }
    ~QueueGuard() {
        try {
            shmq::Queue::remove(name);
        } catch (...) {  // already gone
        }
    }
};

struct Worker {
    Child* child = nullptr;
    std::unique_ptr<StatusPage> status;
    std::size_t group = 0;  // index into kGroups
    uint32_t index = 0;
};

// Kills `victim` while it holds unACKed messages: wait until its status page
// says it holds some, stop it, look again (stopped, it cannot change), and
// SIGKILL it, or let it go on and wait for its next batch. Gives up waiting
// after 2 s and kills it anyway.
KillResult kill_mid_batch(Children& children, Worker& victim) {
    KillResult k;
    k.label = victim.child->label;
    k.pid = victim.child->pid;
    k.group = std::string(kGroups[victim.group].name);
    const auto give_up = Clock::now() + 2s;
    for (;;) {
        while (victim.status->held() == 0 && Clock::now() < give_up) std::this_thread::sleep_for(20us);
        if (!children.pause(*victim.child)) break;
        k.held = victim.status->held();  // stopped: the page cannot change under us
        if (k.held > 0 || Clock::now() >= give_up) {
            k.unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count());
            children.kill(*victim.child);
            return k;
        }
        children.resume(*victim.child);
    }
    k.label.clear();  // it exited on its own: nothing was killed
    return k;
}

UploadResult read_upload(const std::string& path) {
    UploadResult u;
    std::istringstream in(read_file(path));
    std::string field;
    while (in >> field) {
        const auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        const std::string k = field.substr(0, eq);
        const uint64_t v = std::strtoull(field.c_str() + eq + 1, nullptr, 10);
        if (k == "sent") u.sent = v;
        if (k == "elapsed_ns") u.elapsed_ns = v;
        if (k == "p50_ns") u.send.p50 = v;
        if (k == "p90_ns") u.send.p90 = v;
        if (k == "p99_ns") u.send.p99 = v;
        if (k == "max_ns") u.send.max = v;
    }
    return u;
}

int run(const Config& cfg, RunDir& dir) {
    const std::string self = self_path();
    const ShmqTool shmq_tool(cfg.shmq_path);
    RunSummary s;
    s.dir = dir.path;
    s.rate = cfg.rate;
    s.expected = {cfg.photos, corrupt_ids(cfg.photos, cfg.corrupt)};
    s.queue = "photo-pipeline-" + std::to_string(::getpid());
    const QueueGuard queue(s.queue);
    Children children;  // declared after the queue: its processes die before the queue is removed

    Child* shmqd = !cfg.shmqd_path.empty() ? &examples::start_shmqd(children, cfg.shmqd_path, dir.path, {s.queue}) : nullptr;
    s.shmqd_pid = shmqd ? shmqd->pid : -1;

    std::vector<Worker> workers;
    for (std::size_t g = 0; g < std::size(kGroups); ++g)
        for (uint32_t i = 0; i < cfg.workers[g]; ++i) {
            Worker& w = workers.emplace_back();
            w.group = g;
            w.index = i;
            w.status = std::make_unique<StatusPage>(worker_file(dir.path, kGroups[g].name, i, ".status"), true);
            w.child = &children.spawn(std::string(kGroups[g].name) + " worker " + std::to_string(i), self,
                                      {"worker", "--queue", s.queue, "--group", std::string(kGroups[g].name),
                                       "--index", std::to_string(i), "--dir", dir.path});
        }
    const auto ready_deadline = Clock::now() + 10s;
    for (auto& w : workers)
        while (!w.status->ready()) {
            check_interrupted();
            if (!children.running(*w.child) || Clock::now() >= ready_deadline)
                throw std::runtime_error("a worker did not join its group: " + w.child->describe());
            std::this_thread::sleep_for(1ms);
        }

    Child& upload = children.spawn("upload", self,
                                   {"upload", "--queue", s.queue, "--photos", std::to_string(cfg.photos), "--corrupt",
                                    std::to_string(cfg.corrupt), "--rate", std::to_string(cfg.rate), "--out",
                                    dir.path + "/upload.result"});

    // The victim: worker 0 of the group with the most workers, if that group
    // keeps at least one other (killing a group's only worker would stop it).
    Worker* victim = nullptr;
    for (auto& w : workers)
        if (w.index == 0 && cfg.workers[w.group] >= 2 && (!victim || cfg.workers[w.group] > cfg.workers[victim->group]))
            victim = &w;
    if (!cfg.kill) victim = nullptr;
    auto group_processed = [&](std::size_t g) {
        uint64_t n = 0;
        for (auto& w : workers)
            if (w.group == g) n += w.status->processed();
        return n;
    };
    auto maybe_kill = [&] {  // once half the photos are through the victim's group
        if (victim && s.kill.pid < 0 && group_processed(victim->group) >= cfg.photos / 2)
            s.kill = kill_mid_batch(children, *victim);
    };

    const auto deadline = Clock::now() + cfg.timeout;
    while (children.running(upload)) {
        check_interrupted();
        maybe_kill();
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(1ms);
    }
    if (!children.wait(upload, Clock::now())) {
        children.kill(upload);
        s.problems.push_back("the upload did not finish within " + std::to_string(cfg.timeout.count()) + " s");
    } else if (!upload.exited_zero()) {
        s.problems.push_back(upload.describe());
    }
    s.upload = read_upload(dir.path + "/upload.result");

    // Done when every group has a record of every good photo, the DLQ holds
    // every corrupt one for every group, and the queue says all is settled.
    auto done = [&] {
        const uint64_t good = cfg.photos - s.expected.corrupt.size();
        for (std::size_t g = 0; g < std::size(kGroups); ++g)
            if (tally_group(dir.path, kGroups[g].name, cfg.workers[g], s.expected, nullptr).processed != good)
                return false;
        if (victim && s.kill.pid < 0) return false;
        const auto dlq = shmq_tool.dlq(s.queue);
        for (std::size_t g = 0; g < std::size(kGroups); ++g)
            if (tally_group(dir.path, kGroups[g].name, cfg.workers[g], s.expected, &dlq).not_dead_lettered != 0)
                return false;
        return shmq_tool.stat(s.queue).drained();
    };
    while (s.problems.empty() && !done()) {  // a failed upload: report at once
        check_interrupted();
        maybe_kill();
        for (auto& w : workers)
            if (&w != victim && !children.running(*w.child))
                s.problems.push_back(w.child->describe() + " before the run was over");
        if (s.problems.empty() && Clock::now() >= deadline)
            s.problems.push_back("not finished within " + std::to_string(cfg.timeout.count()) +
                                 " s (--timeout-s); the counts below are what had arrived by then");
        std::this_thread::sleep_for(50ms);
    }

    for (auto& w : workers) children.stop(*w.child, Clock::now() + 5s);
    for (auto& w : workers)
        if (&w != victim && !w.child->exited_zero() && s.problems.empty())
            s.problems.push_back(w.child->describe());
    s.counters = shmq_tool.stat(s.queue);
    if (!upload.exited_zero()) {  // one producer sends 1, 2, ... in order: the queue's count says which got in
        s.upload.sent = s.expected.photos = std::min(cfg.photos, s.counters.published);
        std::erase_if(s.expected.corrupt, [&](uint64_t id) { return id > s.expected.photos; });
    }
    s.dlq = shmq_tool.dlq(s.queue);
    for (std::size_t g = 0; g < std::size(kGroups); ++g)
        s.groups.push_back(tally_group(dir.path, kGroups[g].name, cfg.workers[g], s.expected, &s.dlq));
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

int run_pipeline(int argc, char** argv, int first) {
    if (examples::help_asked(argc, argv, first, kUsage)) return 0;
    const Config cfg = parse(argc, argv, first);
    return examples::run_in_dir("photo_pipeline", [&](RunDir& dir) { return run(cfg, dir); });
}

}  // namespace photo_pipeline
