#include "delay_bench.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "../format.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/shmq.hpp"
#include "shmqd_child.hpp"

namespace shmq::cli::bench {

namespace {

constexpr int64_t kNotReceived = INT64_MIN;
constexpr double kTargetP99Ms = 20;
constexpr uint32_t kMaxCapacity = 1u << 24;  // QueueOptions::capacity's limit

struct State {
    std::atomic<uint32_t> ready{0};
    std::atomic<uint64_t> received{0};
};

uint32_t capacity_for(uint64_t n) {
    uint32_t c = 1024;
    while (c < n && c < kMaxCapacity) c <<= 1;
    return c;
}

// The message: index (u64), then the time it counts from (u64, unix ns).
std::vector<std::byte> message(std::size_t size, uint64_t index, uint64_t from_unix_ns) {
    std::vector<std::byte> m(size, std::byte{'d'});
    std::memcpy(m.data(), &index, 8);
    std::memcpy(m.data() + 8, &from_unix_ns, 8);
    return m;
}

void consume(const std::string& queue, uint64_t total, State& st, int64_t* late_ns) {
    auto q = Queue::open(queue);
    auto c = q.consumer("bench");
    st.ready.fetch_add(1);
    while (st.received.load(std::memory_order_relaxed) < total) {
        auto m = c.receive(Millis(100));
        if (!m.ok()) {
            if (m.code() == Errc::timeout) continue;
            throw BenchError(std::string("receive: ") + to_string(m.code()));
        }
        const int64_t now = static_cast<int64_t>(sys::unix_ns());
        if (m->data().size() < 16) throw BenchError("a message without its header");
        uint64_t index = 0, from = 0;
        std::memcpy(&index, m->data().data(), 8);
        std::memcpy(&from, m->data().data() + 8, 8);
        if (index >= total) throw BenchError("a message with a bad index");
        if (late_ns[index] == kNotReceived) st.received.fetch_add(1, std::memory_order_relaxed);
        late_ns[index] = now - static_cast<int64_t>(from);
        if (!m->ack().ok()) throw BenchError("an ACK failed");
    }
}

Spread spread_of(std::vector<int64_t> v) {
    Spread s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
        return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;
    };
    s.p50_ms = at(0.50);
    s.p99_ms = at(0.99);
    s.max_ms = static_cast<double>(v.back()) / 1e6;
    return s;
}

}  // namespace

DelayBenchResult run_delay_bench(const DelayBenchConfig& cfg) {
    DelayBenchResult r;
    const uint64_t total = 2 * cfg.count;  // delayed, then the baseline's
    r.capacity = capacity_for(total);
    const std::string name = unique_name("delay");
    QueueOptions o;
    o.partitions = cfg.partitions;
    o.capacity = r.capacity;
    o.max_message = static_cast<uint32_t>(cfg.size);
    o.delay_capacity = static_cast<uint32_t>(cfg.count);
    register_name(NameKind::shmq_queue, name);
    auto q = Queue::create(name, o);
    (void)q.consumer("bench");  // the group, from the first message on
    ShmqdChild shmqd(find_shmqd(cfg.shmqd), {name}, std::chrono::seconds(10));

    SharedMemory late(total * sizeof(int64_t));
    auto* late_ns = static_cast<int64_t*>(late.get());
    std::fill(late_ns, late_ns + total, kNotReceived);
    Shared<ChildError> errors;
    Shared<State> st;
    Children kids(errors.get());
    kids.spawn(-1, [&] { consume(name, total, *st, late_ns); });
    wait_until([&] { return st->ready.load() == 1; }, kids, std::chrono::seconds(10), "the consumer attaching");

    auto p = q.producer();
    std::mt19937_64 rng(0x64656c6179ull);
    for (uint64_t i = 0; i < cfg.count; ++i) {
        const auto delay_ms = 1 + rng() % cfg.max_delay_ms;
        const uint64_t due = sys::unix_ns() + delay_ms * 1'000'000;
        if (Status s = p.send(message(cfg.size, i, due), SendOptions{.delay = Millis(delay_ms)}); !s)
            throw BenchError(std::string("a delayed send: ") + s.message());
    }
    // The baseline, paced over the span the delayed ones come due in.
    const auto pace = std::chrono::nanoseconds(uint64_t{cfg.max_delay_ms} * 1'000'000 / cfg.count);
    auto next = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < cfg.count; ++i) {
        next += pace;
        std::this_thread::sleep_until(next);
        if (Status s = p.send(message(cfg.size, cfg.count + i, sys::unix_ns())); !s)
            throw BenchError(std::string("a baseline send: ") + s.message());
    }
    const auto limit = std::chrono::milliseconds(cfg.max_delay_ms) + std::chrono::seconds(30);
    wait_until([&] { return st->received.load() == total; }, kids, limit, "the consumer receiving everything");
    shmqd.check_alive();
    kids.kill_all();
    remove_name(NameKind::shmq_queue, name);

    std::vector<int64_t> delayed, baseline;
    for (uint64_t i = 0; i < total; ++i) {
        if (late_ns[i] == kNotReceived) continue;
        (i < cfg.count ? delayed : baseline).push_back(late_ns[i]);
        if (i < cfg.count && late_ns[i] < 0) ++r.early;
    }
    r.received = delayed.size();
    r.lateness = spread_of(std::move(delayed));
    r.baseline = spread_of(std::move(baseline));
    return r;
}

namespace {
Json spread_json(const Spread& s) {
    return {{"p50", number(s.p50_ms, 3)}, {"p99", number(s.p99_ms, 3)}, {"max", number(s.max_ms, 3)}};
}
}  // namespace

std::string delay_json(const std::vector<Param>& params, const Machine& m, const DelayBenchResult& r) {
    Json j;
    j["bench"] = "delay";
    j["unit"] = "ms";
    j["params"] = params_json(params);
    j["machine"] = machine_json(m);
    j["capacity"] = r.capacity;
    j["lateness_ms"] = spread_json(r.lateness);
    j["early"] = r.early;
    j["received"] = r.received;
    j["baseline_ms"] = spread_json(r.baseline);
    j["target"] = {{"p99_ms", kTargetP99Ms}};
    return dump(j) + "\n";
}

std::string delay_table(const std::string& title, const DelayBenchResult& r) {
    Table t({"", "p50 ms", "p99 ms", "max ms"});
    t.add({"lateness (received - due)", fmt("%.3f", r.lateness.p50_ms), fmt("%.3f", r.lateness.p99_ms),
           fmt("%.3f", r.lateness.max_ms)});
    t.add({"baseline (undelayed: received - sent)", fmt("%.3f", r.baseline.p50_ms), fmt("%.3f", r.baseline.p99_ms),
           fmt("%.3f", r.baseline.max_ms)});
    return title + "\n" + t.render("  ") + "  received " + std::to_string(r.received) + ", early " +
           std::to_string(r.early) + " (must be 0); target: lateness p99 <= " + fmt("%.0f", kTargetP99Ms) + " ms" +
           (r.lateness.p99_ms <= kTargetP99Ms ? " (met)\n" : " (MISSED)\n");
}

}  // namespace shmq::cli::bench
