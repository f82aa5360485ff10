// shmq bench latency|throughput|wakeup: shmq's speed beside the hardware
// limit and the usual alternatives, all measured in the same run, with the
// same message size and pinning (see tools/shmq/bench/).
//
//   shmq bench latency [--size BYTES] [--count N] [--rate MSG_PER_S] [--json] [--hgrm FILE]
//   shmq bench throughput [--size BYTES] [--producers P] [--consumers C] [--partitions N]
//       [--group shared|exclusive] [--ack none|each|batch] [--batch N] [--seconds S] [--json]
//   shmq bench wakeup [--count N] [--json]
//   shmq bench transaction [--size BYTES] [--partitions N] [--group shared|exclusive] [--batch N]
//       [--count N] [--rounds R] [--capacity SLOTS] [--producer exclusive|auto|shared] [--json]
//       (a pipeline stage with shmq::Transaction beside the same stage without; no baselines)
//   shmq bench publish [--size BYTES] [--count N] [--rounds R] [--json]
//       (Publisher::publish through a direct exchange beside Producer::send; no baselines)
//   shmq bench daemon [--queues 10,100,1000] [--seconds S] [--warmup S] [--kills N] [--expiries N]
//       [--busy-pct P] [--shmqd PATH] [--json]   (shmqd's own cost; no baselines)
// Common: --baselines all|none|NAME,NAME... (bare, boost_mq, posix_mq, pipe,
// socketpair; wakeup also futex; throughput also bare_batch, which `all`
// includes only with --batch N > 1), --rounds R, --json-file PATH (write the
// JSON there and print the table).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <cstring>
#include <sstream>
#include <sys/stat.h>

#include "bench/daemon_report.hpp"
#include "bench/daemon_scale.hpp"
#include "bench/harness.hpp"
#include "bench/hgrm.hpp"
#include "bench/report.hpp"
#include "bench/runs.hpp"
#include "bench/shmqd_child.hpp"
#include "bench/publish_bench.hpp"
#include "bench/delay_bench.hpp"
#include "bench/keyed_bench.hpp"
#include "bench/transaction_bench.hpp"
#include "command.hpp"
#ifdef SHMQ_HAVE_BRIDGE
#include "bridge/bench_bridge.hpp"
#include "bridge/nats_session.hpp"
#endif

