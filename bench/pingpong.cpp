// One-way latency between two processes pinned to two CPUs: shmq beside the
// hardware limit (a bare cache-line ping-pong through shared memory), both
// measured in the same run. One-way = round trip / 2. Prints percentiles.
//
//   shmq_pingpong [ROUND_TRIPS] [PAYLOAD_BYTES]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "shmq/shmq.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))), &set);
    ::sched_setaffinity(0, sizeof set, &set);
}

struct Percentiles {
    double p50, p90, p99, p999, min;
};

Percentiles summarize(std::vector<double>& ns) {
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) { return ns[std::min(ns.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ns.size())))]; };
    return {at(0.5), at(0.9), at(0.99), at(0.999), ns.front()};
}

// Bare hand-off: one cache line, the parent writes odd values, the child even.
std::vector<double> bare_pingpong(int trips) {
    auto* line = static_cast<std::atomic<uint64_t>*>(
        ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    line->store(0);
    pid_t child = ::fork();
    if (child == 0) {
        pin(1);
        for (uint64_t i = 0; i < static_cast<uint64_t>(trips); ++i) {
            while (line->load(std::memory_order_acquire) != 2 * i + 1) {
            }
            line->store(2 * i + 2, std::memory_order_release);
        }
        ::_exit(0);
    }
    pin(0);
    std::vector<double> one_way;
    one_way.reserve(static_cast<std::size_t>(trips));
    for (uint64_t i = 0; i < static_cast<uint64_t>(trips); ++i) {
        auto t0 = Clock::now();
        line->store(2 * i + 1, std::memory_order_release);
        while (line->load(std::memory_order_acquire) != 2 * i + 2) {
        }
        one_way.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / 2);
    }
    ::waitpid(child, nullptr, 0);
    ::munmap(line, 4096);
    return one_way;
}

shmq::Message spin_receive(shmq::Consumer& c) {
    for (;;) {
        auto m = c.receive(0ms);
        if (m) return std::move(m.value());
    }
}

// shmq: ping on queue A, pong on queue B; each side ACKs what it receives.
std::vector<double> shmq_pingpong(int trips, std::size_t size) {
    const std::string a = "bench-ping-" + std::to_string(::getpid()), b = "bench-pong-" + std::to_string(::getpid());
    shmq::QueueOptions o;
    o.max_message = static_cast<uint32_t>(std::max<std::size_t>(size, 1));
    auto qa = shmq::Queue::create(a, o);
    auto qb = shmq::Queue::create(b, o);
    // Groups exist before the first message, so nothing waits for them.
    { auto ca = qa.consumer("bench", {.kind = shmq::GroupKind::exclusive}); }
    { auto cb = qb.consumer("bench", {.kind = shmq::GroupKind::exclusive}); }
    pid_t child = ::fork();
    if (child == 0) {
        pin(1);
        auto in = shmq::Queue::open(a).consumer("bench", {.kind = shmq::GroupKind::exclusive});
        auto qout = shmq::Queue::open(b);
        auto out = qout.producer();
        std::string payload(size, 'p');
        for (int i = 0; i < trips; ++i) {
            auto m = spin_receive(in);
            (void)m.ack();
            (void)out.send(payload);
        }
        ::_exit(0);
    }
    pin(0);
    auto out = qa.producer();
    auto in = qb.consumer("bench", {.kind = shmq::GroupKind::exclusive});
    std::string payload(size, 'q');
    std::vector<double> one_way;
    one_way.reserve(static_cast<std::size_t>(trips));
    for (int i = 0; i < trips; ++i) {
        auto t0 = Clock::now();
        (void)out.send(payload);
        auto m = spin_receive(in);
        (void)m.ack();
        one_way.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / 2);
    }
    ::waitpid(child, nullptr, 0);
    shmq::Queue::remove(a);
    shmq::Queue::remove(b);
    return one_way;
}

}  // namespace

int main(int argc, char** argv) {
    const int trips = argc > 1 ? std::atoi(argv[1]) : 200000;
    const std::size_t size = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 64;
    // Interleave the two measurements in rounds so machine noise hits both.
    std::vector<double> bare, queue;
    for (int round = 0; round < 5; ++round) {
        auto b = bare_pingpong(trips / 5);
        auto q = shmq_pingpong(trips / 5, size);
        bare.insert(bare.end(), b.begin(), b.end());
        queue.insert(queue.end(), q.begin(), q.end());
    }
    const Percentiles pb = summarize(bare), pq = summarize(queue);
    std::printf("one-way latency, %d round trips, %zu-byte payload (ns)\n", trips, size);
    std::printf("%-28s %8s %8s %8s %8s %8s\n", "", "min", "p50", "p90", "p99", "p99.9");
    std::printf("%-28s %8.0f %8.0f %8.0f %8.0f %8.0f\n", "bare cache-line ping-pong", pb.min, pb.p50, pb.p90, pb.p99, pb.p999);
    std::printf("%-28s %8.0f %8.0f %8.0f %8.0f %8.0f\n", "shmq send/receive/ack", pq.min, pq.p50, pq.p90, pq.p99, pq.p999);
    std::printf("%-28s %8.2f %8.2f %8.2f %8.2f %8.2f\n", "ratio shmq / bare", pq.min / pb.min, pq.p50 / pb.p50,
                pq.p90 / pb.p90, pq.p99 / pb.p99, pq.p999 / pb.p999);
    return 0;
}
