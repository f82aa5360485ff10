#include "daemon_load.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <span>
#include <thread>

#include "daemon_scale.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

namespace {

constexpr uint64_t kPeriodNs = uint64_t{kBusyPeriodMs} * 1'000'000;
constexpr uint32_t kMaxOwed = 10 * kBusyBurst;  // backlog cap: a slow consumer lowers the rate, never piles up

void sleep_until(uint64_t mono_ns) {
    const timespec ts{static_cast<time_t>(mono_ns / 1'000'000'000), static_cast<long>(mono_ns % 1'000'000'000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
    }
}

}  // namespace

BusyLoad::BusyLoad(const std::vector<std::string>& queues) {
    kids_.spawn(-1, [&] { consume(queues); });
    kids_.spawn(-1, [&] { produce(queues); });
    wait_until([&] { return counters_->attached.load(std::memory_order_acquire) == 2; }, kids_,
               std::chrono::seconds(60), "the busy producer and consumer to attach");
}

void BusyLoad::stop() {
    counters_->stop.store(1, std::memory_order_release);
    kids_.wait_all(std::chrono::seconds(30));
}

// Every period: kBusyBurst more owed to each queue, sent without waiting
// (timeout 0) in turns over the queues until all is out or the period ends.
void BusyLoad::produce(const std::vector<std::string>& names) {
    Counters& c = *counters_;
    std::vector<Queue> queues;
    std::vector<Producer> producers;
    queues.reserve(names.size());
    for (const auto& n : names) producers.push_back(queues.emplace_back(Queue::open(n)).producer());
    // Sending only once the consumer's group exists: it sees every message.
    while (c.attached.load(std::memory_order_acquire) < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    c.attached.fetch_add(1, std::memory_order_acq_rel);
    const std::array<std::byte, 64> payload{};
    const std::vector<std::span<const std::byte>> burst(kMaxOwed, std::span<const std::byte>(payload));
    std::vector<uint32_t> owed(names.size(), 0);
    SendOptions now_or_never;
    now_or_never.timeout = Millis(0);
    uint64_t next = now_ns();
    while (!c.stop.load(std::memory_order_acquire)) {
        for (auto& o : owed) o = std::min(o + kBusyBurst, kMaxOwed);
        next += kPeriodNs;
        for (bool left = true; left && now_ns() < next;) {
            left = false;
            for (std::size_t i = 0; i < producers.size(); ++i) {
                if (owed[i] == 0) continue;
                const BatchResult r = producers[i].send_batch(std::span(burst.data(), owed[i]), now_or_never);
                if (!r && r.code() != Errc::timeout) throw BenchError(std::string("busy producer: send: ") + to_string(r.code()));
                owed[i] -= static_cast<uint32_t>(r.count);
                c.sent.fetch_add(r.count, std::memory_order_relaxed);
                left = left || owed[i] > 0;
            }
            if (left) std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        const uint64_t t = now_ns();
        if (t < next) sleep_until(next);
        else if (t > next + kPeriodNs) next = t;  // overran a whole period: no catch-up burst
    }
    c.producer_done.store(1, std::memory_order_release);  // publishes the final `sent`
}

// Polls every queue in turn (receive_batch without waiting), ACKs what came;
// after a pass with nothing, sleeps 200 us. Exits once the producer is done
// and everything it sent was received.
void BusyLoad::consume(const std::vector<std::string>& names) {
    Counters& c = *counters_;
    std::vector<Queue> queues;
    std::vector<Consumer> consumers;
    ConsumerOptions shared;
    shared.kind = GroupKind::shared;
    queues.reserve(names.size());
    for (const auto& n : names) consumers.push_back(queues.emplace_back(Queue::open(n)).consumer("bench", shared));
    c.attached.fetch_add(1, std::memory_order_acq_rel);
    std::vector<Message> batch(64);
    for (;;) {
        uint64_t got = 0;
        for (auto& consumer : consumers) {
            const BatchResult r = consumer.receive_batch(batch, Millis(0));
            if (!r && r.code() != Errc::timeout) throw BenchError(std::string("busy consumer: receive: ") + to_string(r.code()));
            if (r.count == 0) continue;
            (void)ack_all(std::span(batch.data(), r.count));
            got += r.count;
        }
        c.received.fetch_add(got, std::memory_order_relaxed);
        if (got > 0) continue;
        if (c.producer_done.load(std::memory_order_acquire) &&
            c.received.load(std::memory_order_relaxed) >= c.sent.load(std::memory_order_relaxed))
            return;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

}  // namespace shmq::cli::bench
