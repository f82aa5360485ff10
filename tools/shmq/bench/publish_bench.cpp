#include "publish_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <span>
#include <string>

#include "../format.hpp"
#include "runs.hpp"
#include "shmq/internal/attributes.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

namespace {

// Removes the round's exchange however the round ends.
struct RemovedExchange {
    std::string name;
    ~RemovedExchange() {
        try {
            Exchange::remove(name);
        } catch (const Error&) {
        }
    }
};

constexpr uint32_t kChunk = 256;               // calls timed back to back, then drained
constexpr uint32_t kCapacity = 4 * kChunk;      // the ring wraps: its pages are warm after the warm-up
constexpr std::string_view kRoutingKey = "bench.key";

// The publish round's messages carry their routing key (an attribute block
// before the payload, which counts against max_message): every variant's
// queue has room for it, so all of them have the same slot size.
uint32_t attribute_bytes() {
    attrs::Block b;
    (void)attrs::encode(kRoutingKey, {}, b);
    return b.size;
}

Queue round_queue(const std::string& name, const PublishBenchConfig& cfg) {
    QueueOptions o;
    o.capacity = kCapacity;
    o.max_message = static_cast<uint32_t>(cfg.size) + attribute_bytes();
    o.max_participants = 4;
    register_name(NameKind::shmq_queue, name);
    return Queue::create(name, o);
}

// ns per call of `call` over cfg.count calls after the first tenth (warm-up:
// the ring's first laps fault its pages in). Calls run in chunks of kChunk,
// each timed alone; between chunks a consumer of each of `queues` takes and
// ACKs what the chunk sent (not timed), so no call ever waits for room.
template <class Call>
double time_calls(const PublishBenchConfig& cfg, std::span<Queue* const> queues, Call&& call) {
    std::vector<Consumer> drains;
    for (Queue* q : queues) drains.push_back(q->consumer("drain", {.kind = GroupKind::exclusive}));
    std::vector<Message> got(kChunk);
    const uint64_t warm = cfg.count / 10;
    uint64_t timed_ns = 0, timed_calls = 0;
    for (uint64_t done = 0; done < cfg.count;) {
        const uint64_t n = std::min<uint64_t>(kChunk, cfg.count - done);
        const uint64_t start = now_ns();
        for (uint64_t i = 0; i < n; ++i) call();
        const uint64_t took = now_ns() - start;
        if (done >= warm) {
            timed_ns += took;
            timed_calls += n;
        }
        done += n;
        for (auto& drain : drains)
            for (uint64_t left = n; left > 0;) {
                const auto b = drain.receive_batch(std::span(got.data(), left), Millis(1000));
                if (!b.ok()) throw BenchError(std::string("draining the bench queue: ") + b.status.message());
                if (ack_all(std::span(got.data(), b.count)) != b.count)
                    throw BenchError("draining the bench queue: an ACK failed");
                left -= b.count;
            }
    }
    return static_cast<double>(timed_ns) / static_cast<double>(timed_calls);
}

double run_send_round(const PublishBenchConfig& cfg, const std::vector<std::byte>& payload) {
    const std::string name = unique_name("pubsend");
    auto q = round_queue(name, cfg);
    // Its own mapping of the queue, as the Publisher's producer has (and as a
    // producer in another process would): the drain's mapping is not shared.
    auto mine = Queue::open(name);
    auto p = mine.producer();
    Status failed;
    Queue* drained[] = {&q};
    const double ns = time_calls(cfg, drained, [&] {
        if (Status st = p.send(payload); !st) failed = st;
    });
    if (!failed.ok()) throw BenchError(std::string("send failed: ") + failed.message());
    remove_name(NameKind::shmq_queue, name);
    return ns;
}

double run_publish_round(const PublishBenchConfig& cfg, const std::vector<std::byte>& payload) {
    const std::string name = unique_name("pubq");
    auto q = round_queue(name, cfg);
    RemovedExchange x{unique_name("pubx")};
    auto exchange = Exchange::create(x.name, ExchangeType::direct);
    exchange.bind(name, std::string(kRoutingKey));
    auto pub = Publisher::open(x.name);
    PublishOptions options;
    options.routing_key = kRoutingKey;
    PublishOutcome outcome;
    Status failed;
    Queue* drained[] = {&q};
    const double ns = time_calls(cfg, drained, [&] {
        if (Status st = pub.publish(payload, options, outcome); !st) failed = st;
    });
    if (!failed.ok()) throw BenchError(std::string("publish failed: ") + failed.message());
    remove_name(NameKind::shmq_queue, name);
    return ns;
}

// Three queues, each drained by its own consumer between chunks.
struct ThreeQueues {
    std::string names[3] = {unique_name("pubfan"), unique_name("pubfan"), unique_name("pubfan")};
    Queue queues[3];
    explicit ThreeQueues(const PublishBenchConfig& cfg)
        : queues{round_queue(names[0], cfg), round_queue(names[1], cfg), round_queue(names[2], cfg)} {}
    ~ThreeQueues() {
        for (const auto& n : names) remove_name(NameKind::shmq_queue, n);
    }
};

double run_send3_round(const PublishBenchConfig& cfg, const std::vector<std::byte>& payload) {
    ThreeQueues t(cfg);
    Queue mine[] = {Queue::open(t.names[0]), Queue::open(t.names[1]), Queue::open(t.names[2])};
    Producer p[] = {mine[0].producer(), mine[1].producer(), mine[2].producer()};
    Status failed;
    Queue* drained[] = {&t.queues[0], &t.queues[1], &t.queues[2]};
    const double ns = time_calls(cfg, drained, [&] {
        for (auto& each : p)
            if (Status st = each.send(payload); !st) failed = st;
    });
    if (!failed.ok()) throw BenchError(std::string("send failed: ") + failed.message());
    return ns;
}

double run_fanout3_round(const PublishBenchConfig& cfg, const std::vector<std::byte>& payload) {
    ThreeQueues t(cfg);
    RemovedExchange x{unique_name("pubfx")};
    auto exchange = Exchange::create(x.name, ExchangeType::fanout);
    for (const auto& n : t.names) exchange.bind(n);
    auto pub = Publisher::open(x.name);
    PublishOutcome outcome;
    Status failed;
    Queue* drained[] = {&t.queues[0], &t.queues[1], &t.queues[2]};
    const double ns = time_calls(cfg, drained, [&] {
        if (Status st = pub.publish(payload, {}, outcome); !st) failed = st;
    });
    if (!failed.ok()) throw BenchError(std::string("fanout publish failed: ") + failed.message());
    if (outcome.queues != 3) throw BenchError("the fanout publish reached " + std::to_string(outcome.queues) + " queues, not 3");
    return ns;
}

}  // namespace

