// Publishers in several processes publish through a direct exchange while
// an admin binds and unbinds: every message must land exactly in the queue
// that the table version its publish reported routes its key to, or be
// reported unroutable (and land nowhere) when that version routes the key
// nowhere; and that version is never older than one whose bind or unbind
// had returned before the publish began. Nothing lost, nothing twice.
//
// The admin's operations are a fixed sequence, so version v has one known
// binding set: operation n (0-based) makes version n + 2. Round r is 2K
// operations: bind key k<j> to queue q<(r + j) % K> for j = 0..K-1, then
// unbind them in order. Each key has at most one binding at any version.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using detail::ExchangeTable;
using test::TempExchange;
using test::TempQueue;

constexpr uint64_t kKeys = 4;  // routing keys k0..k3, and as many queues
constexpr int kPublishers = 4;
constexpr uint64_t kPerPublisher = 3000;

std::string routing_key(uint64_t j) { return "k" + std::to_string(j); }

struct Op {
    bool bind;
    uint64_t key, queue;
};
Op operation(uint64_t n) {
    const uint64_t round = n / (2 * kKeys), m = n % (2 * kKeys), j = m < kKeys ? m : m - kKeys;
    return {m < kKeys, j, (round + j) % kKeys};
}

// The queue (index) version v routes key j to, if any.
std::optional<uint64_t> target_at(uint64_t v, uint64_t j) {
    const uint64_t done = v - 1, round = done / (2 * kKeys), m = done % (2 * kKeys);
    const bool bound = m <= kKeys ? j < m : j >= m - kKeys;
    if (!bound) return std::nullopt;
    return (round + j) % kKeys;
}

void next_operation(ExchangeTable& x, const std::vector<std::string>& queues) {
    const Op op = operation(x.version_guess() - 1);  // only this process writes: exact
    if (op.bind)
        x.bind(test::to_queue(queues[op.queue], routing_key(op.key)));
    else
        x.unbind(xlayout::DestKind::queue, queues[op.queue], routing_key(op.key));
}

// What each publish reported, written by its publisher process.
struct Report {
    uint8_t code;  // Errc
    uint64_t version;
    uint64_t queues;
    uint64_t floor;  // the admin's last completed version when the publish began
};
struct Shared {
    std::atomic<int> done{0};
    std::atomic<uint64_t> admin_version{1};  // stored (release) after each bind/unbind returned
    Report reports[kPublishers][kPerPublisher];
};

// Runs of 16 publishes with one key: the publisher's cached plan is used
// (and must notice each new version), then the key changes (its RouteCache).
uint64_t key_index(int publisher, uint64_t i) { return (i / 16 + static_cast<uint64_t>(publisher)) % kKeys; }

int publish_all(const std::string& exchange, Shared& shared, int me) {
    try {
        auto pub = Publisher::open(exchange);
        for (uint64_t i = 0; i < kPerPublisher; ++i) {
            const std::string payload = std::to_string(me) + ":" + std::to_string(i);
            const std::string key = routing_key(key_index(me, i));
            PublishOutcome out;
            // acquire: pairs with the admin's release store after its bind returned.
            const uint64_t floor = shared.admin_version.load(std::memory_order_acquire);
            const Status st = pub.publish(std::as_bytes(std::span(payload)), {.routing_key = key}, out);
            shared.reports[me][i] = {static_cast<uint8_t>(st.code()), out.table_version, out.queues, floor};
            if ((i & 63) == 0) std::this_thread::yield();  // let the admin move between versions
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "publisher %d: %s\n", me, e.what());
        return 1;
    }
    shared.done.fetch_add(1, std::memory_order_release);
    return 0;
}

