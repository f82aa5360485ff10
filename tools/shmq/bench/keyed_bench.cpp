#include "keyed_bench.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <span>
#include <string>

#include "../format.hpp"
#include "runs.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

namespace {

// What the consumer processes of a round share with the bench process.
struct RoundState {
    std::atomic<uint32_t> ready{0};      // consumers attached
    std::atomic<uint32_t> go{0};         // 1: start receiving
    std::atomic<uint64_t> acked{0};      // messages ACKed, all consumers
    std::atomic<uint64_t> last_ack_ns{0};  // CLOCK_MONOTONIC of the latest ACK
    std::atomic<uint64_t> start_ns{0};
};

uint32_t capacity_for(uint64_t backlog) {
    uint32_t c = 1024;
    while (c < backlog) c <<= 1;
    return c;
}

void consume_round(const std::string& queue, GroupKind kind, const KeyedBenchConfig& cfg, RoundState& st) {
    auto q = Queue::open(queue);
    ConsumerOptions o;
    o.kind = kind;
    o.max_in_flight = std::max<uint32_t>(cfg.batch, 256);
    auto c = q.consumer("bench", o);
    std::vector<Message> got(cfg.batch);
    st.ready.fetch_add(1);
    while (st.go.load(std::memory_order_acquire) == 0) sched_yield();
    while (st.acked.load(std::memory_order_relaxed) < cfg.backlog) {
        const auto b = c.receive_batch(std::span(got), Millis(20));
        if (!b.ok()) {
            if (b.status.code() == Errc::timeout) continue;
            throw BenchError(std::string("receive: ") + b.status.message());
        }
        if (ack_all(std::span(got.data(), b.count)) != b.count) throw BenchError("an ACK failed");
        const uint64_t now = now_ns();
        uint64_t last = st.last_ack_ns.load(std::memory_order_relaxed);
        while (last < now && !st.last_ack_ns.compare_exchange_weak(last, now)) {
        }
        st.acked.fetch_add(b.count, std::memory_order_relaxed);
    }
}

double run_round(const KeyedBenchConfig& cfg, GroupKind kind, const std::vector<std::string>& keys, uint32_t capacity) {
    const std::string name = unique_name("keyed");
    QueueOptions o;
    o.capacity = capacity;
    o.partitions = cfg.partitions;
    o.max_message = static_cast<uint32_t>(cfg.size);
    o.max_participants = cfg.consumers + 4;
    register_name(NameKind::shmq_queue, name);
    auto q = Queue::create(name, o);
    {
        // The group first, from its oldest message; then the backlog.
        ConsumerOptions co;
        co.kind = kind;
        (void)q.consumer("bench", co);
        auto p = q.producer();
        const std::vector<std::byte> payload(cfg.size, std::byte{'k'});
        for (const std::string& key : keys)
            if (Status s = p.send(payload, SendOptions{.key = key}); !s)
                throw BenchError(std::string("filling the backlog: ") + s.message());
    }
    Shared<ChildError> errors;
    Shared<RoundState> st;
    Children kids(errors.get());
    for (uint32_t i = 0; i < cfg.consumers; ++i)
        kids.spawn(-1, [&] { consume_round(name, kind, cfg, *st); });
    wait_until([&] { return st->ready.load() == cfg.consumers; }, kids, std::chrono::seconds(10), "consumers attaching");
    const uint64_t start = now_ns();
    st->go.store(1, std::memory_order_release);
    kids.wait_all(std::chrono::seconds(300));
    if (st->acked.load() < cfg.backlog) throw BenchError("the consumers stopped before the backlog was drained");
    remove_name(NameKind::shmq_queue, name);
    const double seconds = static_cast<double>(st->last_ack_ns.load() - start) / 1e9;
    return static_cast<double>(cfg.backlog) / std::max(seconds, 1e-9);
}

// The backlog's keys, in send order: hot_pct of them "hot" first, the rest uniform.
std::vector<std::string> backlog_keys(const KeyedBenchConfig& cfg, uint32_t round) {
    std::mt19937_64 rng(0x6b657965ull + round);
    std::vector<std::string> keys;
    keys.reserve(cfg.backlog);
    const uint64_t hot = cfg.backlog * cfg.hot_pct / 100;
    for (uint64_t i = 0; i < cfg.backlog; ++i)
        keys.push_back(i < hot ? std::string("hot") : "key-" + std::to_string(rng() % cfg.keys));
    return keys;
}

}  // namespace

double KeyedVariant::median() const { return median_of(round_rates); }
double KeyedBenchResult::ratio() const { return bench::ratio(keyed.median(), shared.median()); }

KeyedBenchResult run_keyed_bench(const KeyedBenchConfig& cfg) {
    KeyedBenchResult r;
    r.shared.name = "shared";
    r.keyed.name = "keyed";
    r.capacity = capacity_for(cfg.backlog);
    for (int round = 0; round < cfg.rounds; ++round) {
        const auto keys = backlog_keys(cfg, static_cast<uint32_t>(round));
        // Alternating which goes first: neither always meets a cold or a warm machine.
        if (round % 2 == 0) {
            r.shared.round_rates.push_back(run_round(cfg, GroupKind::shared, keys, r.capacity));
            r.keyed.round_rates.push_back(run_round(cfg, GroupKind::keyed, keys, r.capacity));
        } else {
            r.keyed.round_rates.push_back(run_round(cfg, GroupKind::keyed, keys, r.capacity));
            r.shared.round_rates.push_back(run_round(cfg, GroupKind::shared, keys, r.capacity));
        }
    }
    return r;
}

std::string keyed_json(const std::vector<Param>& params, const Machine& m, const KeyedBenchResult& r) {
    Json j;
    j["bench"] = "keyed";
    j["unit"] = "messages_per_s";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    j["capacity"] = r.capacity;
    for (const KeyedVariant* v : {&r.shared, &r.keyed}) {
        Json rounds = Json::array();
        for (double x : v->round_rates) rounds.push_back(number(x, 0));
        j[v->name] = {{"median", number(v->median(), 0)}, {"rounds", std::move(rounds)}};
    }
    j["ratio"] = json_ratio(r.ratio());
    return dump(j) + "\n";
}

std::string keyed_table(const std::string& title, const KeyedBenchResult& r) {
    Table t({"group", "msg/s (median)", "rounds (msg/s)"});
    for (const KeyedVariant* v : {&r.shared, &r.keyed}) {
        std::string rounds;
        for (double x : v->round_rates) rounds += (rounds.empty() ? "" : " ") + fmt_rate(x);
        t.add({v->name, fmt_rate(v->median()), rounds});
    }
    return title + "\n" + t.render("  ") + fmt("  keyed / shared: %.3fx\n", r.ratio());
}

}  // namespace shmq::cli::bench