namespace shmq::cli {

namespace {

using namespace bench;

constexpr std::size_t kMaxSize = std::size_t{16} << 20;

std::vector<std::string> parse_baselines(const std::string& list, Use use, const char* verb, uint32_t batch = 1) {
    const auto& known = known_baselines(use);
    std::vector<std::string> out{"shmq"};
    if (list == "all") {
        const auto all = all_baselines(use, batch);
        out.insert(out.end(), all.begin(), all.end());
        return out;
    }
    if (list == "none") return out;
    std::stringstream ss(list);
    for (std::string name; std::getline(ss, name, ',');) {
        if (name.empty()) continue;
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string names;
            for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
            if (name == "futex")
                throw CommandError(2, "--baselines: futex is a baseline of `shmq bench wakeup` only");
            throw CommandError(2, "--baselines: unknown baseline '" + name + "' for `shmq bench " + verb +
                                      "`; use all, none, or a comma list of " + names);
        }
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    return out;
}

void check_size(std::size_t size, std::size_t min) {
    if (size < min || size > kMaxSize)
        throw CommandError(2, "--size " + std::to_string(size) + " is out of range; use " + std::to_string(min) + ".." +
                                  std::to_string(kMaxSize) + " bytes");
}

void check_rounds(int rounds) {
    if (rounds < 1 || rounds > 100) throw CommandError(2, "--rounds must be 1..100");
}

std::string cpu_list(const std::vector<int>& cpus) {
    std::string s;
    for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
    return s;
}

// Runs `body` with the cleanup handlers in place; turns bench errors into
// one-line command errors and removes whatever the run created.
template <class F>
void guarded(F&& body) {
    install_cleanup_handlers();
    sweep_stale();
    (void)allowed_cpus();  // remember the affinity we started with
    struct Cleanup {
        ~Cleanup() { cleanup_all(); }
    } cleanup;
    try {
        body();
    } catch (const BenchError& e) {
        throw CommandError(1, std::string("bench: ") + e.what());
    } catch (const Error& e) {
        throw CommandError(1, std::string("bench: ") + e.what());
    }
}

void print(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

// --json prints the JSON; --json-file PATH writes it there and prints the table.
void emit(bool json, const std::string& json_file, const std::string& json_text, const std::string& table) {
    if (!json_file.empty()) {
        FILE* f = std::fopen(json_file.c_str(), "w");
        if (!f || std::fwrite(json_text.data(), 1, json_text.size(), f) != json_text.size() || std::fclose(f) != 0)
            throw CommandError(1, "cannot write " + json_file);
    }
    print(json ? json_text : table);
}

void check_json_file(const std::string& path) {
    if (path.empty()) return;
    FILE* f = std::fopen(path.c_str(), "a");
    if (!f) throw CommandError(2, "--json-file: cannot write " + path);
    std::fclose(f);
}

// --hgrm FILE: shmq's distribution in FILE, each baseline's in hgrm_path_for(FILE, name).
std::string hgrm_file_of(const std::string& file, std::size_t index, const std::string& transport) {
    return index == 0 ? file : hgrm_path_for(file, transport);
}

void check_hgrm_files(const std::string& file, const std::vector<std::string>& transports) {
    if (file.empty()) return;
    for (std::size_t i = 0; i < transports.size(); ++i) {
        const std::string path = hgrm_file_of(file, i, transports[i]);
        FILE* f = std::fopen(path.c_str(), "a");
        if (!f) throw CommandError(2, "--hgrm: cannot write " + path + ": " + std::strerror(errno));
        std::fclose(f);
    }
}

void write_hgrm_files(const std::string& file, const std::vector<LatencyOutcome>& outcomes) {
    if (file.empty()) return;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const std::string path = hgrm_file_of(file, i, outcomes[i].name);
        if (!outcomes[i].skipped.empty()) {
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && st.st_size == 0) std::remove(path.c_str());  // check_hgrm_files made it
            continue;
        }
        const std::string text = hgrm_text(*outcomes[i].hist);
        FILE* f = std::fopen(path.c_str(), "w");
        const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
        if (f && std::fclose(f) != 0) throw CommandError(1, "cannot write " + path);
        if (!ok) throw CommandError(1, "cannot write " + path);
    }
}

WriterMode parse_producer(const std::string& producer, int producers) {
    if (producer == "shared") return WriterMode::shared;
    if (producer == "auto") return WriterMode::automatic;
    if (producer != "exclusive")
        throw CommandError(2, "--producer '" + producer + "' is unknown; use exclusive, auto or shared");
    if (producers != 1)
        throw CommandError(2, "--producer exclusive needs --producers 1: a queue has one exclusive producer");
    return WriterMode::exclusive;
}

void register_latency(CLI::App& bench) {
    struct Args {
        std::size_t size = 64;
        uint64_t count = 100000;
        double rate = 0;
        int rounds = 5;
        uint32_t capacity = 1024;
        bool wait = false, json = false;
        std::string baselines = "all", json_file, producer = "exclusive", hgrm;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("latency", "One-way latency: a ping-pong between two processes on two CPUs");
    cmd->add_option("--size", a->size, "Message size in bytes")->default_val(64);
    cmd->add_option("--count", a->count, "Round trips measured per transport")->default_val(100000);
    cmd->add_option("--rate", a->rate,
                    "Start round trips at this fixed rate (msg/s), timing each from its intended start (no coordinated omission)");
    cmd->add_option("--rounds", a->rounds, "Interleaved rounds the count is split into")->default_val(5);
    cmd->add_option("--capacity", a->capacity, "Slots per queue (power of two; capped at 64 MiB of slots)")->default_val(1024);
    cmd->add_flag("--wait", a->wait, "shmq receiver calls receive(kForever) instead of spinning on receive(0ms)");
    cmd->add_option("--producer", a->producer,
                    "exclusive (WriterMode::exclusive: plain stores), auto (the default producer: plain stores while "
                    "alone) or shared (WriterMode::shared: the multi-producer protocol)")
        ->default_val("exclusive");
    cmd->add_option("--baselines", a->baselines, "all, none, or a comma list of bare,boost_mq,posix_mq,pipe,socketpair")
        ->default_val("all");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->add_option("--hgrm", a->hgrm,
                    "Also write shmq's distribution to this file in HdrHistogram's .hgrm text (microseconds), each "
                    "baseline's beside it as FILE with .TRANSPORT before the extension");
    cmd->callback([a] {
        check_size(a->size, 1);
        if (a->count < 1) throw CommandError(2, "--count must be at least 1");
        if (!(a->rate >= 0)) throw CommandError(2, "--rate must be 0 (back to back) or more");
        check_rounds(a->rounds);
        if (a->capacity < 16 || a->capacity > (1u << 24) || (a->capacity & (a->capacity - 1)) != 0)
            throw CommandError(2, "--capacity must be a power of two, 16..16777216");
        LatencyConfig cfg;
        cfg.capacity = a->capacity;
        cfg.size = a->size;
        cfg.count = a->count;
        cfg.rate = a->rate;
        cfg.rounds = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(a->rounds), a->count));
        cfg.poll = !a->wait;
        cfg.writer = parse_producer(a->producer, 1);
        cfg.transports = parse_baselines(a->baselines, Use::latency, "latency");
        check_json_file(a->json_file);
        check_hgrm_files(a->hgrm, cfg.transports);
        guarded([&] {
            const Machine m = machine_facts();
            const auto out = run_latency(cfg);
            write_hgrm_files(a->hgrm, out);
            const std::string json =
                latency_json("latency",
                             {param("size", uint64_t{cfg.size}), param("count", cfg.count), param("rate", cfg.rate),
                              param("rounds", cfg.rounds), param("receive", std::string(cfg.poll ? "poll" : "wait")),
                              param("producer", a->producer),
                              param("capacity", uint64_t{pick_depth(cfg.size, cfg.capacity)}),
                              param("one_way", std::string(cfg.rate > 0 ? "(reply - intended start)/2" : "round_trip/2")),
                              param("baselines", std::vector<std::string>(cfg.transports.begin() + 1, cfg.transports.end()))},
                             m, out);
            std::string title = "shmq bench latency: one-way ns (round trip / 2), " + std::to_string(cfg.size) +
                                "-byte messages, " + std::to_string(cfg.count) + " round trips per transport in " +
                                std::to_string(cfg.rounds) + " interleaved rounds, CPUs " + cpu_list(m.cpus);
            if (cfg.rate > 0) title += ", " + std::to_string(static_cast<uint64_t>(cfg.rate)) + " msg/s timed from intended start";
            emit(a->json, a->json_file, json, latency_table(title, out, false));
        });
    });
}