double PublishVariant::median() const { return median_of(round_ns); }

double PublishBenchResult::ratio() const { return bench::ratio(publish.median(), send.median()); }
double PublishBenchResult::fanout_ratio() const { return bench::ratio(fanout3.median(), send3.median()); }

PublishBenchResult run_publish_bench(const PublishBenchConfig& cfg) {
    PublishBenchResult r;
    r.send.name = "send";
    r.publish.name = "publish";
    r.send3.name = "send3";
    r.fanout3.name = "fanout3";
    const std::vector<std::byte> payload(cfg.size, std::byte{'x'});
    using Round = double (*)(const PublishBenchConfig&, const std::vector<std::byte>&);
    // A pair of variants, alternating which goes first: neither always meets
    // a cold or a warm machine.
    auto pair = [&](int round, PublishVariant& a, Round run_a, PublishVariant& b, Round run_b) {
        if (round % 2 == 0) {
            a.round_ns.push_back(run_a(cfg, payload));
            b.round_ns.push_back(run_b(cfg, payload));
        } else {
            b.round_ns.push_back(run_b(cfg, payload));
            a.round_ns.push_back(run_a(cfg, payload));
        }
    };
    for (int round = 0; round < cfg.rounds; ++round) {
        pair(round, r.send, run_send_round, r.publish, run_publish_round);
        pair(round, r.send3, run_send3_round, r.fanout3, run_fanout3_round);
    }
    return r;
}

std::string publish_json(const std::vector<Param>& params, const Machine& m, const PublishBenchResult& r) {
    Json j;
    j["bench"] = "publish";
    j["unit"] = "ns_per_call";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    for (const PublishVariant* v : {&r.send, &r.publish, &r.send3, &r.fanout3}) {
        Json rounds = Json::array();
        for (double x : v->round_ns) rounds.push_back(number(x, 1));
        j[v->name] = {{"median_ns", number(v->median(), 1)}, {"rounds_ns", std::move(rounds)}};
    }
    Json round_ratios = Json::array();
    for (std::size_t i = 0; i < r.send.round_ns.size(); ++i)
        round_ratios.push_back(json_ratio(ratio(r.publish.round_ns[i], r.send.round_ns[i])));
    j["ratio"] = json_ratio(r.ratio());
    j["round_ratios"] = std::move(round_ratios);
    j["target"] = kPublishTarget;
    j["met"] = r.ratio() <= kPublishTarget;
    j["fanout_ratio"] = json_ratio(r.fanout_ratio());  // no target: what all-or-nothing costs
    return dump(j) + "\n";
}

std::string publish_table(const std::string& title, const PublishBenchResult& r) {
    Table t({"variant", "ns/call (median)", "rounds (ns/call)"});
    for (const PublishVariant* v : {&r.send, &r.publish, &r.send3, &r.fanout3}) {
        std::string rounds;
        for (double x : v->round_ns) rounds += (rounds.empty() ? "" : " ") + fmt("%.1f", x);
        t.add({v->name, fmt("%.1f", v->median()), rounds});
    }
    std::string out = title + "\n" + t.render("  ");
    out += fmt("  publish / send: %.3fx (target <= ", r.ratio()) + fmt("%.1fx): ", kPublishTarget) +
           (r.ratio() <= kPublishTarget ? "met" : "NOT met") + "\n";
    out += fmt("  fanout3 / send3: %.3fx", r.fanout_ratio()) + " (one all-or-nothing publish to 3 queues / 3 plain sends)\n";
    return out;
}

}  // namespace shmq::cli::bench
