// All-or-nothing publishes and transactions whose target spills to disk
// (on_full=spill): a claim that finds the ring full is prepared in staging,
// and shmqd (a thread here: support/spill_thread.hpp) drains it only once
// its transaction committed; an aborted one it passes over. The crash cases
// kill the publisher around its commit point with its claim in staging.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "shmq/internal/crash_points.hpp"
#include "support/drain.hpp"
#include "support/scale.hpp"
#include "support/spill_thread.hpp"
#include "support/stopped_child.hpp"
#include "support/temp_queue.hpp"
#include "tx/atomic_publish.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

QueueOptions spilling(uint32_t capacity, uint32_t spill_buffer) {
    QueueOptions o;
    o.capacity = capacity;
    o.max_message = 32;
    o.on_full = OnFull::spill;
    o.spill_buffer = spill_buffer;
    o.fsync = Fsync::never;
    o.lease_ms = 60'000;  // recovery must come from deaths, not deadlines
    return o;
}

QueueOptions plain(uint32_t capacity, OnFull on_full = OnFull::block) {
    QueueOptions o;
    o.capacity = capacity;
    o.max_message = 32;
    o.on_full = on_full;
    o.lease_ms = 60'000;
    return o;
}

Status publish(std::vector<Producer*> targets, std::string_view payload) {
    return detail::publish_atomically(targets, std::as_bytes(std::span(payload)), {});
}

// Every message of `q` (one partition) for group "g", until `n` or a quiet second.
std::vector<std::string> take(const std::string& queue, std::size_t n) {
    Queue q = Queue::open(queue);
    Consumer c = q.consumer("g", {.kind = GroupKind::exclusive});
    std::vector<std::string> got;
    auto quiet_since = std::chrono::steady_clock::now();
    while (got.size() < n && std::chrono::steady_clock::now() - quiet_since < 5s) {
        auto m = c.receive(50ms);
        if (!m) continue;
        got.emplace_back(m->text());
        EXPECT_TRUE(m->ack().ok());
        quiet_since = std::chrono::steady_clock::now();
    }
    return got;
}

// A publisher against a 16-slot spilling queue s, a plain queue b and a full
// rejecting queue f: each publish into {s, b} (either order) lands in both,
// in publish order; each into {s, f} fails with nothing in s, although its
// claim in s (ring or staging) was made first.
TEST(SpillPublishTest, aSpillingTargetAcceptsAndAnAbortedStagedClaimIsPassedOver) {
    test::TempQueue s("spub-s", spilling(16, 64)), b("spub-b", plain(64)), f("spub-f", plain(8, OnFull::reject));
    auto pf = f->producer();
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pf.send("fill").ok());
    test::SpillThread daemon(s.name);
    const uint64_t n = test::scaled(4000, 400);
    std::vector<std::string> expected;
    for (uint64_t i = 0; i < n; ++i)
        if (i % 5 != 2) expected.push_back(std::to_string(i));
    std::vector<std::string> got_s, got_b;
    std::thread read_s([&] { got_s = take(s.name, expected.size()); });
    std::thread read_b([&] { got_b = take(b.name, expected.size()); });
    auto ps = s->producer(), pb = b->producer();
    uint64_t refused = 0;
    for (uint64_t i = 0; i < n; ++i) {
        const std::string m = std::to_string(i);
        if (i % 5 == 2) {
            EXPECT_EQ(publish({&ps, &pf}, m).code(), Errc::overloaded) << i;
            ++refused;
        } else {
            ASSERT_TRUE(publish(i % 2 ? std::vector<Producer*>{&ps, &pb} : std::vector<Producer*>{&pb, &ps}, m).ok())
                << i;
        }
    }
    read_s.join();
    read_b.join();
    EXPECT_EQ(got_s, expected) << "s: each committed publish once, in order, and no aborted one";
    EXPECT_EQ(got_b, expected);
    EXPECT_GT(layout::spill_seq(daemon.region().partition(0).spill_tail.load()), 0u) << "s never staged a claim";
    EXPECT_GT(refused, 0u);
}

struct CrashCase {
    CrashPoint at;
    bool committed;    // the commit point was passed before the crash
    bool spill_first;  // the spilling queue holds the coordinator record
    const char* name;
};

class SpillPublishCrash : public testing::TestWithParam<CrashCase> {};

// s's ring is full and no shmqd runs, so the publisher's claim in s is
// staged; it is killed; readers of b and of s (their periodic resolve) finish
// or undo the transaction, and then shmqd's spill work drains s.
TEST_P(SpillPublishCrash, aDeadPublishersStagedClaimFollowsItsTransaction) {
    const CrashCase cc = GetParam();
    test::TempQueue s("spc-s", spilling(4, 16)), b("spc-b", plain(64));
    {
        auto ps = s->producer();
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(ps.send("fill").ok());
    }
    const pid_t child = test::fork_until_stopped([&] {
        test::stop_at(cc.at);
        auto qs = Queue::open(s.name), qb = Queue::open(b.name);
        auto ps = qs.producer(), pb = qb.producer();
        return publish(cc.spill_first ? std::vector<Producer*>{&ps, &pb} : std::vector<Producer*>{&pb, &ps}, "m").ok()
                   ? 0
                   : 6;
    });
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    const auto got_b = test::drain(b.queue, "r", cc.committed ? 3000ms : 500ms);
    test::SpillThread daemon(s.name);
    const auto got_s = test::drain(s.queue, "r", 3000ms, cc.committed ? 1500ms : 500ms);
    std::vector<std::string> want_s(4, "fill");
    if (cc.committed) want_s.push_back("m");
    EXPECT_EQ(got_s, want_s);
    EXPECT_EQ(got_b, cc.committed ? std::vector<std::string>{"m"} : std::vector<std::string>{});
    // Both queues flow again.
    auto ps = s->producer(), pb = b->producer();
    ASSERT_TRUE(publish({&ps, &pb}, "after").ok());
    EXPECT_EQ(test::drain(s.queue, "r", 3000ms), std::vector<std::string>{"after"});
    EXPECT_EQ(test::drain(b.queue, "r", 3000ms), std::vector<std::string>{"after"});
}

INSTANTIATE_TEST_SUITE_P(
    Points, SpillPublishCrash,
    testing::Values(CrashCase{CrashPoint::after_tx_prepare, false, false, "beforeTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_prepare, false, true, "beforeTheCommitPointCoordinatorSpilling"},
                    CrashCase{CrashPoint::after_tx_commit_point, true, false, "afterTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_commit_point, true, true, "afterTheCommitPointCoordinatorSpilling"}),
    [](const testing::TestParamInfo<CrashCase>& case_info) { return case_info.param.name; });

}  // namespace
}  // namespace shmq