void register_throughput(CLI::App& bench) {
    struct Args {
        std::size_t size = 64;
        int producers = 1, consumers = 1, rounds = 3;
        uint32_t partitions = 0, batch = 1, capacity = 4096;
        std::string group = "exclusive", ack = "none", baselines = "all", json_file, producer;
        double seconds = 2;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("throughput", "Messages/s and MB/s from producers to consumers, each a process");
    cmd->add_option("--size", a->size, "Message size in bytes")->default_val(64);
    cmd->add_option("--producers", a->producers, "Producer processes")->default_val(1);
    cmd->add_option("--consumers", a->consumers, "Consumer processes")->default_val(1);
    cmd->add_option("--partitions", a->partitions, "Partitions of the queue (default: max(producers, consumers))");
    cmd->add_option("--group", a->group, "Group kind: exclusive or shared")->default_val("exclusive");
    cmd->add_option("--ack", a->ack, "none (at-most-once), each (ack per message) or batch (receive_batch + ack_all)")
        ->default_val("none");
    cmd->add_option("--batch", a->batch, "Messages per send_batch/receive_batch call (1: one call per message)")->default_val(1);
    cmd->add_option("--producer", a->producer,
                    "exclusive (WriterMode::exclusive: plain stores; one producer only), auto (the default producer: "
                    "plain stores while alone) or shared (WriterMode::shared: the multi-producer protocol); default: "
                    "exclusive with one producer, else shared");
    cmd->add_option("--capacity", a->capacity, "Slots per partition, also the depth of the baselines")->default_val(4096);
    cmd->add_option("--seconds", a->seconds, "Measured seconds per transport (split over the rounds)")->default_val(2);
    cmd->add_option("--rounds", a->rounds, "Interleaved rounds")->default_val(3);
    cmd->add_option("--baselines", a->baselines,
                    "all, none, or a comma list of bare,bare_batch,boost_mq,posix_mq,pipe,socketpair (bare_batch: the "
                    "bare ring publishing once per --batch N; in all only with --batch > 1)")
        ->default_val("all");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->callback([a] {
        check_size(a->size, 1);
        if (a->producers < 1 || a->producers > 32) throw CommandError(2, "--producers must be 1..32");
        if (a->consumers < 1 || a->consumers > 32) throw CommandError(2, "--consumers must be 1..32");
        ThroughputConfig cfg;
        if (a->group == "shared") cfg.kind = GroupKind::shared;
        else if (a->group != "exclusive")
            throw CommandError(2, "--group '" + a->group + "' is unknown; use exclusive or shared");
        if (a->ack == "none") cfg.ack = AckMode::none;
        else if (a->ack == "each") cfg.ack = AckMode::each;
        else if (a->ack == "batch") cfg.ack = AckMode::batch;
        else throw CommandError(2, "--ack '" + a->ack + "' is unknown; use none, each or batch");
        if (a->batch < 1 || a->batch > 4096) throw CommandError(2, "--batch must be 1..4096");
        if (a->capacity < 16 || a->capacity > (1u << 24) || (a->capacity & (a->capacity - 1)) != 0)
            throw CommandError(2, "--capacity must be a power of two, 16..16777216");
        if (!(a->seconds > 0) || a->seconds > 3600) throw CommandError(2, "--seconds must be more than 0 and at most 3600");
        check_rounds(a->rounds);
        cfg.size = a->size;
        cfg.producers = a->producers;
        cfg.consumers = a->consumers;
        cfg.partitions = a->partitions ? a->partitions : static_cast<uint32_t>(std::max(a->producers, a->consumers));
        if (cfg.partitions > 1024) throw CommandError(2, "--partitions must be 1..1024");
        cfg.batch = a->batch;
        if (a->producer.empty()) a->producer = a->producers == 1 ? "exclusive" : "shared";
        cfg.writer = parse_producer(a->producer, a->producers);
        cfg.capacity = a->capacity;
        cfg.seconds = a->seconds;
        cfg.rounds = a->rounds;
        cfg.transports = parse_baselines(a->baselines, Use::throughput, "throughput", cfg.batch);
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto out = run_throughput(cfg);
            const uint32_t depth = pick_depth(cfg.size, cfg.capacity);
            const std::string json = throughput_json(
                {param("size", uint64_t{cfg.size}), param("producers", cfg.producers), param("consumers", cfg.consumers),
                 param("partitions", uint64_t{cfg.partitions}), param("group", a->group), param("ack", a->ack),
                 param("batch", uint64_t{cfg.batch}), param("producer", a->producer), param("capacity", uint64_t{depth}),
                 param("seconds", cfg.seconds),
                 param("rounds", cfg.rounds),
                 param("baselines", std::vector<std::string>(cfg.transports.begin() + 1, cfg.transports.end()))},
                m, cfg.size, out);
            char secs[32];
            std::snprintf(secs, sizeof secs, "%g", cfg.seconds);
            const std::string title =
                "shmq bench throughput: " + std::to_string(cfg.size) + "-byte messages, " + std::to_string(cfg.producers) +
                " producer(s) -> " + std::to_string(cfg.consumers) + " consumer(s), " + std::to_string(cfg.partitions) +
                " partition(s) x " + std::to_string(depth) + " slots, " + a->producer + " producer, " + a->group +
                " group, ack " + a->ack + ", batch " +
                std::to_string(cfg.batch) + "; " + secs + " s per transport in " + std::to_string(cfg.rounds) +
                " interleaved rounds (median shown), CPUs " + cpu_list(m.cpus);
            emit(a->json, a->json_file, json, throughput_table(title, cfg.size, out));
        });
    });
}

