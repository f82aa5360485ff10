// The exclusive producer (ProducerOptions::exclusive, commit_protocol.hpp
// (6)-(8)) and the release-store publish (5): who may write while it lives,
// and what its death at each new crash point leaves behind. Each crash test
// stops a child at the point (a crash hook raising SIGSTOP), SIGKILLs it, and
// checks that every message it published arrives once, in order, the one it
// had not published never does, and the partition goes on.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "shmq/internal/crash_points.hpp"
#include "support/stopped_child.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

TEST(ExclusiveProducerTest, isTheOnlyWriterUntilItCloses) {
    test::TempQueue q("excl");
    auto c = q->consumer("g");
    {
        auto w = q->producer({.exclusive = true});
        ASSERT_TRUE(w.send("one").ok());
        auto shared = q->producer();
        EXPECT_EQ(shared.send("nope").code(), Errc::writer_busy);
        EXPECT_EQ(shared.claim(4).code(), Errc::writer_busy);
        try {
            (void)q->producer({.exclusive = true});
            ADD_FAILURE() << "a second exclusive producer was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::writer_busy);
        }
        ASSERT_TRUE(w.send("two").ok());
        auto claim = w.claim(5);  // zero-copy still works, and may outlive the handle
        ASSERT_TRUE(claim);
        std::memcpy(claim->data().data(), "three", 5);
        w = q->producer();  // the exclusive handle is gone, its claim is not: still exclusive
        EXPECT_EQ(w.send("x").code(), Errc::writer_busy);
        ASSERT_TRUE(claim->commit().ok());
    }
    auto shared = q->producer();  // the role is given back: shared sends continue after it
    ASSERT_TRUE(shared.send("four").ok());
    for (const char* want : {"one", "two", "three", "four"}) {
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m) << want;
        EXPECT_EQ(m->text(), want);
        EXPECT_TRUE(m->ack().ok());
    }
}

TEST(ExclusiveProducerTest, batchesGoOutInOrderAcrossManyLaps) {
    QueueOptions o;
    o.capacity = 64;
    test::TempQueue q("exclbatch", o);
    { auto c = q->consumer("g"); }  // the group exists from offset 0; the child is its only member
    auto w = q->producer({.exclusive = true});
    const pid_t child = ::fork();
    if (child == 0) {
        try {
            auto cq = Queue::open(q.name);
            auto cc = cq.consumer("g");
            for (uint64_t want = 0; want < 20000; ++want) {
                auto m = cc.receive(5000ms);
                if (!m || m->text() != std::to_string(want) || !m->ack().ok()) ::_exit(2);
            }
            ::_exit(0);
        } catch (...) {
            ::_exit(3);
        }
    }
    std::vector<std::string> texts;
    std::vector<std::span<const std::byte>> batch;
    for (uint64_t sent = 0; sent < 20000;) {
        texts.clear();
        batch.clear();
        for (int k = 0; k < 37 && sent + texts.size() < 20000; ++k) texts.push_back(std::to_string(sent + texts.size()));
        for (const auto& t : texts) batch.push_back(std::as_bytes(std::span(t.data(), t.size())));
        const BatchResult r = w.send_batch(batch);
        ASSERT_TRUE(r.ok()) << r.status.message();
        sent += r.count;
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the consumer saw a gap, a repeat or a reorder";
}

// The child: an exclusive producer that sends "0".."n-1", then stops at
// `at` during the next send (or batch of `batch`), to be killed there.
pid_t fork_stopped_sender(const std::string& name, CrashPoint at, int n, int batch) {
    return test::fork_until_stopped([&] {
        auto q = Queue::open(name);
        auto p = q.producer({.exclusive = true});
        for (int i = 0; i < n; ++i)
            if (!p.send(std::to_string(i)).ok()) return 3;
        test::stop_at(at);
        std::vector<std::string> texts(static_cast<std::size_t>(batch), "unpublished");
        std::vector<std::span<const std::byte>> spans;
        for (const auto& t : texts) spans.push_back(std::as_bytes(std::span(t.data(), t.size())));
        if (batch == 1) (void)p.send("unpublished");
        else (void)p.send_batch(spans);
        return 4;  // never continued
    });
}

struct CrashCase {
    CrashPoint at;
    int batch;
    const char* label;
};

class ExclusiveProducerCrash : public testing::TestWithParam<CrashCase> {};

TEST_P(ExclusiveProducerCrash, killedWriterLosesNothingPublishedAndTheNextWriterGoesOn) {
    QueueOptions o;
    o.lease_ms = 200;  // consumers scan every 50 ms: they find the dead claim at their cursor
    test::TempQueue q("exclcrash", o);
    auto c = q->consumer("g");
    const pid_t child = fork_stopped_sender(q.name, GetParam().at, 5, GetParam().batch);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    for (int i = 0; i < 5; ++i) {
        auto m = c.receive(2000ms);
        ASSERT_TRUE(m) << i << ": " << to_string(m.code());
        EXPECT_EQ(m->text(), std::to_string(i));
        EXPECT_TRUE(m->ack().ok());
    }
    // The next writer: another exclusive producer reaps the dead holder and
    // takes the role; what it sends comes after the aborted slot(s).
    auto w = q->producer({.exclusive = true});
    ASSERT_TRUE(w.send("after").ok());
    auto m = c.receive(2000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "after") << "an unpublished message was delivered";
    EXPECT_EQ(m->offset(), 5u + static_cast<uint64_t>(GetParam().batch));  // the dead claims were aborted, not reused
    EXPECT_TRUE(m->ack().ok());
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout);
}

INSTANTIATE_TEST_SUITE_P(
    Points, ExclusiveProducerCrash,
    testing::Values(CrashCase{CrashPoint::after_claim_word, 1, "betweenClaimWordAndTail"},
                    CrashCase{CrashPoint::after_copy, 1, "betweenCopyAndPublish"},
                    CrashCase{CrashPoint::after_claim_word, 8, "batchBetweenClaimWordsAndTail"},
                    CrashCase{CrashPoint::after_copy, 8, "batchBetweenCopyAndPublish"}),
    [](const testing::TestParamInfo<CrashCase>& case_info) { return std::string(case_info.param.label); });

TEST(SharedProducerCrash, killedBetweenCopyAndReleaseStoreIsAbortedNotLost) {
    QueueOptions o;
    o.lease_ms = 200;
    test::TempQueue q("sharedcrash", o);
    auto c = q->consumer("g");
    const pid_t pid = ::fork();
    if (pid == 0) {
        try {
            auto cq = Queue::open(q.name);
            auto p = cq.producer();
            if (!p.send("0").ok()) ::_exit(3);
            detail::crash_hook = [](CrashPoint here) {
                if (here == CrashPoint::after_copy) ::raise(SIGSTOP);
            };
            (void)p.send("unpublished");
            ::_exit(4);
        } catch (...) {
            ::_exit(5);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, WUNTRACED);
    ASSERT_TRUE(WIFSTOPPED(status));
    auto p = q->producer();
    ASSERT_TRUE(p.send("2").ok());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    for (const char* want : {"0", "2"}) {
        auto m = c.receive(2000ms);
        ASSERT_TRUE(m) << want;
        EXPECT_EQ(m->text(), want);
        EXPECT_TRUE(m->ack().ok());
    }
}

}  // namespace
}  // namespace shmq
