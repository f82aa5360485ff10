// Transactions under crashes (shmq/internal/tx_protocol.hpp): a stage
// stopped, then SIGKILLed, mid-send, before its commit point, right after
// it, and between its input ACKs and its outputs. Before the commit point
// its outputs must vanish and its input come back; after it, peers finish
// it: both outputs appear and the input is never redelivered. Also: a
// transaction racing a handoff of its input's partition fails with
// lease_lost, and nothing of it becomes visible.
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
#include "support/stopped_child.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

QueueOptions small(uint32_t partitions = 1) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 64;
    o.lease_ms = 60'000;  // recovery must come from the death, not from a lease running out
    return o;
}

using test::drain;

struct CrashCase {
    CrashPoint at;
    bool committed;  // the commit point was passed before the crash
    const char* name;
};

class TransactionCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(TransactionCrash, peersFinishOrUndoWhatTheDeadStageLeft) {
    const CrashCase cc = GetParam();
    test::TempQueue in("txc-in", small()), a("txc-a", small()), b("txc-b", small(2));
    ASSERT_TRUE(in->producer().send("job", {.key = "k"}).ok());
    const pid_t child = test::fork_until_stopped([&] {
        auto qi = Queue::open(in.name);
        auto qa = Queue::open(a.name);
        auto qb = Queue::open(b.name);
        auto stage = qi.consumer("g", {.kind = GroupKind::exclusive});
        auto pa = qa.producer();
        auto pb = qb.producer();
        Transaction tx(stage);
        auto m = stage.receive(5000ms);
        if (!m) return 3;
        if (!tx.send(pa, "out-a", {.key = m->key()}).ok() || !tx.ack(*m).ok()) return 4;
        test::stop_at(cc.at);
        if (!tx.send(pb, "out-b", {.key = m->key()}).ok()) return 4;
        return tx.commit().ok() ? 0 : 6;
    });
    // Stopped before its commit point: nothing of it is visible. Stopped
    // after it: a reader may already roll it forward (it is committed).
    if (!cc.committed) {
        auto peek = a->consumer("peek");
        EXPECT_EQ(peek.receive(100ms).code(), Errc::timeout) << "an output was visible before the commit point";
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);

    // Peers: a restarted stage (its group reaps the dead member) and readers.
    auto stage = in->consumer("g", {.kind = GroupKind::exclusive});
    auto again = stage.receive(cc.committed ? 1500ms : 5000ms);
    if (cc.committed) {
        EXPECT_FALSE(again) << "the input of a committed transaction was redelivered";
    } else {
        ASSERT_TRUE(again) << "the input of an aborted transaction was not redelivered";
        EXPECT_EQ(again->text(), "job");
        EXPECT_EQ(again->deliveries(), 2u);
        ASSERT_TRUE(again->ack().ok());
    }
    const auto got_a = drain(a.queue, "r", 3000ms);
    const auto got_b = drain(b.queue, "r", cc.committed ? 3000ms : 300ms);
    if (cc.committed) {
        EXPECT_EQ(got_a, std::vector<std::string>{"out-a"});
        EXPECT_EQ(got_b, std::vector<std::string>{"out-b"});
    } else {
        EXPECT_EQ(got_a, std::vector<std::string>{});
        EXPECT_EQ(got_b, std::vector<std::string>{});
    }
    // The partitions are usable again: a plain send after it is delivered.
    ASSERT_TRUE(a->producer().send("after").ok());
    EXPECT_EQ(drain(a.queue, "r", 3000ms), std::vector<std::string>{"after"});
}

INSTANTIATE_TEST_SUITE_P(
    Points, TransactionCrash,
    testing::Values(CrashCase{CrashPoint::after_copy, false, "midSend"},
                    CrashCase{CrashPoint::after_tx_prepare, false, "beforeTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_commit_point, true, "afterTheCommitPoint"},
                    CrashCase{CrashPoint::after_tx_inputs, true, "betweenInputsAndOutputs"}),
    [](const testing::TestParamInfo<CrashCase>& case_info) { return case_info.param.name; });

// A late stopped owner (SIGSTOP, alive): once its timeout passed a peer
// aborts its transaction, the input comes back, and nothing is visible.
TEST(TransactionStopped, aStoppedOwnersTransactionAbortsAfterItsTimeout) {
    test::TempQueue in("txs-in", small()), out("txs-out", small());
    ASSERT_TRUE(in->producer().send("job").ok());
    const pid_t child = test::fork_until_stopped([&] {
        auto qi = Queue::open(in.name);
        auto qo = Queue::open(out.name);
        auto stage = qi.consumer("g");
        auto p = qo.producer();
        Transaction tx(stage, {.timeout = 200ms});
        auto m = stage.receive(5000ms);
        if (!m || !tx.send(p, "out").ok() || !tx.ack(*m).ok()) return 3;
        test::stop_at(CrashPoint::after_tx_prepare);
        return tx.commit().code() == Errc::lease_lost ? 0 : 6;
    });
    auto stage = in->consumer("g");
    auto again = stage.receive(5000ms);
    ASSERT_TRUE(again) << "a stopped owner's transaction was not aborted after its timeout";
    EXPECT_EQ(again->text(), "job");
    ASSERT_TRUE(again->ack().ok());
    EXPECT_EQ(drain(out.queue, "r", 1000ms), std::vector<std::string>{});
    // Resumed, it learns its commit failed (the child exits 0 on lease_lost).
    ::kill(child, SIGCONT);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the resumed owner's commit did not answer lease_lost";
    EXPECT_EQ(drain(out.queue, "r", 300ms), std::vector<std::string>{});
}

// A transaction racing the handoff of its input's partition (an exclusive
// group gains a member): the new owner takes the lease after the grace,
// and the old owner's commit fails with lease_lost; its output never shows.
TEST(TransactionHandoff, aCommitAfterTheInputsPartitionMovedFailsWithLeaseLost) {
    test::TempQueue in("txh-in", small(2)), out("txh-out", small());
    auto feed = in->producer();
    ASSERT_TRUE(feed.send("p0", {.partition = 0u}).ok());
    ASSERT_TRUE(feed.send("p1", {.partition = 1u}).ok());
    auto first = in->consumer("g", {.kind = GroupKind::exclusive});
    auto p = out->producer();
    Transaction tx(first, {.timeout = 60'000ms});
    std::vector<Message> held;
    while (held.size() < 2) {
        auto m = first.receive(2000ms);
        ASSERT_TRUE(m);
        held.push_back(std::move(*m));
    }
    for (auto& m : held) {
        ASSERT_TRUE(tx.send(p, "from-" + std::string(m.text())).ok());
        ASSERT_TRUE(tx.ack(m).ok());
    }
    // A second member joins: one partition moves to it after the grace.
    auto second = in->consumer("g", {.kind = GroupKind::exclusive});
    Result<Message> taken = Errc::timeout;
    for (int i = 0; i < 100 && !taken; ++i) {
        (void)first.receive(0ms);  // the old owner's loop: it hands over what it loses
        taken = second.receive(50ms);
    }
    ASSERT_TRUE(taken) << "the new member never got the partition's message";
    EXPECT_EQ(tx.commit().code(), Errc::lease_lost);
    EXPECT_EQ(drain(out.queue, "r", 300ms), std::vector<std::string>{}) << "an output of the failed commit became visible";
    ASSERT_TRUE(taken->ack().ok());
}

}  // namespace
}  // namespace shmq