void register_wakeup(CLI::App& bench) {
    struct Args {
        std::size_t size = 64;
        uint64_t count = 1000, gap_us = 1000;
        int rounds = 3;
        bool json = false;
        std::string baselines = "all", json_file;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("wakeup", "Latency from a publish to a consumer asleep on the futex");
    cmd->add_option("--size", a->size, "Message size in bytes (at least 8: it carries the send time)")->default_val(64);
    cmd->add_option("--count", a->count, "Messages measured per transport")->default_val(1000);
    cmd->add_option("--gap-us", a->gap_us, "Pause before each message, so the consumer is asleep (plus up to 25% jitter)")
        ->default_val(1000);
    cmd->add_option("--rounds", a->rounds, "Interleaved rounds the count is split into")->default_val(3);
    cmd->add_option("--baselines", a->baselines,
                    "all, none, or a comma list of futex,bare,boost_mq,posix_mq,pipe,socketpair")
        ->default_val("all");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->callback([a] {
        check_size(a->size, 8);
        if (a->count < 1) throw CommandError(2, "--count must be at least 1");
        if (a->gap_us < 100 || a->gap_us > 1'000'000) throw CommandError(2, "--gap-us must be 100..1000000");
        check_rounds(a->rounds);
        WakeupConfig cfg;
        cfg.size = a->size;
        cfg.count = a->count;
        cfg.gap_us = a->gap_us;
        cfg.rounds = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(a->rounds), a->count));
        cfg.transports = parse_baselines(a->baselines, Use::wakeup, "wakeup");
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto out = run_wakeup(cfg);
            const std::string json =
                latency_json("wakeup",
                             {param("size", uint64_t{cfg.size}), param("count", cfg.count), param("gap_us", cfg.gap_us),
                              param("rounds", cfg.rounds),
                              param("baselines", std::vector<std::string>(cfg.transports.begin() + 1, cfg.transports.end()))},
                             m, out);
            const std::string title =
                "shmq bench wakeup: ns from publish to the return of a receiver that was asleep, " + std::to_string(cfg.size) +
                "-byte messages, " + std::to_string(cfg.count) + " per transport, " + std::to_string(cfg.gap_us) +
                " us (+0-25%) apart, in " + std::to_string(cfg.rounds) + " interleaved rounds, CPUs " + cpu_list(m.cpus) +
                " (asleep: receiver seen sleeping just before the publish)";
            emit(a->json, a->json_file, json, latency_table(title, out, true));
        });
    });
}

std::vector<uint32_t> parse_queue_counts(const std::string& list) {
    std::vector<uint32_t> out;
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) {
        if (item.empty()) continue;
        char* end = nullptr;
        const unsigned long n = std::strtoul(item.c_str(), &end, 10);
        if (*end != '\0' || item.find_first_not_of("0123456789") != std::string::npos || n < 2 || n > 2000)
            throw CommandError(2, "--queues: '" + item + "' is not a queue count in 2..2000; use a comma list such as 10,100,1000");
        out.push_back(static_cast<uint32_t>(n));
    }
    if (out.empty()) throw CommandError(2, "--queues: give at least one queue count, e.g. 10,100,1000");
    return out;
}

void register_daemon(CLI::App& bench) {
    struct Args {
        std::string queues = "10,100,1000", shmqd, json_file;
        double seconds = 10, warmup = 2;
        uint32_t kills = 100, expiries = 20, busy_pct = 10, expiry_lease_ms = 200;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("daemon", "shmqd's CPU, memory and repair delays as the number of queues grows");
    cmd->add_option("--queues", a->queues, "Comma list of queue counts, one run each (2..2000)")->default_val("10,100,1000");
    cmd->add_option("--seconds", a->seconds, "Measured seconds of the idle and of the busy phase")->default_val(10);
    cmd->add_option("--warmup", a->warmup, "Seconds before each measured phase")->default_val(2);
    cmd->add_option("--kills", a->kills, "SIGKILLed consumers timed to the redelivery of their message")->default_val(100);
    cmd->add_option("--expiries", a->expiries, "Lease expiries timed past their deadline")->default_val(20);
    cmd->add_option("--busy-pct", a->busy_pct, "% of the queues carrying 10,000 msg/s each in the busy phase (0: none)")
        ->default_val(10);
    cmd->add_option("--expiry-lease-ms", a->expiry_lease_ms, "Lease of the queues the expiries are timed on")->default_val(200);
    cmd->add_option("--shmqd", a->shmqd, "The shmqd to measure (default: beside this shmq, else in PATH)");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "For each queue count N: N queues (64 slots of 64 B) and a private shmqd serving only them (its own\n"
        "--data-dir, --lock-file and log in a temporary directory, /metrics on a free loopback port).\n"
        "Measures shmqd's CPU (% of one core, from /proc) and RSS idle, then with --busy-pct of the queues\n"
        "at 10,000 msg/s each (one producer and one consumer process for all of them), then the time from a\n"
        "consumer's SIGKILL to its unACKed message reaching a peer, how late a lease expires, and how long\n"
        "`shmq ls` and a scrape of /metrics take. Everything it creates is removed, also on SIGINT.\n\n"
        "Examples:\n"
        "  shmq bench daemon\n"
        "  shmq bench daemon --queues 1000 --seconds 30 --json\n"
        "Method and results: docs/PERFORMANCE.md (shmqd at scale).");
    cmd->callback([a] {
        DaemonScaleConfig cfg;
        cfg.queues = parse_queue_counts(a->queues);
        if (!(a->seconds > 0) || a->seconds > 3600) throw CommandError(2, "--seconds must be more than 0 and at most 3600");
        if (!(a->warmup >= 0) || a->warmup > 600) throw CommandError(2, "--warmup must be 0..600");
        if (a->kills > 100000) throw CommandError(2, "--kills must be 0..100000");
        if (a->expiries > 10000) throw CommandError(2, "--expiries must be 0..10000");
        if (a->busy_pct > 100) throw CommandError(2, "--busy-pct must be 0..100");
        if (a->expiry_lease_ms < 10 || a->expiry_lease_ms > 60000) throw CommandError(2, "--expiry-lease-ms must be 10..60000");
        cfg.seconds = a->seconds;
        cfg.warmup = a->warmup;
        cfg.kills = a->kills;
        cfg.expiries = a->expiries;
        cfg.busy_pct = a->busy_pct;
        cfg.expiry_lease_ms = a->expiry_lease_ms;
        check_json_file(a->json_file);
        guarded([&] {
            cfg.shmqd = find_shmqd(a->shmqd);
            const Machine m = machine_facts();
            const auto rows = run_daemon_scale(cfg);
            const std::string json = daemon_json(
                {Param{"queues", Json(cfg.queues)}, param("seconds", cfg.seconds), param("warmup", cfg.warmup),
                 param("kills", uint64_t{cfg.kills}), param("expiries", uint64_t{cfg.expiries}),
                 param("busy_pct", uint64_t{cfg.busy_pct}), param("busy_msgs_per_s_per_queue", uint64_t{kBusyBurst * 1000 / kBusyPeriodMs}),
                 param("busy_burst", uint64_t{kBusyBurst}), param("expiry_lease_ms", uint64_t{cfg.expiry_lease_ms}),
                 param("kill_lease_ms", uint64_t{kProbeLeaseMs}), param("capacity", uint64_t{64}),
                 param("max_message", uint64_t{64})},
                cfg.shmqd, m, rows);
            char secs[64];
            std::snprintf(secs, sizeof secs, "%g s measured after %g s warm-up", cfg.seconds, cfg.warmup);
            const std::string title =
                "shmq bench daemon: " + cfg.shmqd + "; per row N queues of 64 slots x 64 B, " + secs +
                " (idle, then busy: " + std::to_string(cfg.busy_pct) + "% of the queues at 10,000 msg/s each), " +
                std::to_string(cfg.kills) + " kills, " + std::to_string(cfg.expiries) + " expiries (lease " +
                std::to_string(cfg.expiry_lease_ms) + " ms); CPU in % of one core, CPUs " + cpu_list(m.cpus);
            emit(a->json, a->json_file, json, daemon_table(title, rows));
        });
    });
}

