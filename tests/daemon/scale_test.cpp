// shmqd with many queues (issue "shmqd at scale"): a death and a lease
// expiry in the last of 500 queues are handled as fast as with one, a
// corrupted cell in the last queue is found within the integrity bound, and
// queues made and removed while it runs are picked up and dropped. Bounds
// are generous and functional: speed is `shmq bench daemon`'s business.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "shmq/internal/groups.hpp"
#include "shmq/internal/layout.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/scale.hpp"
#include "support/shmqd_process.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kQueues = 500;

long ms_since(Clock::time_point t0) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

// The queues' lease: 300 ms, or 5 s in sanitizer builds (SHMQ_TEST_SCALE
// < 1), where shmqd's noticing a new participant and reacting to its death
// took up to 1.7 s beside another test (TSan), and so could not be told
// from a 300 ms lease's expiry.
long lease_ms() { return test::test_scale() < 1.0 ? 5000 : 300; }

class ShmqdScaleTest : public testing::Test {
protected:
    void SetUp() override {
        QueueOptions o;
        o.capacity = 64;
        o.max_message = 64;
        o.dlq_capacity = 64;
        o.lease_ms = static_cast<uint32_t>(lease_ms());
        for (int i = 0; i < kQueues; ++i) queues.push_back(std::make_unique<test::TempQueue>("scale", o));
    }
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // shmqd serving all 500 (and `extra`), every cell checked within `integrity_ms`.
    void start_daemon(const std::string& extra = "", int integrity_ms = 10000) {
        std::string args = "--integrity-period-ms " + std::to_string(integrity_ms) + " " + extra;
        for (const auto& q : queues) args += " --queue " + q->name;
        shmqd.start(args);
        ASSERT_TRUE(shmqd.wait_for_log("watching queue " + last().name, "shmqd.log", 20s)) << shmqd.log_text();
    }
    test::TempQueue& last() { return *queues.back(); }

    // A child that takes one message of `queue` in group g and stops holding it.
    pid_t stopped_holder(const std::string& queue) {
        const pid_t child = ::fork();
        if (child == 0) {
            auto c = Queue::open(queue).consumer("g", ConsumerOptions{});
            auto m = c.receive(2000ms);
            ::raise(SIGSTOP);
            ::_exit(m ? 0 : 3);
        }
        int status = 0;
        ::waitpid(child, &status, WUNTRACED);
        EXPECT_TRUE(WIFSTOPPED(status));
        return child;
    }

