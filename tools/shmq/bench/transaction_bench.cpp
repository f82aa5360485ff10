#include "transaction_bench.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "../format.hpp"
#include "runs.hpp"

namespace shmq::cli::bench {

namespace {

using namespace std::chrono_literals;

constexpr const char* kStageGroup = "stage";
constexpr const char* kDrainGroup = "drain";
constexpr Millis kPoll{20};               // receive timeouts: processes notice a failed peer
constexpr uint32_t kFeedBatch = 64;       // the feeder's send_batch and the drain's receive_batch

enum class Kind { tx1, tx_batch, plain1, plain_batch };

struct Control {
    ChildError errors;
    alignas(64) std::atomic<int> ready{0};
    std::atomic<int> go{0};
    std::atomic<int> failed{0};
    alignas(64) std::atomic<uint64_t> t0{0}, t1{0}, done_at_t0{0}, cpu0{0}, cpu1{0};
};

uint64_t cpu_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

void wait_go(const Control& c) {
    while (c.go.load(std::memory_order_acquire) == 0) ::usleep(50);
}

const char* writer_name(WriterMode w) {
    switch (w) {
        case WriterMode::automatic: return "auto";
        case WriterMode::shared: return "shared";
        case WriterMode::exclusive: return "exclusive";
    }
    return "?";
}

std::string how_of(Kind k, uint32_t batch, WriterMode w) {
    const std::string n = std::to_string(batch);
    const std::string prod = std::string(writer_name(w)) + " producer";
    switch (k) {
        case Kind::tx1: return "receive, Transaction::send (" + prod + "), Transaction::ack, commit: one transaction per message";
        case Kind::tx_batch:
            return "receive_batch(" + n + "), Transaction::send_batch (" + prod + "), Transaction::ack_all, commit";
        case Kind::plain1: return "receive, Producer::send (" + prod + "), Message::ack";
        case Kind::plain_batch: return "receive_batch(" + n + "), Producer::send_batch (" + prod + "), ack_all";
    }
    return "";
}

// The two queues of a round, removed at its end (and by cleanup_all on an error).
struct RoundQueues {
    std::string in = unique_name("txin"), out = unique_name("txout");
    RoundQueues(const TxBenchConfig& cfg, uint32_t depth) {
        QueueOptions o;
        o.partitions = cfg.partitions;
        o.capacity = depth;
        o.max_message = static_cast<uint32_t>(cfg.size);
        o.max_groups = 1;
        o.max_participants = 16;
        try {
            auto qi = Queue::create(in, o);
            register_name(NameKind::shmq_queue, in);
            auto qo = Queue::create(out, o);
            register_name(NameKind::shmq_queue, out);
            // The groups exist before the first message, so nothing waits for them.
            (void)qi.consumer(kStageGroup, {.kind = cfg.kind});
            (void)qo.consumer(kDrainGroup, {.kind = cfg.kind});
        } catch (const Error& e) {
            throw BenchError(std::string("cannot create the bench queues: ") + e.what());
        }
    }
    ~RoundQueues() {
        remove_name(NameKind::shmq_queue, in);
        remove_name(NameKind::shmq_queue, out);
    }
    RoundQueues(const RoundQueues&) = delete;
    RoundQueues& operator=(const RoundQueues&) = delete;
};

void check(Status st, const char* what) {
    if (!st) throw BenchError(std::string(what) + ": " + st.message());
}

// The stage: takes `total` messages from IN, one output each to OUT.
void stage(Kind kind, const TxBenchConfig& cfg, const RoundQueues& qs, uint64_t total, Control& c) {
    auto in = Queue::open(qs.in);
    auto out = Queue::open(qs.out);
    ConsumerOptions co;
    co.kind = cfg.kind;
    co.max_in_flight = std::max<uint32_t>(256, cfg.batch);
    auto consumer = in.consumer(kStageGroup, co);
    auto producer = out.producer({.writer = cfg.writer});
    Transaction tx(consumer);
    const uint32_t batch = kind == Kind::tx_batch || kind == Kind::plain_batch ? cfg.batch : 1;
    std::vector<Message> msgs(batch);
    std::vector<std::span<const std::byte>> payloads(batch);
    const uint64_t warmup = std::max<uint64_t>(1, total / 10);
    c.ready.fetch_add(1, std::memory_order_acq_rel);
    wait_go(c);
    uint64_t done = 0;
    bool timing = false;
    while (done < total) {
        if (c.failed.load(std::memory_order_relaxed) != 0) return;
        std::size_t n = 0;
        if (batch == 1) {
            auto m = consumer.receive(kPoll);
            if (!m) {
                if (m.code() == Errc::timeout) continue;
                throw BenchError(std::string("stage receive: ") + to_string(m.code()));
            }
            msgs[0] = std::move(*m);
            n = 1;
        } else {
            const BatchResult got = consumer.receive_batch(std::span(msgs.data(), std::min<uint64_t>(batch, total - done)), kPoll);
            if (got.count == 0) {
                if (got.code() == Errc::timeout || got.ok()) continue;
                throw BenchError(std::string("stage receive_batch: ") + got.status.message());
            }
            n = got.count;
        }
        const std::span<Message> ms(msgs.data(), n);
        switch (kind) {
            case Kind::tx1:
                check(tx.send(producer, ms[0].data(), {.key = ms[0].key()}), "Transaction::send");
                check(tx.ack(ms[0]), "Transaction::ack");
                check(tx.commit(), "Transaction::commit");
                break;
            case Kind::tx_batch: {  // the same batching as plain_batch
                for (std::size_t i = 0; i < n; ++i) payloads[i] = ms[i].data();
                const BatchResult sent = tx.send_batch(producer, std::span(payloads.data(), n), {.key = ms[0].key()});
                if (sent.count != n) throw BenchError(std::string("Transaction::send_batch: ") + sent.status.message());
                const BatchResult taken = tx.ack_all(ms);
                if (taken.count != n) throw BenchError(std::string("Transaction::ack_all: ") + taken.status.message());
                check(tx.commit(), "Transaction::commit");
                break;
            }
            case Kind::plain1:
                check(producer.send(ms[0].data(), {.key = ms[0].key()}), "Producer::send");
                check(ms[0].ack(), "Message::ack");
                break;
            case Kind::plain_batch: {
                for (std::size_t i = 0; i < n; ++i) payloads[i] = ms[i].data();
                const BatchResult sent = producer.send_batch(std::span(payloads.data(), n), {.key = ms[0].key()});
                if (sent.count != n) throw BenchError(std::string("Producer::send_batch: ") + sent.status.message());
                if (ack_all(ms) != n) throw BenchError("ack_all: some messages had lost their lease");
                break;
            }
        }
        done += n;
        if (!timing && done >= warmup) {
            timing = true;
            c.done_at_t0.store(done, std::memory_order_relaxed);
            c.cpu0.store(cpu_ns(), std::memory_order_relaxed);
            c.t0.store(now_ns(), std::memory_order_relaxed);
        }
    }
    c.t1.store(now_ns(), std::memory_order_relaxed);
    c.cpu1.store(cpu_ns(), std::memory_order_relaxed);
}

// The feeder: `total` messages of cfg.size bytes into IN, no key, kFeedBatch at a time.
void feeder(const TxBenchConfig& cfg, const RoundQueues& qs, uint64_t total, Control& c) {
    auto q = Queue::open(qs.in);
    auto producer = q.producer({.writer = cfg.writer});
    std::vector<std::byte> buf(cfg.size, std::byte{0x5a});
    std::vector<std::span<const std::byte>> payloads(kFeedBatch, std::span<const std::byte>(buf));
    c.ready.fetch_add(1, std::memory_order_acq_rel);
    wait_go(c);
    uint64_t sent = 0;
    while (sent < total) {
        if (c.failed.load(std::memory_order_relaxed) != 0) return;
        const auto n = static_cast<std::size_t>(std::min<uint64_t>(kFeedBatch, total - sent));
        const BatchResult r = producer.send_batch(std::span(payloads.data(), n), {.timeout = kPoll});
        if (!r.ok() && r.code() != Errc::timeout) throw BenchError(std::string("feeder send_batch: ") + r.status.message());
        sent += r.count;
    }
}

// The drain: takes `total` outputs from OUT (at most once), copying each out.
void drain(const TxBenchConfig& cfg, const RoundQueues& qs, uint64_t total, Control& c) {
    auto q = Queue::open(qs.out);
    ConsumerOptions co;
    co.kind = cfg.kind;
    co.at_most_once = true;
    co.max_in_flight = 256;
    auto consumer = q.consumer(kDrainGroup, co);
    std::vector<Message> msgs(kFeedBatch);
    std::vector<std::byte> buf(cfg.size);
    c.ready.fetch_add(1, std::memory_order_acq_rel);
    wait_go(c);
    uint64_t got = 0;
    while (got < total) {
        if (c.failed.load(std::memory_order_relaxed) != 0) return;
        const BatchResult r = consumer.receive_batch(msgs, kPoll);
        if (r.count == 0) {
            if (r.code() == Errc::timeout || r.ok()) continue;
            throw BenchError(std::string("drain receive_batch: ") + r.status.message());
        }
        for (std::size_t i = 0; i < r.count; ++i) {
            const auto d = msgs[i].data();
            std::memcpy(buf.data(), d.data(), std::min(d.size(), buf.size()));
            msgs[i] = Message();  // releases the at-most-once pickup
        }
        got += r.count;
    }
}

void tx_round(Kind kind, const TxBenchConfig& cfg, uint32_t depth, uint64_t total, TxVariantOutcome& o) {
    Shared<Control> ctl;
    Control* c = ctl.get();
    RoundQueues qs(cfg, depth);
    const auto cpus = allowed_cpus();
    auto cpu = [&](std::size_t k) { return cpus[k % cpus.size()]; };
    Children kids(&c->errors);
    // Like `bench throughput`: the feeder on the first CPU, the stage on the
    // second, the drain (the third process) back on the first.
    kids.spawn(cpu(0), [&] { feeder(cfg, qs, total, *c); });
    kids.spawn(cpu(1), [&] { stage(kind, cfg, qs, total, *c); });
    kids.spawn(cpu(2), [&] { drain(cfg, qs, total, *c); });
    wait_until([&] { return c->ready.load(std::memory_order_acquire) == 3; }, kids, 20s,
               "the benchmark processes to start");
    c->go.store(1, std::memory_order_release);
    try {
        kids.wait_all(std::chrono::milliseconds(60'000 + total / 10));
    } catch (...) {
        c->failed.store(1);
        throw;
    }
    const uint64_t t0 = c->t0.load(), t1 = c->t1.load();
    const uint64_t measured = total - c->done_at_t0.load();
    if (t1 <= t0 || measured == 0) {
        o.round_rates.push_back(0);
        o.round_cpu_pct.push_back(0);
        o.round_cpu_ns.push_back(0);
        return;
    }
    const double dt = static_cast<double>(t1 - t0) / 1e9;
    o.messages += measured;
    o.seconds += dt;
    o.round_rates.push_back(static_cast<double>(measured) / dt);
    const auto cpu_time = static_cast<double>(c->cpu1.load() - c->cpu0.load());
    o.round_cpu_pct.push_back(100.0 * cpu_time / static_cast<double>(t1 - t0));
    o.round_cpu_ns.push_back(cpu_time / static_cast<double>(measured));
}

// ---- reports ----------------------------------------------------------------

// The spread of a variant's rounds: (max - min) / median, in %.
double spread_pct(const TxVariantOutcome& o) {
    const double m = o.median();
    return m > 0 ? 100.0 * (o.max() - o.min()) / m : NAN;
}

struct Comparison {
    std::string key;  // "tx1_vs_plain1", "tx64_vs_plain64"
    const TxVariantOutcome* tx;
    const TxVariantOutcome* plain;
    double target;
    double median_ratio() const { return ratio(tx->median(), plain->median()); }
    std::vector<double> round_ratios() const {
        std::vector<double> r;
        for (std::size_t i = 0; i < std::min(tx->round_rates.size(), plain->round_rates.size()); ++i)
            r.push_back(ratio(tx->round_rates[i], plain->round_rates[i]));
        return r;
    }
    bool met() const { return median_ratio() >= target; }
};

std::vector<Comparison> comparisons(const TxBenchResult& r) {
    const auto& v = r.variants;
    return {{v[0].name + "_vs_" + v[2].name, &v[0], &v[2], kTxTarget1},
            {v[1].name + "_vs_" + v[3].name, &v[1], &v[3], kTxTargetBatch}};
}

}  // namespace

double TxVariantOutcome::median() const { return median_of(round_rates); }
double TxVariantOutcome::min() const {
    return round_rates.empty() ? 0 : *std::min_element(round_rates.begin(), round_rates.end());
}
double TxVariantOutcome::max() const {
    return round_rates.empty() ? 0 : *std::max_element(round_rates.begin(), round_rates.end());
}

TxBenchResult run_transaction_bench(const TxBenchConfig& cfg) {
    TxBenchResult r;
    r.depth = pick_depth(cfg.size, cfg.capacity);
    const std::string n = std::to_string(cfg.batch);
    const Kind kinds[] = {Kind::tx1, Kind::tx_batch, Kind::plain1, Kind::plain_batch};
    const char* names[] = {"tx1", nullptr, "plain1", nullptr};
    for (int k = 0; k < 4; ++k) {
        TxVariantOutcome o;
        o.name = names[k] ? names[k] : (k == 1 ? "tx" : "plain") + n;
        o.batch = kinds[k] == Kind::tx_batch || kinds[k] == Kind::plain_batch ? cfg.batch : 1;
        o.tx = k < 2;
        o.how = how_of(kinds[k], o.batch, cfg.writer);
        r.variants.push_back(std::move(o));
    }
    // Interleaved: every round runs each variant once, the order rotating.
    for (int round = 0; round < cfg.rounds; ++round) {
        const uint64_t total = share(cfg.count, cfg.rounds, round);
        if (total == 0) continue;
        for (std::size_t k = 0; k < 4; ++k) {
            const std::size_t v = (k + static_cast<std::size_t>(round)) % 4;
            tx_round(kinds[v], cfg, r.depth, total, r.variants[v]);
        }
    }
    return r;
}

std::string transaction_json(const std::vector<Param>& params, const Machine& m, const TxBenchResult& r) {
    Json j;
    j["bench"] = "transaction";
    j["unit"] = "messages_per_sec";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    Json variants = Json::array();
    for (const auto& o : r.variants) {
        Json v;
        v["name"] = o.name;
        v["transactional"] = o.tx;
        v["batch"] = o.batch;
        Json rounds = Json::array(), cpu = Json::array(), cpu_ns = Json::array();
        for (double x : o.round_rates) rounds.push_back(number(x, 0));
        for (double x : o.round_cpu_pct) cpu.push_back(number(x, 1));
        for (double x : o.round_cpu_ns) cpu_ns.push_back(number(x, 1));
        v["messages_per_sec"] = {{"median", number(o.median(), 0)},
                                 {"min", number(o.min(), 0)},
                                 {"max", number(o.max(), 0)},
                                 {"spread_pct", number(spread_pct(o), 1)},
                                 {"rounds", std::move(rounds)}};
        v["stage_cpu_pct"] = std::move(cpu);
        v["stage_cpu_ns_per_msg"] = {{"median", number(median_of(o.round_cpu_ns), 1)}, {"rounds", std::move(cpu_ns)}};
        v["messages"] = o.messages;
        v["measured_s"] = number(o.seconds, 3);
        v["method"] = o.how;
        variants.push_back(std::move(v));
    }
    j["variants"] = std::move(variants);
    j["depth"] = r.depth;
    Json ratios = Json::object(), round_ratios = Json::object(), targets = Json::object(), met = Json::object();
    for (const auto& c : comparisons(r)) {
        ratios[c.key] = json_ratio(c.median_ratio());
        Json rr = Json::array();
        for (double x : c.round_ratios()) rr.push_back(json_ratio(x));
        round_ratios[c.key] = std::move(rr);
        targets[c.key] = c.target;
        met[c.key] = c.met();
    }
    j["ratios"] = std::move(ratios);
    j["round_ratios"] = std::move(round_ratios);
    j["targets"] = std::move(targets);
    j["targets_met"] = std::move(met);
    return dump(j) + "\n";
}

std::string transaction_table(const std::string& title, const TxBenchResult& r) {
    Table t({"variant", "msgs/s (median)", "min", "max", "spread", "rounds (msgs/s)", "stage CPU", "CPU ns/msg"});
    for (const auto& o : r.variants) {
        std::string rounds;
        for (double x : o.round_rates) rounds += (rounds.empty() ? "" : " ") + fmt_rate(x);
        t.add({o.name, fmt_rate(o.median()), fmt_rate(o.min()), fmt_rate(o.max()), fmt("%.0f%%", spread_pct(o)), rounds,
               fmt("%.0f%%", median_of(o.round_cpu_pct)), fmt("%.0f", median_of(o.round_cpu_ns))});
    }
    std::string out = title + "\n" + t.render("  ");
    Table c({"ratio", "median", "rounds", "target", "met"});
    for (const auto& cmp : comparisons(r)) {
        std::string rounds;
        for (double x : cmp.round_ratios()) rounds += (rounds.empty() ? "" : " ") + fmt("%.2f", x);
        c.add({cmp.tx->name + " / " + cmp.plain->name, fmt("%.3fx", cmp.median_ratio()), rounds,
               fmt(">= %.1fx", cmp.target), cmp.met() ? "yes" : "NO"});
    }
    out += "\n" + c.render("  ");
    for (const auto& o : r.variants) out += "  " + o.name + ": " + o.how + "\n";
    return out;
}

}  // namespace shmq::cli::bench