void register_transaction(CLI::App& bench) {
    struct Args {
        std::size_t size = 64;
        uint32_t partitions = 1, batch = 64, capacity = 4096;
        uint64_t count = 5'000'000;
        int rounds = 5;
        std::string group = "exclusive", producer = "exclusive", json_file;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand(
        "transaction", "A pipeline stage (IN -> stage -> OUT) with shmq::Transaction beside the same stage without");
    cmd->add_option("--size", a->size, "Message size in bytes (inputs and outputs)")->default_val(64);
    cmd->add_option("--partitions", a->partitions, "Partitions of IN and of OUT")->default_val(1);
    cmd->add_option("--group", a->group, "Group kind of the stage and of the drain: exclusive or shared")
        ->default_val("exclusive");
    cmd->add_option("--batch", a->batch, "Inputs per transaction of tx<N>, per receive_batch of plain<N>")->default_val(64);
    cmd->add_option("--count", a->count, "Messages through the stage per variant (split over the rounds)")
        ->default_val(5'000'000);
    cmd->add_option("--rounds", a->rounds, "Interleaved rounds (each runs every variant once)")->default_val(5);
    cmd->add_option("--capacity", a->capacity, "Slots per partition of IN and OUT (at least 2 x --batch)")->default_val(4096);
    cmd->add_option("--producer", a->producer,
                    "WriterMode of the feeder's and the stage's producers: exclusive (the only producer of its queue, "
                    "plain stores), auto or shared")
        ->default_val("exclusive");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "Three processes per run, forked and pinned like `bench throughput` (feeder on the first CPU,\n"
        "stage on the second, drain back on the first): a feeder sends --count messages into IN\n"
        "(send_batch of 64, no key), the stage takes each from IN and sends one output of the same size\n"
        "and key to OUT, a drain takes them from OUT (at most once). Variants, interleaved round by round:\n"
        "  tx1       one Transaction per input: receive, tx.send, tx.ack, tx.commit\n"
        "  tx<N>     receive_batch(N), tx.send_batch, tx.ack_all, one commit\n"
        "  plain1    receive, Producer::send, Message::ack\n"
        "  plain<N>  receive_batch(N), send_batch, ack_all\n"
        "Figure: messages the stage finished per second after a warm-up of a tenth of each round;\n"
        "median, min, max and spread ((max - min) / median) over the rounds; the ratios of the medians\n"
        "against the targets tx1 >= 0.5 x plain1 and tx<N> >= 0.9 x plain<N>. Also the stage's CPU time\n"
        "(% of its core, and ns per message, its waiting spins included): below ~95% the stage was not\n"
        "the bottleneck (the feeder and the drain, sharing a CPU, were).\n\n"
        "Examples:\n"
        "  shmq bench transaction\n"
        "  shmq bench transaction --count 20000 --rounds 1 --json\n"
        "Method and results: docs/PERFORMANCE.md (Transactions).");
    cmd->callback([a] {
        check_size(a->size, 1);
        TxBenchConfig cfg;
        if (a->group == "shared") cfg.kind = GroupKind::shared;
        else if (a->group != "exclusive")
            throw CommandError(2, "--group '" + a->group + "' is unknown; use exclusive or shared");
        if (a->partitions < 1 || a->partitions > 1024) throw CommandError(2, "--partitions must be 1..1024");
        if (a->batch < 2 || a->batch > 4096) throw CommandError(2, "--batch must be 2..4096");
        if (a->capacity < 16 || a->capacity > (1u << 24) || (a->capacity & (a->capacity - 1)) != 0)
            throw CommandError(2, "--capacity must be a power of two, 16..16777216");
        check_rounds(a->rounds);
        if (a->count < static_cast<uint64_t>(a->rounds) * 10)
            throw CommandError(2, "--count must be at least 10 per round");
        cfg.size = a->size;
        cfg.partitions = a->partitions;
        cfg.batch = a->batch;
        cfg.capacity = a->capacity;
        cfg.count = a->count;
        cfg.rounds = a->rounds;
        cfg.writer = parse_producer(a->producer, 1);
        if (pick_depth(cfg.size, cfg.capacity) < 2 * cfg.batch)
            throw CommandError(2, "--capacity " + std::to_string(pick_depth(cfg.size, cfg.capacity)) +
                                      " slots (after the 64 MiB cap) is less than 2 x --batch: a transaction's outputs "
                                      "hold their partition until it commits");
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto r = run_transaction_bench(cfg);
            const std::string json = transaction_json(
                {param("size", uint64_t{cfg.size}), param("partitions", uint64_t{cfg.partitions}), param("group", a->group),
                 param("batch", uint64_t{cfg.batch}), param("count", cfg.count), param("rounds", cfg.rounds),
                 param("producer", a->producer), param("capacity", uint64_t{r.depth})},
                m, r);
            const std::string title =
                "shmq bench transaction: a stage IN -> OUT, " + std::to_string(cfg.size) + "-byte messages, " +
                std::to_string(cfg.partitions) + " partition(s) x " + std::to_string(r.depth) + " slots, " + a->group +
                " groups, " + a->producer + " producers; " + std::to_string(cfg.count) + " messages per variant in " +
                std::to_string(cfg.rounds) + " interleaved rounds; feeder and drain on CPU " +
                std::to_string(m.cpus[0]) + ", stage on CPU " + std::to_string(m.cpus[1 % m.cpus.size()]);
            emit(a->json, a->json_file, json, transaction_table(title, r));
        });
    });
}

