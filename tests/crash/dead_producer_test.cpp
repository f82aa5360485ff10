// A producer that dies between claim and commit must not stall its
// partition; one that is only stopped must never be overwritten.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

// Forks a child that claims one slot of `name`, writes "claimed", stops
// itself (SIGSTOP) and, if continued, commits and exits 0.
pid_t fork_stopped_claimer(const std::string& name) {
    pid_t pid = ::fork();
    if (pid == 0) {
        try {
            auto q = Queue::open(name);
            auto p = q.producer();
            auto claim = p.claim(7);
            if (!claim) ::_exit(3);
            std::memcpy(claim->data().data(), "claimed", 7);
            ::raise(SIGSTOP);
            ::_exit(claim->commit().ok() ? 0 : 4);
        } catch (...) {
            ::_exit(5);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, WUNTRACED);  // until it has claimed and stopped
    EXPECT_TRUE(WIFSTOPPED(status));
    return pid;
}

TEST(DeadProducerTest, consumersPassOverTheClaimOfAKilledProducer) {
    QueueOptions o;
    o.lease_ms = 200;  // consumers scan every lease_ms / 4 = 50 ms
    test::TempQueue q("deadprod", o);
    auto c = q->consumer("g");
    const pid_t child = fork_stopped_claimer(q.name);
    auto p = q->producer();
    ASSERT_TRUE(p.send("after").ok());
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto m = c.receive(2000ms);
    const auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "after");
    EXPECT_EQ(m->offset(), 1u);  // offset 0 was the aborted claim
    EXPECT_TRUE(m->ack().ok());
    std::cout << "partition resumed " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
              << " ms after the producer's death\n";
}

TEST(DeadProducerTest, aStoppedLiveProducerIsNeverOverwritten) {
    QueueOptions o;
    o.lease_ms = 100;
    test::TempQueue q("slowprod", o);
    auto c = q->consumer("g");
    const pid_t child = fork_stopped_claimer(q.name);
    auto p = q->producer();
    ASSERT_TRUE(p.send("second").ok());
    EXPECT_EQ(c.receive(300ms).code(), Errc::timeout);  // waits for the live claimer, in order
    ::kill(child, SIGCONT);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the slow producer's commit failed";
    auto first = c.receive(1000ms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->text(), "claimed");
    EXPECT_TRUE(first->ack().ok());
    auto second = c.receive(1000ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->text(), "second");
    EXPECT_TRUE(second->ack().ok());
}

}  // namespace
}  // namespace shmq
