// One message into several queues at once (tx/atomic_publish.hpp): every
// queue shows it exactly once or none does; a full target fails the whole
// publish and holds nothing up; arguments it cannot keep atomic are refused.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "support/drain.hpp"
#include "support/temp_queue.hpp"
#include "tx/atomic_publish.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

QueueOptions small(uint32_t partitions = 1, OnFull on_full = OnFull::block, uint32_t capacity = 64) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = capacity;
    o.on_full = on_full;
    return o;
}

std::vector<std::string> drain(Queue& q, const char* group) { return test::drain(q, group, 200ms, 100ms); }

Status publish(std::vector<Producer*> targets, std::string_view payload, const SendOptions& options = {}) {
    return detail::publish_atomically(targets, std::as_bytes(std::span(payload)), options);
}

TEST(AtomicPublishTest, everyQueueGetsEachMessageOnceInOrderPerKey) {
    TempQueue a("apub-a", small()), b("apub-b", small(4)), c("apub-c", small(2));
    auto pa = a->producer(), pb = b->producer(), pc = c->producer();
    std::vector<std::string> sent;
    for (int i = 0; i < 40; ++i) {  // with plain sends into a between them
        sent.push_back("m" + std::to_string(i));
        ASSERT_TRUE(publish({&pa, &pb, &pc}, sent.back(), {.key = "k"}).ok()) << i;
        if (i % 8 == 0) {
            ASSERT_TRUE(pa.send("plain").ok());
            sent.push_back("plain");
        }
        if (i == 19) {
            EXPECT_EQ(drain(a.queue, "g"), sent) << "the first half in a";
            sent.clear();
        }
    }
    EXPECT_EQ(drain(a.queue, "g"), sent);
    std::vector<std::string> expected;
    for (int i = 0; i < 40; ++i) expected.push_back("m" + std::to_string(i));
    EXPECT_EQ(drain(b.queue, "g"), expected) << "one key: one partition, in order";
    EXPECT_EQ(drain(c.queue, "g"), expected);
    // The publisher's own records are free again: a Transaction may use them.
    auto in = a->producer();
    ASSERT_TRUE(in.send("job").ok());
}

TEST(AtomicPublishTest, aRejectingFullTargetFailsTheWholePublishAndHoldsNothingUp) {
    TempQueue a("apub-ra", small()), full("apub-rf", small(1, OnFull::reject, 8)), c("apub-rc", small());
    auto pa = a->producer(), pf = full->producer(), pc = c->producer();
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pf.send("fill").ok());
    EXPECT_EQ(publish({&pa, &pf, &pc}, "x").code(), Errc::overloaded);
    EXPECT_EQ(publish({&pa, &pc, &pf}, "y").code(), Errc::overloaded) << "the full queue last: a and c were claimed";
    // Neither a nor c shows anything, and neither is held at an aborted slot.
    ASSERT_TRUE(pa.send("after-a").ok());
    ASSERT_TRUE(pc.send("after-c").ok());
    EXPECT_EQ(drain(a.queue, "g"), std::vector<std::string>{"after-a"});
    EXPECT_EQ(drain(c.queue, "g"), std::vector<std::string>{"after-c"});
    EXPECT_EQ(drain(full.queue, "g").size(), 8u);
    ASSERT_TRUE(publish({&pa, &pf, &pc}, "z").ok()) << "room again";
    EXPECT_EQ(drain(a.queue, "g"), std::vector<std::string>{"z"});
    EXPECT_EQ(drain(full.queue, "g"), std::vector<std::string>{"z"});
    EXPECT_EQ(drain(c.queue, "g"), std::vector<std::string>{"z"});
}

TEST(AtomicPublishTest, aBlockingFullTargetTimesOutWithNothingVisible) {
    TempQueue a("apub-ba", small()), full("apub-bf", small(1, OnFull::block, 8));
    auto pa = a->producer(), pf = full->producer();
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pf.send("fill").ok());
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(publish({&pa, &pf}, "x", {.timeout = 100ms}).code(), Errc::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
    EXPECT_EQ(drain(a.queue, "g"), std::vector<std::string>{});
    ASSERT_TRUE(pa.send("after").ok());
    EXPECT_EQ(drain(a.queue, "g"), std::vector<std::string>{"after"});
}

TEST(AtomicPublishTest, refusesWhatItCannotKeepAtomic) {
    TempQueue a("apub-xa", small(2)), b("apub-xb", small());
    auto pa = a->producer(), pa2 = a->producer(), pb = b->producer();
    EXPECT_EQ(publish({&pa, &pa2}, "twice into a").code(), Errc::invalid_argument);
    EXPECT_EQ(publish({&pa, &pb}, "x", {.partition = 1}).code(), Errc::invalid_argument);
    EXPECT_EQ(publish({&pa, &pb}, "x", {.dedup_id = "id"}).code(), Errc::invalid_argument);
    EXPECT_EQ(publish({}, "x").code(), Errc::invalid_argument);
    EXPECT_EQ(drain(a.queue, "g"), std::vector<std::string>{});
    EXPECT_EQ(drain(b.queue, "g"), std::vector<std::string>{});
    // A producer already in an open Transaction cannot be a target meanwhile.
    ASSERT_TRUE(pb.send("job").ok());
    auto stage = b->consumer("stage");
    Transaction tx(stage);
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(pa, "from-tx").ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    EXPECT_EQ(publish({&pa, &pb}, "busy").code(), Errc::invalid_argument);
    ASSERT_TRUE(tx.commit().ok());
    ASSERT_TRUE(publish({&pa, &pb}, "free").ok());
    EXPECT_EQ(drain(a.queue, "g"), (std::vector<std::string>{"from-tx", "free"}));
}

}  // namespace
}  // namespace shmq