void register_publish_bench(CLI::App& bench) {
    struct Args {
        std::size_t size = 64;
        uint64_t count = 100'000;
        int rounds = 9;
        std::string json_file;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("publish", "Publisher::publish through a direct exchange beside Producer::send");
    cmd->add_option("--size", a->size, "Message size in bytes")->default_val(64);
    cmd->add_option("--count", a->count, "Calls per variant per round (the first tenth is warm-up)")->default_val(100'000);
    cmd->add_option("--rounds", a->rounds, "Interleaved rounds (each runs both variants, alternating which goes first)")
        ->default_val(9);
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "One process, pinned to one CPU. Per round, on a fresh queue of 1024 slots; calls in chunks\n"
        "of 256, each timed alone, drained (untimed) by a consumer in the same thread between chunks:\n"
        "  send     Producer::send of each message to a queue\n"
        "  publish  Publisher::publish of each message through a direct exchange bound to a queue\n"
        "           with the routing key used (one target: the cached route, then the same send)\n"
        "  send3    a Producer::send of each message to each of three queues (not atomic)\n"
        "  fanout3  Publisher::publish of each message through a fanout exchange bound to the three\n"
        "           (all or nothing: a transaction without inputs)\n"
        "Figure: ns per call after the warm-up; the medians over the rounds and their ratios, against\n"
        "the target publish <= 1.3 x send (fanout3 / send3 has no target).\n\n"
        "Examples:\n"
        "  shmq bench publish\n"
        "  shmq bench publish --count 20000 --rounds 3 --json\n"
        "Method and results: docs/PERFORMANCE.md (Exchanges).");
    cmd->callback([a] {
        check_size(a->size, 1);
        check_rounds(a->rounds);
        if (a->count < 10 || a->count > (uint64_t{1} << 24))
            throw CommandError(2, "--count must be 10..16777216");
        PublishBenchConfig cfg;
        cfg.size = a->size;
        cfg.count = a->count;
        cfg.rounds = a->rounds;
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const int cpu = m.cpus.empty() ? -1 : m.cpus.back();
            const bool pinned = cpu >= 0 && pin_to(cpu);
            const auto r = run_publish_bench(cfg);
            const std::string json =
                publish_json({param("size", uint64_t{cfg.size}), param("count", cfg.count), param("rounds", cfg.rounds),
                              param("cpu", pinned ? cpu : -1)},
                             m, r);
            const std::string title = "shmq bench publish: " + std::to_string(cfg.size) + "-byte messages, " +
                                      std::to_string(cfg.count) + " calls per variant in each of " +
                                      std::to_string(cfg.rounds) + " interleaved rounds, one process" +
                                      (pinned ? " on CPU " + std::to_string(cpu) : std::string(" (not pinned)"));
            emit(a->json, a->json_file, json, publish_table(title, r));
        });
    });
}

