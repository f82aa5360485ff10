// Deduplicated publishing under crashes (shmq/internal/dedup.hpp (2)): a
// producer stopped, then SIGKILLed, between recording its id and publishing,
// or between publishing and marking the id committed; a producer SIGKILLed
// at random while sending with ids and restarted to resend everything; two
// producers racing with the same ids. Consumers must see every id once.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/crash_points.hpp"
#include "support/stopped_child.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

QueueOptions dedup_queue(uint32_t partitions, uint32_t capacity) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = capacity;
    o.dedup_window_ms = 600'000;
    o.lease_ms = 500;
    return o;
}

// Every message of the queue, by dedup id (a fresh group reads from the oldest).
std::map<std::string, int> drain_ids(Queue& q, const char* group) {
    std::map<std::string, int> seen;
    auto c = q.consumer(group);
    for (;;) {
        auto m = c.receive(300ms);
        if (!m) break;
        ++seen[std::string(m->dedup_id())];
        EXPECT_TRUE(m->ack().ok());
    }
    return seen;
}

// A child that sends `payload` with dedup id `id` and stops itself (SIGSTOP)
// at `at`; returns once it is stopped there.
pid_t fork_sender_stopped_at(const std::string& name, CrashPoint at, const std::string& id) {
    return test::fork_until_stopped([&] {
        auto q = Queue::open(name);
        auto p = q.producer();
        test::stop_at(at);
        return p.send("first copy", {.dedup_id = id}).ok() ? 0 : 3;
    });
}

struct CrashCase {
    CrashPoint at;
    bool published;  // the first copy was out before the crash
    const char* name;
};

class DedupCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(DedupCrash, aResendAfterTheSenderDiesMakesExactlyOneCopy) {
    const CrashCase cc = GetParam();
    test::TempQueue q("dedup-crash", dedup_queue(1, 64));
    const pid_t child = fork_sender_stopped_at(q.name, cc.at, "pay-1");
    auto p = q->producer();
    // Alive but stopped mid-send: a resend waits for it (and times out here).
    SendOutcome o;
    EXPECT_EQ(p.send("second copy", {.timeout = 200ms, .dedup_id = "pay-1"}, o).code(), Errc::timeout);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // Dead: the resend reaps it and repairs the entry.
    ASSERT_TRUE(p.send("second copy", {.timeout = 5000ms, .dedup_id = "pay-1"}, o).ok());
    EXPECT_EQ(o.duplicate, cc.published);
    // And once more: now certainly a duplicate of the one copy.
    SendOutcome again;
    ASSERT_TRUE(p.send("third copy", {.dedup_id = "pay-1"}, again).ok());
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.offset, o.offset);

    auto c = q->consumer("g");
    auto m = c.receive(2000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), cc.published ? "first copy" : "second copy");
    EXPECT_EQ(m->dedup_id(), "pay-1");
    EXPECT_EQ(m->offset(), again.offset);
    ASSERT_TRUE(m->ack().ok());
    EXPECT_EQ(c.receive(200ms).code(), Errc::timeout) << "a second copy was enqueued";
}

INSTANTIATE_TEST_SUITE_P(
    Points, DedupCrash,
    testing::Values(CrashCase{CrashPoint::after_dedup_reserve, false, "betweenIdAndClaim"},
                    CrashCase{CrashPoint::after_copy, false, "betweenClaimAndPublish"},
                    CrashCase{CrashPoint::after_dedup_publish, true, "betweenPublishAndIdCommitted"}),
    [](const testing::TestParamInfo<CrashCase>& case_info) { return case_info.param.name; });

// Sends ids [0, n) in order, each with its key, then exits 0.
[[noreturn]] void send_all(const std::string& name, int n) {
    try {
        auto q = Queue::open(name);
        auto p = q.producer();
        for (int i = 0; i < n; ++i) {
            const std::string id = "id-" + std::to_string(i);
            if (!p.send("payload " + id, {.key = "k" + std::to_string(i % 7), .timeout = 10'000ms, .dedup_id = id}).ok())
                ::_exit(3);
        }
        ::_exit(0);
    } catch (...) {
        ::_exit(5);
    }
}

TEST(DedupKillTest, aProducerKilledAtRandomAndRestartedToResendEverythingPublishesEachIdOnce) {
    constexpr int kIds = 5000;
    test::TempQueue q("dedup-kill", dedup_queue(2, 4096));
    const unsigned seed = std::random_device{}();
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> delay_us(0, 25'000);
    int killed = 0;
    for (int round = 0; round < 40; ++round) {
        const pid_t child = ::fork();
        if (child == 0) send_all(q.name, kIds);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        if (::kill(child, SIGKILL) == 0) ++killed;
        int status = 0;
        ::waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << "seed " << seed;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t last = ::fork();
    if (last == 0) send_all(q.name, kIds);
    int status = 0;
    ::waitpid(last, &status, 0);
    std::cout << "a whole resend took " << std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count() << " us\n";
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the final resend failed; seed " << seed;

    const auto seen = drain_ids(q.queue, "g");
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kIds)) << "seed " << seed;
    int twice = 0;
    for (const auto& [id, count] : seen) twice += count != 1;
    EXPECT_EQ(twice, 0) << "ids published more than once; seed " << seed;
    std::cout << "killed " << killed << " producers mid-stream (seed " << seed << "); " << seen.size()
              << " ids, each once\n";
}

TEST(DedupKillTest, twoProducersRacingWithTheSameIdsPublishEachOnce) {
    constexpr int kIds = 2000;
    test::TempQueue q("dedup-race", dedup_queue(2, 4096));
    pid_t kids[2];
    for (pid_t& k : kids)
        if ((k = ::fork()) == 0) send_all(q.name, kIds);
    for (pid_t k : kids) {
        int status = 0;
        ::waitpid(k, &status, 0);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const auto seen = drain_ids(q.queue, "g");
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kIds));
    for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace shmq