TEST(PublishProcessesTest, everyMessageLandsWhereItsReportedVersionRoutesIt) {
    QueueOptions o;
    o.capacity = 16384;  // every message could go to one queue
    o.max_message = 32;
    o.max_participants = 16;
    std::vector<std::unique_ptr<TempQueue>> held;
    std::vector<std::string> queues;
    for (uint64_t i = 0; i < kKeys; ++i) {
        held.push_back(std::make_unique<TempQueue>("pp", o));
        queues.push_back(held.back()->name);
    }
    TempExchange x("pp-direct", xlayout::ExchangeType::direct);
    auto* shared = static_cast<Shared*>(
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
    new (shared) Shared();

    std::vector<pid_t> publishers;
    for (int p = 0; p < kPublishers; ++p) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) ::_exit(publish_all(x.name, *shared, p));
        publishers.push_back(pid);
    }
    // The admin, concurrently, until every publisher is done (or 30 s).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (shared->done.load(std::memory_order_acquire) < kPublishers && std::chrono::steady_clock::now() < give_up) {
        next_operation(*x.table, queues);
        shared->admin_version.store(x->version_guess(), std::memory_order_release);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    for (int p = 0; p < kPublishers; ++p) {
        int status = 0;
        ASSERT_EQ(::waitpid(publishers[p], &status, 0), publishers[p]);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "publisher " << p << " status " << status;
    }

    // Where each message landed: found[p][i] = queue index, or -1; twice is an error.
    std::vector<std::vector<int>> found(kPublishers, std::vector<int>(kPerPublisher, -1));
    for (uint64_t q = 0; q < kKeys; ++q) {
        auto c = held[q]->queue.consumer("check", {.at_most_once = true});
        for (;;) {
            auto m = c.receive(Millis(0));
            if (!m) break;
            int p = -1;
            unsigned long long i = 0;
            ASSERT_EQ(std::sscanf(std::string(m->text()).c_str(), "%d:%llu", &p, &i), 2) << m->text();
            ASSERT_TRUE(p >= 0 && p < kPublishers && i < kPerPublisher) << m->text();
            EXPECT_EQ(found[p][i], -1) << "message " << p << ":" << i << " landed twice";
            found[p][i] = static_cast<int>(q);
        }
    }
    uint64_t routed = 0, unroutable = 0, distinct_versions = 0, last_version = 0;
    for (int p = 0; p < kPublishers; ++p)
        for (uint64_t i = 0; i < kPerPublisher; ++i) {
            const Report& r = shared->reports[p][i];
            const uint64_t key = key_index(p, i);
            // A bind or unbind that returned before the publish began is seen by it.
            ASSERT_GE(r.version, r.floor) << p << ":" << i << " used a table older than one already published";
            const auto target = target_at(r.version, key);
            if (r.code == static_cast<uint8_t>(Errc::ok)) {
                ++routed;
                ASSERT_TRUE(target.has_value()) << p << ":" << i << " published at version " << r.version
                                                << ", which routes its key nowhere";
                EXPECT_EQ(r.queues, 1u);
                EXPECT_EQ(found[p][i], static_cast<int>(*target))
                    << p << ":" << i << " at version " << r.version << " (-1: lost)";
            } else {
                ++unroutable;
                ASSERT_EQ(r.code, static_cast<uint8_t>(Errc::unroutable)) << p << ":" << i;
                EXPECT_FALSE(target.has_value()) << p << ":" << i << " unroutable at version " << r.version;
                EXPECT_EQ(found[p][i], -1) << p << ":" << i << " was reported unroutable but landed";
            }
            distinct_versions += r.version != last_version;
            last_version = r.version;
        }
    std::printf("%llu routed, %llu unroutable, %llu version changes seen, the admin reached version %llu\n",
                static_cast<unsigned long long>(routed), static_cast<unsigned long long>(unroutable),
                static_cast<unsigned long long>(distinct_versions),
                static_cast<unsigned long long>(x->version_guess()));
    EXPECT_GT(routed, 0u);
    EXPECT_GT(unroutable, 0u);
    EXPECT_GT(distinct_versions, 10u) << "too few bind/unbind while publishing to test anything";
    EXPECT_EQ(x->counters_guess().routed, routed);
    EXPECT_EQ(x->counters_guess().unroutable, unroutable);
    ::munmap(shared, sizeof(Shared));
}

}  // namespace
}  // namespace shmq