void register_keyed_bench(CLI::App& bench) {
    struct Args {
        KeyedBenchConfig cfg;
        std::string json_file;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("keyed", "Draining a backlog through a keyed group beside a shared group");
    cmd->add_option("--size", a->cfg.size, "Message size in bytes")->default_val(64);
    cmd->add_option("--keys", a->cfg.keys, "Distinct keys of the backlog")->default_val(1000);
    cmd->add_option("--partitions", a->cfg.partitions, "Partitions of the queue (each key's messages share one)")
        ->default_val(1);
    cmd->add_option("--backlog", a->cfg.backlog, "Messages waiting when the consumers start")->default_val(100'000);
    cmd->add_option("--consumers", a->cfg.consumers, "Consumer processes")->default_val(3);
    cmd->add_option("--batch", a->cfg.batch, "Messages per receive_batch and ack_all")->default_val(16);
    cmd->add_option("--hot-pct", a->cfg.hot_pct, "% of the backlog with one key, sent ahead of the rest")->default_val(0);
    cmd->add_option("--rounds", a->cfg.rounds, "Rounds (each runs both groups, alternating which goes first)")
        ->default_val(3);
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "Per round and group kind, on a fresh queue of --partitions: this process sends --backlog\n"
        "messages, each with a key drawn uniformly from --keys (with --hot-pct, that share first, all\n"
        "with one key), then releases --consumers forked consumer processes, which receive_batch and\n"
        "ack_all until the backlog is drained. Figure: backlog / (last ACK - release), messages/s;\n"
        "medians over the rounds and keyed / shared. A keyed group gives out one message of a key at\n"
        "a time, so with --hot-pct the hot key drains one message per round trip.\n\n"
        "Examples:\n"
        "  shmq bench keyed\n"
        "  shmq bench keyed --hot-pct 50 --rounds 1\n"
        "Method and results: docs/PERFORMANCE.md (Keyed groups).");
    cmd->callback([a] {
        auto& cfg = a->cfg;
        check_size(cfg.size, 1);
        check_rounds(cfg.rounds);
        if (cfg.keys < 1) throw CommandError(2, "--keys must be at least 1");
        if (cfg.partitions < 1 || cfg.partitions > 64) throw CommandError(2, "--partitions must be 1..64");
        if (cfg.backlog < 1 || cfg.backlog > (uint64_t{1} << 24)) throw CommandError(2, "--backlog must be 1..16777216");
        if (cfg.consumers < 1 || cfg.consumers > 64) throw CommandError(2, "--consumers must be 1..64");
        if (cfg.batch < 1 || cfg.batch > 4096) throw CommandError(2, "--batch must be 1..4096");
        if (cfg.hot_pct > 100) throw CommandError(2, "--hot-pct must be 0..100");
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto r = run_keyed_bench(cfg);
            const std::string json = keyed_json(
                {param("size", uint64_t{cfg.size}), param("keys", uint64_t{cfg.keys}), param("backlog", cfg.backlog),
                 param("partitions", uint64_t{cfg.partitions}), param("consumers", uint64_t{cfg.consumers}), param("batch", uint64_t{cfg.batch}),
                 param("hot_pct", uint64_t{cfg.hot_pct}), param("rounds", cfg.rounds)},
                m, r);
            const std::string title = "shmq bench keyed: a backlog of " + std::to_string(cfg.backlog) + " " +
                                      std::to_string(cfg.size) + "-byte messages over " + std::to_string(cfg.keys) +
                                      " keys" + (cfg.hot_pct ? " (" + std::to_string(cfg.hot_pct) + "% one hot key first)" : "") +
                                      ", " + std::to_string(cfg.partitions) + " partition(s) x " +
                                      std::to_string(r.capacity) + " slots, " +
                                      std::to_string(cfg.consumers) + " consumer processes, batches of " +
                                      std::to_string(cfg.batch) + ", " + std::to_string(cfg.rounds) + " round(s)";
            emit(a->json, a->json_file, json, keyed_table(title, r));
        });
    });
}

void register_delay_bench(CLI::App& bench) {
    struct Args {
        DelayBenchConfig cfg;
        std::string json_file;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("delay", "How late delayed messages come, beside undelayed ones");
    cmd->add_option("--count", a->cfg.count, "Delayed messages (and as many undelayed for the baseline)")
        ->default_val(20'000);
    cmd->add_option("--max-delay-ms", a->cfg.max_delay_ms, "Delays are drawn uniformly from 1..this")
        ->default_val(2'000);
    cmd->add_option("--partitions", a->cfg.partitions, "Partitions of the queue")->default_val(2);
    cmd->add_option("--size", a->cfg.size, "Message size in bytes (at least 16)")->default_val(64);
    cmd->add_option("--shmqd", a->cfg.shmqd, "The shmqd to run (default: beside this shmq, else PATH)");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "A fresh queue with a delay store of --count, served by a private shmqd, and one consumer\n"
        "process. This process sends --count messages with random delays (1..--max-delay-ms), each\n"
        "carrying its due time; the consumer records received - due. Baseline in the same run: as\n"
        "many undelayed messages, paced over the same span: received - sent. Reports p50/p99/max in ms\n"
        "and how many came early (must be 0); the target is lateness p99 <= 20 ms.\n\n"
        "Examples:\n"
        "  shmq bench delay\n"
        "  shmq bench delay --count 100000 --max-delay-ms 5000 --json\n"
        "Method and results: docs/PERFORMANCE.md (Delayed delivery).");
    cmd->callback([a] {
        auto& cfg = a->cfg;
        check_size(cfg.size, 16);
        if (cfg.count < 1 || cfg.count > (uint64_t{1} << 22)) throw CommandError(2, "--count must be 1..4194304");
        if (cfg.max_delay_ms < 1 || cfg.max_delay_ms > 600'000) throw CommandError(2, "--max-delay-ms must be 1..600000");
        if (cfg.partitions < 1 || cfg.partitions > 64) throw CommandError(2, "--partitions must be 1..64");
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto r = run_delay_bench(cfg);
            const std::string json = delay_json(
                {param("count", cfg.count), param("max_delay_ms", uint64_t{cfg.max_delay_ms}),
                 param("partitions", uint64_t{cfg.partitions}), param("size", uint64_t{cfg.size})},
                m, r);
            const std::string title = "shmq bench delay: " + std::to_string(cfg.count) + " " + std::to_string(cfg.size) +
                                      "-byte messages with delays of 1.." + std::to_string(cfg.max_delay_ms) +
                                      " ms, " + std::to_string(cfg.partitions) +
                                      " partition(s), a private shmqd, one consumer process";
            emit(a->json, a->json_file, json, delay_table(title, r));
        });
    });
}

}  // namespace

