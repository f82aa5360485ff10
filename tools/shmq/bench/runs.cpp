#include "runs.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "baselines.hpp"
#include "harness.hpp"
#include "shmq_channel.hpp"

namespace shmq::cli::bench {

namespace {

using namespace std::chrono_literals;

// Calls f.template operator()<Channel>() for the named transport.
template <class F>
void with_channel(const std::string& name, Use use, F&& f) {
    if (name == "shmq") f.template operator()<ShmqChannel>();
    else if (name == "bare" && use == Use::throughput) f.template operator()<BareRing>();
    else if (name == "bare") f.template operator()<BareMailbox>();
    else if (name == "bare_batch") f.template operator()<BareBatchRing>();
    else if (name == "futex") f.template operator()<FutexMailbox>();
    else if (name == "boost_mq") f.template operator()<BoostMqChannel>();
    else if (name == "posix_mq") f.template operator()<PosixMqChannel>();
    else if (name == "pipe") f.template operator()<PipeChannel>();
    else if (name == "socketpair") f.template operator()<SocketpairChannel>();
    else throw BenchError("unknown transport '" + name + "'");
}

template <class Ch>
uint32_t depth_of(const Ch& ch, const ChannelSpec& spec) {
    if constexpr (requires { ch.depth(); }) return ch.depth();
    else return spec.depth;
}

void sleep_ns(uint64_t ns) {
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {
    }
}

void wait_for_flag(const std::atomic<int>& flag) {
    while (flag.load(std::memory_order_acquire) == 0) ::usleep(50);
}

struct Pins {
    int a, b;  // the two sides of a ping-pong
};
Pins two_cpus(const char* what) {
    const auto cpus = allowed_cpus();
    if (cpus.size() < 2)
        throw BenchError(std::string("shmq bench ") + what + " needs two CPUs; this process may run only on CPU " +
                         std::to_string(cpus.front()));
    return {cpus[0], cpus[1]};
}

// Rotates the transports each round; drops the ones that were skipped.
template <class Outcome, class Fn>
void interleave(std::vector<Outcome>& outcomes, int rounds, Fn&& run_one) {
    for (int round = 0; round < rounds; ++round) {
        const std::size_t n = outcomes.size();
        for (std::size_t k = 0; k < n; ++k) {
            Outcome& o = outcomes[(k + static_cast<std::size_t>(round)) % n];
            if (!o.skipped.empty()) continue;
            try {
                run_one(o, round);
            } catch (const Skip& s) {
                o.skipped = s.what();
            }
        }
    }
}

// ---- latency ------------------------------------------------------------

struct LatencyControl {
    ChildError errors;
    alignas(64) std::atomic<int> ready{0};
    alignas(64) Histogram hist;
};

template <class Ch>
void latency_round(const ChannelSpec& spec, const LatencyConfig& cfg, uint64_t count, LatencyOutcome& out) {
    const Pins pins = two_cpus("latency");
    const uint64_t warmup = std::min<uint64_t>(1000, std::max<uint64_t>(count / 10, 10));
    const uint64_t total = warmup + count;
    Shared<LatencyControl> ctl;
    LatencyControl* c = ctl.get();
    Ch fwd(spec);
    Ch back(spec);
    out.how = Ch::how(spec);
    out.depth = depth_of(fwd, spec);
    Children kids(&c->errors);
    kids.spawn(pins.b, [&] {  // pong: echo every message
        auto rx = fwd.receiver(0);
        auto tx = back.sender(0);
        std::vector<std::byte> buf(spec.size);
        c->ready.store(1, std::memory_order_release);
        for (uint64_t i = 0; i < total; ++i) {
            if (!rx.recv(buf.data())) throw BenchError("latency: the ping process went away");
            while (!tx.send(buf.data())) {
            }
        }
    });
    kids.spawn(pins.a, [&] {  // ping: time each round trip
        auto tx = fwd.sender(0);
        auto rx = back.receiver(0);
        std::vector<std::byte> buf(spec.size, std::byte{0x5a});
        wait_for_flag(c->ready);
        Histogram& h = c->hist;
        auto trip = [&] {
            while (!tx.send(buf.data())) {
            }
            if (!rx.recv(buf.data())) throw BenchError("latency: the pong process went away");
        };
        if (cfg.rate <= 0) {
            for (uint64_t i = 0; i < total; ++i) {
                const uint64_t t0 = now_ns();
                trip();
                const uint64_t t1 = now_ns();
                if (i >= warmup) h.record((t1 - t0 + 1) / 2);
            }
        } else {
            // Fixed rate: each trip is timed from when it should have started,
            // so a stall delays (and is charged to) every trip behind it.
            const double period = 1e9 / cfg.rate;
            const uint64_t start = now_ns() + 1'000'000;
            for (uint64_t i = 0; i < total; ++i) {
                const uint64_t intended = start + static_cast<uint64_t>(static_cast<double>(i) * period);
                while (now_ns() < intended) {
                }
                trip();
                const uint64_t t1 = now_ns();
                if (i >= warmup) h.record((t1 - intended + 1) / 2);
            }
        }
    });
    fwd.forked();
    back.forked();
    const double expected_s = cfg.rate > 0 ? static_cast<double>(total) / cfg.rate : 0;
    kids.wait_all(std::chrono::milliseconds(30'000 + total / 5 + static_cast<uint64_t>(expected_s * 1000)));
    out.hist->merge(c->hist);
    out.round_p50.push_back(c->hist.value_at(50));
}

// ---- throughput ---------------------------------------------------------

constexpr int kMaxProcesses = 64;
struct alignas(64) PaddedCounter {
    std::atomic<uint64_t> n{0};
};
struct ThroughputControl {
    ChildError errors;
    alignas(64) std::atomic<int> ready{0};
    alignas(64) std::atomic<int> go{0};
    std::atomic<int> stop{0};
    PaddedCounter counters[kMaxProcesses];
};

template <class Ch>
void throughput_round(const ChannelSpec& spec, double seconds, ThroughputOutcome& out) {
    Shared<ThroughputControl> ctl;
    ThroughputControl* c = ctl.get();
    Ch ch(spec);
    out.how = Ch::how(spec);
    out.depth = depth_of(ch, spec);
    const auto cpus = allowed_cpus();
    Children kids(&c->errors);
    int slot = 0;
    for (int i = 0; i < spec.producers; ++i, ++slot) {
        kids.spawn(cpus[static_cast<std::size_t>(slot) % cpus.size()], [&, i, slot] {
            auto tx = ch.sender(i);
            std::vector<std::byte> buf(spec.size, std::byte{0x5a});
            c->ready.fetch_add(1, std::memory_order_acq_rel);
            wait_for_flag(c->go);
            uint64_t n = 0;
            try {
                while (c->stop.load(std::memory_order_relaxed) == 0) {
                    n += tx.send_some(buf.data());
                    c->counters[slot].n.store(n, std::memory_order_relaxed);
                }
            } catch (const BenchError&) {
                if (c->stop.load() == 0) throw;  // after the end, a peer that went away is no error
            }
        });
    }
    const int first_consumer = slot;
    for (int j = 0; j < spec.consumers; ++j, ++slot) {
        kids.spawn(cpus[static_cast<std::size_t>(slot) % cpus.size()], [&, j, slot] {
            auto rx = ch.receiver(j);
            std::vector<std::byte> buf(spec.size);
            c->ready.fetch_add(1, std::memory_order_acq_rel);
            wait_for_flag(c->go);
            uint64_t n = 0;
            try {
                while (c->stop.load(std::memory_order_relaxed) == 0) {
                    n += rx.recv_some(buf.data());
                    c->counters[slot].n.store(n, std::memory_order_relaxed);
                }
            } catch (const BenchError&) {
                if (c->stop.load() == 0) throw;
            }
        });
    }
    ch.forked();
    const int everyone = slot;
    wait_until([&] { return c->ready.load(std::memory_order_acquire) == everyone; }, kids, 20s,
               "the benchmark processes to start");
    auto consumed = [&] {
        uint64_t sum = 0;
        for (int k = first_consumer; k < everyone; ++k) sum += c->counters[k].n.load(std::memory_order_relaxed);
        return sum;
    };
    c->go.store(1, std::memory_order_release);
    // Warm up (queues fill, caches settle), then count what consumers took.
    const auto window_ns = static_cast<uint64_t>(seconds * 1e9);
    sleep_ns(std::clamp<uint64_t>(window_ns / 4, 50'000'000, 200'000'000));
    kids.check();
    const uint64_t m0 = consumed(), t0 = now_ns();
    sleep_ns(window_ns);
    const uint64_t m1 = consumed(), t1 = now_ns();
    c->stop.store(1, std::memory_order_release);
    kids.finish(300ms);  // blocking baselines whose peers have gone are killed
    const double dt = static_cast<double>(t1 - t0) / 1e9;
    out.messages += m1 - m0;
    out.seconds += dt;
    out.round_rates.push_back(static_cast<double>(m1 - m0) / dt);
}

// ---- wakeup -------------------------------------------------------------

struct WakeupControl {
    ChildError errors;
    alignas(64) std::atomic<int> ready{0};
    std::atomic<int> receiver{0};
    std::atomic<uint64_t> asleep{0}, checked{0};
    alignas(64) std::atomic<uint64_t> received{0};
    alignas(64) Histogram hist;
};

template <class Ch>
void wakeup_round(const ChannelSpec& spec, const WakeupConfig& cfg, uint64_t count, int round, LatencyOutcome& out) {
    const Pins pins = two_cpus("wakeup");
    const uint64_t warmup = 10;
    const uint64_t total = warmup + count;
    Shared<WakeupControl> ctl;
    WakeupControl* c = ctl.get();
    Ch ch(spec);
    out.how = Ch::how(spec);
    out.depth = depth_of(ch, spec);
    Children kids(&c->errors);
    kids.spawn(pins.b, [&] {  // receiver: one-way latency from the sender's clock reading
        auto rx = ch.receiver(0);
        std::vector<std::byte> buf(spec.size);
        c->receiver.store(static_cast<int>(::getpid()));
        c->ready.store(1, std::memory_order_release);
        for (uint64_t i = 0; i < total; ++i) {
            if (!rx.recv(buf.data())) throw BenchError("wakeup: the sender went away");
            const uint64_t t = now_ns();
            uint64_t sent = 0;
            std::memcpy(&sent, buf.data(), sizeof sent);
            if (i >= warmup) c->hist.record(t > sent ? t - sent : 0);
            c->received.store(i + 1, std::memory_order_release);
        }
    });
    kids.spawn(pins.a, [&] {  // sender: pause so the receiver falls asleep, then publish
        auto tx = ch.sender(0);
        std::vector<std::byte> buf(spec.size, std::byte{0x5a});
        wait_for_flag(c->ready);
        const pid_t receiver = c->receiver.load();
        uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(round + 1);
        for (uint64_t i = 0; i < total; ++i) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // The receiver has taken the previous message (a late one would
            // otherwise find two), then gets the whole gap to fall asleep.
            while (c->received.load(std::memory_order_acquire) < i) ::usleep(20);
            sleep_ns(cfg.gap_us * 1000 + rng % (cfg.gap_us * 250 + 1));
            if (i >= warmup) {
                c->checked.fetch_add(1, std::memory_order_relaxed);
                if (process_state(receiver) == 'S') c->asleep.fetch_add(1, std::memory_order_relaxed);
            }
            const uint64_t t = now_ns();
            std::memcpy(buf.data(), &t, sizeof t);
            while (!tx.send(buf.data())) {
            }
        }
    });
    ch.forked();
    kids.wait_all(std::chrono::milliseconds(30'000 + total * (cfg.gap_us * 2 + 1000) / 1000));
    out.hist->merge(c->hist);
    out.round_p50.push_back(c->hist.value_at(50));
    out.asleep += c->asleep.load();
    out.checked += c->checked.load();
}

template <class Outcome>
std::vector<Outcome> outcomes_for(const std::vector<std::string>& transports) {
    std::vector<Outcome> out(transports.size());
    for (std::size_t i = 0; i < transports.size(); ++i) out[i].name = transports[i];
    return out;
}

}  // namespace

uint64_t share(uint64_t total, int rounds, int round) {
    const auto r = static_cast<uint64_t>(rounds), k = static_cast<uint64_t>(round);
    return total / r + (k < total % r ? 1 : 0);
}

double median_of(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const std::vector<std::string>& known_baselines(Use use) {
    static const std::vector<std::string> common{"bare", "boost_mq", "posix_mq", "pipe", "socketpair"};
    static const std::vector<std::string> throughput{"bare", "bare_batch", "boost_mq", "posix_mq", "pipe", "socketpair"};
    static const std::vector<std::string> wakeup{"futex", "bare", "boost_mq", "posix_mq", "pipe", "socketpair"};
    return use == Use::wakeup ? wakeup : use == Use::throughput ? throughput : common;
}

std::vector<std::string> all_baselines(Use use, uint32_t batch) {
    auto names = known_baselines(use);
    if (batch <= 1) std::erase(names, std::string("bare_batch"));  // a batch of 1 is the bare ring's case
    return names;
}

uint32_t pick_depth(std::size_t size, uint32_t wanted) {
    // At most 64 MiB of slots per partition (or per baseline), at least 16.
    const std::size_t stride = round_up(32 + round_up(size, 8) + 64, kCacheLine);
    uint32_t depth = 16;
    while (depth < wanted && std::size_t{depth} * 2 * stride <= (std::size_t{64} << 20)) depth *= 2;
    return depth;
}

double ThroughputOutcome::median_rate() const { return median_of(round_rates); }

std::vector<LatencyOutcome> run_latency(const LatencyConfig& cfg) {
    ChannelSpec spec;
    spec.use = Use::latency;
    spec.size = cfg.size;
    spec.depth = pick_depth(cfg.size, cfg.capacity);
    spec.ack = AckMode::each;
    spec.poll = cfg.poll;
    spec.writer = cfg.writer;
    auto out = outcomes_for<LatencyOutcome>(cfg.transports);
    interleave(out, cfg.rounds, [&](LatencyOutcome& o, int round) {
        const uint64_t n = share(cfg.count, cfg.rounds, round);
        if (n == 0) return;
        with_channel(o.name, spec.use, [&]<class Ch>() { latency_round<Ch>(spec, cfg, n, o); });
    });
    return out;
}

std::vector<ThroughputOutcome> run_throughput(const ThroughputConfig& cfg) {
    if (cfg.producers + cfg.consumers > kMaxProcesses)
        throw BenchError("at most " + std::to_string(kMaxProcesses) + " producers and consumers together");
    ChannelSpec spec;
    spec.use = Use::throughput;
    spec.size = cfg.size;
    spec.depth = pick_depth(cfg.size, cfg.capacity);
    spec.producers = cfg.producers;
    spec.consumers = cfg.consumers;
    spec.partitions = cfg.partitions;
    spec.kind = cfg.kind;
    spec.ack = cfg.ack;
    spec.batch = cfg.batch;
    spec.writer = cfg.writer;
    auto out = outcomes_for<ThroughputOutcome>(cfg.transports);
    const double per_round = cfg.seconds / cfg.rounds;
    interleave(out, cfg.rounds, [&](ThroughputOutcome& o, int) {
        with_channel(o.name, spec.use, [&]<class Ch>() { throughput_round<Ch>(spec, per_round, o); });
    });
    return out;
}

std::vector<LatencyOutcome> run_wakeup(const WakeupConfig& cfg) {
    ChannelSpec spec;
    spec.use = Use::wakeup;
    spec.size = cfg.size;
    spec.depth = pick_depth(cfg.size, 1024);
    spec.ack = AckMode::each;
    spec.poll = false;
    auto out = outcomes_for<LatencyOutcome>(cfg.transports);
    interleave(out, cfg.rounds, [&](LatencyOutcome& o, int round) {
        const uint64_t n = share(cfg.count, cfg.rounds, round);
        if (n == 0) return;
        with_channel(o.name, spec.use, [&]<class Ch>() { wakeup_round<Ch>(spec, cfg, n, round, o); });
    });
    return out;
}

}  // namespace shmq::cli::bench
