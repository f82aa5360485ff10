// Routers in several processes read an exchange's table while an admin
// binds and unbinds (and admins are SIGKILLed mid-update): every read must
// be exactly the binding set of the version it reports.
//
// The admin's operations are a fixed sequence, so version v has one known
// binding set f(v): operation n (0-based) makes version n + 2. Round r is
// 2K operations: bind q0..q(K-1) with key(r, i), then unbind them in order.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using detail::Binding;
using detail::ExchangeTable;
using test::TempExchange;
using test::TempQueue;
using test::tiny_queue;
using test::to_queue;

constexpr uint64_t kQueues = 6;
constexpr const char* kKeys[] = {"a.*", "#", "a.b", "c.*", "a.#.b"};  // all but "c.*" take "a.b"
constexpr const char* kRoutingKey = "a.b";

std::string key_of(uint64_t round, uint64_t i) { return kKeys[(round * 7 + i) % 5]; }

// The bindings of version v, in table order.
std::vector<Binding> bindings_at(uint64_t v, const std::vector<std::string>& queues) {
    const uint64_t done = v - 1, round = done / (2 * kQueues), m = done % (2 * kQueues);
    const uint64_t first = m <= kQueues ? 0 : m - kQueues, end = m <= kQueues ? m : kQueues;
    std::vector<Binding> out;
    for (uint64_t i = first; i < end; ++i) out.push_back(to_queue(queues[i], key_of(round, i)));
    return out;
}

// Performs the operation that turns the table's version v into v + 1.
void next_operation(ExchangeTable& x, const std::vector<std::string>& queues) {
    const uint64_t v = x.version_guess();  // only this process writes: exact
    const uint64_t n = v - 1, round = n / (2 * kQueues), m = n % (2 * kQueues);
    if (m < kQueues)
        x.bind(to_queue(queues[m], key_of(round, m)));
    else
        x.unbind(xlayout::DestKind::queue, queues[m - kQueues], key_of(round, m - kQueues));
}

struct Shared {
    std::atomic<int> stop{0};
    std::atomic<uint64_t> reads[4];
    std::atomic<uint64_t> versions_seen[4];
};

// A reader process's loop; its exit status says whether every read was right.
int read_until_stopped(const std::string& exchange, const std::vector<std::string>& queues, Shared& shared, int me) {
    auto x = ExchangeTable::open(exchange, false);
    detail::RouteEnv env;
    env.queue_live = [](std::string_view) { return true; };  // the queues exist; spare a map per read
    env.open_exchange = [](std::string_view) { return nullptr; };
    uint64_t last = 0, reads = 0, distinct = 0;
    while (shared.stop.load(std::memory_order_acquire) == 0) {
        detail::RouteResult r;
        std::string why;
        if (detail::route(*x, kRoutingKey, {}, env, r, &why) != Errc::ok) {
            std::fprintf(stderr, "reader %d: route failed: %s\n", me, why.c_str());
            return 1;
        }
        std::vector<std::string> expected;
        for (const auto& b : bindings_at(r.version, queues))
            if (detail::topic_matches(b.key, kRoutingKey)) expected.push_back(b.dest);
        if (r.queues != expected || r.version < last) {
            std::fprintf(stderr, "reader %d: version %llu routed to %zu queues, expected %zu (last version %llu)\n", me,
                         static_cast<unsigned long long>(r.version), r.queues.size(), expected.size(),
                         static_cast<unsigned long long>(last));
            return 1;
        }
        detail::TableSnapshot s;
        if (x->snapshot(s, &why) != Errc::ok || s.version < r.version || s.bindings != bindings_at(s.version, queues)) {
            std::fprintf(stderr, "reader %d: snapshot of version %llu is not its binding set (%s)\n", me,
                         static_cast<unsigned long long>(s.version), why.c_str());
            return 1;
        }
        distinct += r.version != last;
        last = s.version;
        ++reads;
    }
    shared.reads[me].store(reads);
    shared.versions_seen[me].store(distinct);
    return 0;
}

TEST(ExchangeRoutingProcessesTest, everyReadIsExactlyTheBindingSetOfItsVersion) {
    std::vector<std::unique_ptr<TempQueue>> held;
    std::vector<std::string> queues;
    for (uint64_t i = 0; i < kQueues; ++i) {
        held.push_back(std::make_unique<TempQueue>("xr", tiny_queue()));
        queues.push_back(held.back()->name);
    }
    TempExchange x("xr-topic", xlayout::ExchangeType::topic);
    auto* shared = static_cast<Shared*>(
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
    new (shared) Shared();

    constexpr int kReaders = 3;
    std::vector<pid_t> readers;
    for (int i = 0; i < kReaders; ++i) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) ::_exit(read_until_stopped(x.name, queues, *shared, i));
        readers.push_back(pid);
    }
    // Admins SIGKILLed at arbitrary points of their updates (mid-copy included)...
    for (int k = 0; k < 4; ++k) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            auto w = ExchangeTable::open(x.name);
            for (;;) next_operation(*w, queues);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(120 + 37 * k));
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFSIGNALED(status)) << "admin " << k << " exited by itself, status " << status;
    }
    // ... then one that finishes its operations, in this process: for 300 ms,
    // and on until the table has passed version 100 (slow builds: TSan).
    const auto start = std::chrono::steady_clock::now();
    auto version_now = [&] {
        detail::TableSnapshot now;
        return x->snapshot(now) == Errc::ok ? now.version : 0;
    };
    while (std::chrono::steady_clock::now() < start + std::chrono::milliseconds(300) ||
           (version_now() <= 100 && std::chrono::steady_clock::now() < start + std::chrono::seconds(60)))
        next_operation(*x.table, queues);
    shared->stop.store(1, std::memory_order_release);

    for (int i = 0; i < kReaders; ++i) {
        int status = 0;
        ASSERT_EQ(::waitpid(readers[i], &status, 0), readers[i]);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "reader " << i << " status " << status;
        EXPECT_GT(shared->reads[i].load(), 0u);
        EXPECT_GT(shared->versions_seen[i].load(), 2u) << "reader " << i << " saw too few versions to test anything";
        std::printf("reader %d: %llu reads, %llu versions seen\n", i,
                    static_cast<unsigned long long>(shared->reads[i].load()),
                    static_cast<unsigned long long>(shared->versions_seen[i].load()));
    }
    detail::TableSnapshot s;
    ASSERT_EQ(x->snapshot(s), Errc::ok);
    EXPECT_GT(s.version, 100u);
    std::printf("admin: %llu versions published\n", static_cast<unsigned long long>(s.version));
    EXPECT_EQ(s.bindings, bindings_at(s.version, queues));
    ::munmap(shared, sizeof(Shared));
}

}  // namespace
}  // namespace shmq
