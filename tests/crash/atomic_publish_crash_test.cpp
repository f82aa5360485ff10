// An exchange's publish into several queues (tx/atomic_publish.hpp) under
// crashes: the publisher stopped, then SIGKILLed, mid-send, before its
// commit point, right after it, and between its commit point and its slots.
// Before the commit point no queue may ever show the message; after it,
// readers finish it and every queue shows it exactly once. A stopped
// publisher past its deadline is aborted by readers, and its resumed commit
// fails. No shmqd runs: the readers resolve it.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "shmq/internal/crash_points.hpp"
#include "support/drain.hpp"
#include "support/stopped_child.hpp"
#include "support/temp_queue.hpp"
#include "tx/atomic_publish.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

QueueOptions small(uint32_t partitions = 1, uint32_t lease_ms = 60'000) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 64;
    o.lease_ms = lease_ms;  // 60 s: recovery must come from the death, not from a deadline
    return o;
}

using test::drain;

Status publish3(const std::string& a, const std::string& b, const std::string& c, std::string_view payload) {
    auto qa = Queue::open(a), qb = Queue::open(b), qc = Queue::open(c);
    auto pa = qa.producer(), pb = qb.producer(), pc = qc.producer();
    Producer* targets[] = {&pa, &pb, &pc};
    return detail::publish_atomically(targets, std::as_bytes(std::span(payload)), {.key = "k"});
}

struct CrashCase {
    CrashPoint at;
    bool committed;  // the commit point was passed before the crash
    const char* name;
};

class AtomicPublishCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(AtomicPublishCrash, readersFinishOrUndoWhatTheDeadPublisherLeft) {
    const CrashCase cc = GetParam();
    test::TempQueue a("apc-a", small()), b("apc-b", small(2)), c("apc-c", small());
    ASSERT_TRUE(a->producer().send("before", {.key = "k"}).ok());
    const pid_t child = test::fork_until_stopped([&] {
        test::stop_at(cc.at);
        return publish3(a.name, b.name, c.name, "m").ok() ? 0 : 6;
    });
    if (!cc.committed) {
        auto peek = c->consumer("peek");
        EXPECT_EQ(peek.receive(100ms).code(), Errc::timeout) << "a queue showed the message before the commit point";
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);

    const auto got_a = drain(a.queue, "r", 3000ms);
    const auto got_b = drain(b.queue, "r", cc.committed ? 3000ms : 500ms);
    const auto got_c = drain(c.queue, "r", cc.committed ? 3000ms : 500ms);
    if (cc.committed) {
        EXPECT_EQ(got_a, (std::vector<std::string>{"before", "m"}));
        EXPECT_EQ(got_b, std::vector<std::string>{"m"});
        EXPECT_EQ(got_c, std::vector<std::string>{"m"});
    } else {
        EXPECT_EQ(got_a, std::vector<std::string>{"before"});
        EXPECT_EQ(got_b, std::vector<std::string>{});
        EXPECT_EQ(got_c, std::vector<std::string>{});
    }
    // Every partition is usable again, and the next publish goes through.
    ASSERT_TRUE(publish3(a.name, b.name, c.name, "after").ok());
    EXPECT_EQ(drain(a.queue, "r", 3000ms), std::vector<std::string>{"after"});
    EXPECT_EQ(drain(b.queue, "r", 3000ms), std::vector<std::string>{"after"});
    EXPECT_EQ(drain(c.queue, "r", 3000ms), std::vector<std::string>{"after"});
}

INSTANTIATE_TEST_SUITE_P(
    Points, AtomicPublishCrash,
    testing::Values(CrashCase{CrashPoint::after_copy, false, "midSend"},
                    CrashCase{CrashPoint::after_tx_prepare, false, "beforeTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_commit_point, true, "afterTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_inputs, true, "beforeItsSlotsCommit"}),
    [](const testing::TestParamInfo<CrashCase>& case_info) { return case_info.param.name; });

// Stopped (alive) past its deadline: readers abort it, nothing shows, the
// queues flow again, and the resumed publisher's commit answers timeout.
TEST(AtomicPublishStopped, aStoppedPublisherIsAbortedAfterItsDeadline) {
    test::TempQueue a("aps-a", small(1, 200)), b("aps-b", small());
    const pid_t child = test::fork_until_stopped([&] {
        auto qa = Queue::open(a.name), qb = Queue::open(b.name);
        auto pa = qa.producer(), pb = qb.producer();
        Producer* targets[] = {&pa, &pb};
        test::stop_at(CrashPoint::after_tx_prepare);
        const std::string_view payload = "m";
        return detail::publish_atomically(targets, std::as_bytes(std::span(payload)), {}).code() == Errc::timeout
                   ? 0
                   : 6;
    });
    ASSERT_TRUE(b->producer().send("plain-b").ok());
    EXPECT_EQ(drain(b.queue, "r", 3000ms), std::vector<std::string>{"plain-b"})
        << "a reader of b did not get past the stopped publisher's slot after its deadline";
    EXPECT_EQ(drain(a.queue, "r", 500ms), std::vector<std::string>{});
    ::kill(child, SIGCONT);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the resumed publisher's commit did not answer timeout";
    EXPECT_EQ(drain(a.queue, "r", 300ms), std::vector<std::string>{});
    EXPECT_EQ(drain(b.queue, "r", 300ms), std::vector<std::string>{});
}

}  // namespace
}  // namespace shmq