    std::vector<std::unique_ptr<test::TempQueue>> queues;
    test::TempDir dir{"shmqd-scale"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(ShmqdScaleTest, aKilledConsumersMessageComesBackAtOnceInTheLastOf500Queues) {
    start_daemon();
    auto& q = last();
    ASSERT_TRUE(q->producer().send("held").ok());
    const pid_t child = stopped_holder(q.name);
    auto peer = q->consumer("g");
    EXPECT_EQ(peer.receive(50ms).code(), Errc::timeout);  // leased to the stopped child
    const auto t0 = Clock::now();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    auto m = peer.receive(Millis(lease_ms() + 5000));
    const long waited = ms_since(t0);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "held");
    EXPECT_TRUE(m->ack().ok());
    std::cout << "[ shmqd ] 500 queues: a SIGKILLed consumer's message came back after " << waited
              << " ms (lease " << lease_ms() << " ms)\n";
    EXPECT_LT(waited, lease_ms() - 50) << "not the pidfd: the lease expired first";
}

TEST_F(ShmqdScaleTest, aLeaseExpiresOnTimeInTheLastOf500Queues) {
    start_daemon();
    auto& q = last();
    ASSERT_TRUE(q->producer().send("slow").ok());
    // The holder stays alive (stopped) and nobody else consumes: only shmqd
    // can expire the lease. Watch its word from a read-only mapping.
    const auto t0 = Clock::now();  // before the delivery
    const pid_t child = stopped_holder(q.name);
    const auto region = detail::Region::open(q.name, detail::Access::read_only);
    uint32_t g = 0;
    while (g < region->max_groups() && detail::group_name(*region, g) != "g") ++g;
    ASSERT_LT(g, region->max_groups());
    auto& word = region->lease(g, 0, 0).word;
    ASSERT_EQ(ring::lease_kind(word.load()), ring::LeaseKind::leased);
    while (ring::lease_kind(word.load()) == ring::LeaseKind::leased && ms_since(t0) < lease_ms() + 5000)
        std::this_thread::sleep_for(1ms);
    const long waited = ms_since(t0);
    EXPECT_EQ(ring::lease_kind(word.load()), ring::LeaseKind::retry) << "not expired within 5 s of its deadline";
    std::cout << "[ shmqd ] 500 queues: a " << lease_ms() << " ms lease expired " << waited << " ms after its delivery\n";
    EXPECT_GE(waited, lease_ms() - 1);  // never early: the deadline is lease_ms after the receive call
    EXPECT_LT(waited, lease_ms() + 1000) << "due " << lease_ms() << " ms after its delivery";
    EXPECT_TRUE(shmqd.wait_for_log("1 lease(s) expired", "shmqd.log", 2s)) << shmqd.log_text();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
}

TEST_F(ShmqdScaleTest, aCorruptedCellInTheLastOf500QueuesIsFoundWithinTheCoverageBound) {
    start_daemon("", 2000);  // every cell of all 500 queues within 2 s
    ASSERT_TRUE(shmqd.wait_for_log("integrity: ", "shmqd.log", 5s)) << shmqd.log_text();
    // The last lease entry of the last queue's first group: the end of its pass.
    auto& q = last();
    { auto c = q->consumer("g"); }  // an active group: its entries are checked
    const auto region = detail::Region::open(q.name, detail::Access::read_only);
    const auto& s = region->sections();
    const uint64_t entry = s.leases + (region->capacity() - 1) * sizeof(layout::LeaseEntry);
    const std::string path = "/dev/shm/shmq." + q.name;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const uint64_t rogue = 12345;  // its tag names an offset of another slot
    ASSERT_EQ(::pwrite(fd, &rogue, sizeof rogue, static_cast<off_t>(entry)), static_cast<ssize_t>(sizeof rogue));
    ::close(fd);
    const auto t0 = Clock::now();
    ASSERT_TRUE(shmqd.wait_for_log("queue " + q.name + ": region damaged", "shmqd.log", 15s)) << shmqd.log_text();
    const long waited = ms_since(t0);
    std::cout << "[ shmqd ] 500 queues, integrity period 2 s: damage in the last queue found after " << waited
              << " ms\n";
    EXPECT_LT(waited, 2000 + 1500) << "the stated bound is the period (2 s) plus a slice";
    EXPECT_EQ(region->lifecycle(), layout::Lifecycle::corrupt);
}

TEST_F(ShmqdScaleTest, queuesMadeAndRemovedWhileItRunsArePickedUpAndDropped) {
    // Named in advance, made later: shmqd serves them once they exist.
    QueueOptions o;
    o.capacity = 64;
    o.max_message = 64;
    const std::string late = test::unique_queue_name("scale-late");
    start_daemon("--queue " + late);
    const auto t0 = Clock::now();
    Queue made = Queue::create(late, o);
    ASSERT_TRUE(shmqd.wait_for_log("watching queue " + late, "shmqd.log", 5s)) << shmqd.log_text();
    std::cout << "[ shmqd ] a queue made while shmqd runs was watched after " << ms_since(t0) << " ms\n";
    // It is served: a consumer killed there has its message back at once.
    ASSERT_TRUE(made.producer().send("x").ok());
    const pid_t child = stopped_holder(late);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    auto m = made.consumer("g").receive(5000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_TRUE(m->ack().ok());
    const auto t1 = Clock::now();
    Queue::remove(late);
    ASSERT_TRUE(shmqd.wait_for_log("queue " + late + " was deleted", "shmqd.log", 5s)) << shmqd.log_text();
    std::cout << "[ shmqd ] a queue removed while shmqd runs was dropped after " << ms_since(t1) << " ms\n";
    // And one of the 500 too.
    const std::string gone = queues.front()->name;
    Queue::remove(gone);
    EXPECT_TRUE(shmqd.wait_for_log("queue " + gone + " was deleted", "shmqd.log", 5s)) << shmqd.log_text();
}

}  // namespace
}  // namespace shmq