#ifdef SHMQ_HAVE_BRIDGE
void register_bridge_latency(CLI::App& bench) {
    struct Args {
        bridge::BenchConfig config;
        bool json = false;
        std::string json_file;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = bench.add_subcommand("bridge", "End-to-end latency through a NATS JetStream cluster, beside a local queue");
    cmd->add_option("--nats", a->config.urls, "NATS server URLs, comma-separated")->required();
    cmd->add_option("--size", a->config.size, "Message size in bytes (at least 16)")->default_val(64);
    cmd->add_option("--count", a->config.count, "Messages measured per path")->default_val(10000);
    cmd->add_option("--rate", a->config.rate, "Messages per second, each timed from its intended send time")
        ->default_val(1000);
    cmd->add_option("--rounds", a->config.rounds, "Interleaved rounds the count is split into")->default_val(3);
    cmd->add_option("--replicas", a->config.replicas, "Replicas of the bench's stream (1..5)")
        ->default_val(1)->check(CLI::Range(1, 5));
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->add_option("--json-file", a->json_file, "Also write the JSON to this file (and print the table)");
    cmd->footer(
        "Sends paced, timestamped messages into a queue forwarded by `shmq bridge out` to a stream of\n"
        "its own (SHMQ_BENCH_<pid>, deleted afterwards) and brought back by `shmq bridge in` into a\n"
        "second queue; the baseline is the same producer and consumer on one local queue, measured\n"
        "in the same run, round by round. Each latency is timed from the message's intended send time.\n\n"
        "Examples:\n"
        "  shmq bench bridge --nats nats://127.0.0.1:4222\n"
        "  shmq bench bridge --nats nats://127.0.0.1:4222,nats://127.0.0.1:4223 --replicas 3 --json");
    cmd->callback([a] {
        auto& c = a->config;
        check_size(c.size, 16);
        if (c.count < 1) throw CommandError(2, "--count must be at least 1");
        if (!(c.rate >= 1 && c.rate <= 1e6)) throw CommandError(2, "--rate must be 1..1000000 messages per second");
        check_rounds(c.rounds);
        (void)bridge::split_urls(c.urls);
        check_json_file(a->json_file);
        guarded([&] {
            const Machine m = machine_facts();
            const auto out = bridge::run_bench(c);
            const std::string json = latency_json(
                "bridge",
                {param("size", uint64_t{c.size}), param("count", c.count), param("rate", c.rate),
                 param("rounds", c.rounds), param("replicas", static_cast<uint64_t>(c.replicas)),
                 param("one_way", std::string("receive - intended send")), param("baselines", std::vector<std::string>{"local"})},
                m, out);
            const std::string title = "shmq bench bridge: one-way ns from intended send to receive, " +
                                      std::to_string(c.size) + "-byte messages at " +
                                      std::to_string(static_cast<uint64_t>(c.rate)) + " msg/s, " +
                                      std::to_string(c.count) + " per path in " + std::to_string(c.rounds) +
                                      " interleaved rounds";
            emit(a->json, a->json_file, json, latency_table(title, out, false));
        });
    });
}
#endif

void register_bench(CLI::App& app) {
    auto* bench = app.add_subcommand("bench", "Measure shmq beside a bare cache-line hand-off and the usual IPC alternatives");
    bench->require_subcommand(1);
    bench->footer(
        "Every run measures its baselines in the same process tree (a bare shared-memory\n"
        "cache-line ping-pong, boost::interprocess::message_queue, POSIX mq, a pipe, a Unix\n"
        "socketpair; a futex ping-pong for wakeup; for throughput --batch N > 1 the bare\n"
        "ring publishing once per batch, bare_batch) and prints shmq's ratio to each.\n"
        "JSON keys: min_ns..p9999_ns, max_ns, msgs_per_s, mb_per_s, baselines.<name>, ratios.\n\n"
        "Examples:\n"
        "  shmq bench latency --json\n"
        "  shmq bench latency --rate 100000 --count 200000\n"
        "  shmq bench throughput --size 64 --ack batch --group exclusive\n"
        "  shmq bench wakeup\n"
        "  shmq bench daemon --queues 10,100      (shmqd's own cost as queues grow)\n"
        "  shmq bench transaction                 (a stage with transactions beside one without)\n"
        "  shmq bench publish                     (publishing through an exchange beside a plain send)\n"
        "Method and results: docs/PERFORMANCE.md.");
    register_latency(*bench);
    register_throughput(*bench);
    register_wakeup(*bench);
    register_daemon(*bench);
    register_transaction(*bench);
    register_publish_bench(*bench);
    register_keyed_bench(*bench);
    register_delay_bench(*bench);
#ifdef SHMQ_HAVE_BRIDGE
    register_bridge_latency(*bench);
#endif
}

}  // namespace shmq::cli
