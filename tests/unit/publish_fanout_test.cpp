// shmq::Publisher with several targets per publish: all or nothing, each
// queue once.
#include <gtest/gtest.h>

#include "shmq/shmq.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using test::TempExchange;
using test::TempQueue;
using xlayout::ExchangeType;
using Texts = std::vector<std::string>;

QueueOptions small_queue(OnFull on_full = OnFull::block, uint32_t capacity = 16) {
    QueueOptions o;
    o.capacity = capacity;
    o.max_message = 64;
    o.max_participants = 8;
    o.on_full = on_full;
    return o;
}

// Every message waiting in `queue`, taken by a fresh group.
Texts drain(const std::string& queue) {
    auto q = Queue::open(queue);
    ConsumerOptions o;
    o.at_most_once = true;
    auto c = q.consumer("check", o);
    Texts out;
    for (;;) {
        auto m = c.receive(Millis(0));
        if (!m) break;
        out.emplace_back(m->text());
    }
    return out;
}

// Fills `queue` (capacity 2) through a producer of its own.
void fill(Queue& queue) {
    auto p = queue.producer();
    ASSERT_TRUE(p.send("f1").ok());
    ASSERT_TRUE(p.send("f2").ok());
}

TEST(PublishFanoutTest, fanoutToThreeQueuesDeliversToEachExactlyOnce) {
    TempQueue a("ffa", small_queue()), b("ffb", small_queue()), c("ffc", small_queue());
    TempExchange x("ffan", ExchangeType::fanout);
    for (auto* q : {&a, &b, &c}) x->bind(test::to_queue(q->name));
    auto pub = Publisher::open(x.name);
    PublishOutcome out;
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("m1", 2)), {.key = "k"}, out).ok());
    EXPECT_EQ(out.queues, 3u);
    EXPECT_FALSE(out.to_alternate);
    ASSERT_TRUE(pub.publish("m2").ok());
    for (auto* q : {&a, &b, &c}) EXPECT_EQ(drain(q->name), (Texts{"m1", "m2"})) << q->name;
    EXPECT_EQ(x->counters_guess().routed, 2u);
}

TEST(PublishFanoutTest, aQueueReachedByTwoBindingsGetsTheMessageOnce) {
    TempQueue twice("fftwice", small_queue()), once("ffonce", small_queue());
    TempExchange x("fftop", ExchangeType::topic);
    x->bind(test::to_queue(twice.name, "a.*"));
    x->bind(test::to_queue(twice.name, "#"));
    x->bind(test::to_queue(once.name, "a.b"));
    auto pub = Publisher::open(x.name);
    PublishOutcome out;
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("m", 1)), {.routing_key = "a.b"}, out).ok());
    EXPECT_EQ(out.queues, 2u);
    EXPECT_EQ(drain(twice.name), (Texts{"m"}));
    EXPECT_EQ(drain(once.name), (Texts{"m"}));
}

TEST(PublishFanoutTest, aFullRejectingTargetFailsTheWholePublish) {
    TempQueue ok_q("ffok", small_queue()), full("fffull", small_queue(OnFull::reject, 2));
    fill(full.queue);
    TempExchange x("ffrej", ExchangeType::fanout);
    x->bind(test::to_queue(ok_q.name));
    x->bind(test::to_queue(full.name));
    auto pub = Publisher::open(x.name);
    PublishOutcome out;
    EXPECT_EQ(pub.publish(std::as_bytes(std::span("m", 1)), {}, out).code(), Errc::overloaded);
    EXPECT_EQ(out.queues, 0u);
    EXPECT_EQ(drain(ok_q.name), Texts{});                  // not in the queue that had room
    EXPECT_EQ(drain(full.name), (Texts{"f1", "f2"}));       // nor in the full one
    EXPECT_EQ(x->counters_guess().routed, 0u);
}

TEST(PublishFanoutTest, aFullBlockingTargetTimesOutWithNothingVisible) {
    TempQueue ok_q("ffok2", small_queue()), full("ffblock", small_queue(OnFull::block, 2));
    fill(full.queue);
    TempExchange x("ffblk", ExchangeType::fanout);
    x->bind(test::to_queue(ok_q.name));
    x->bind(test::to_queue(full.name));
    auto pub = Publisher::open(x.name);
    EXPECT_EQ(pub.publish("m", {.timeout = Millis(50)}).code(), Errc::timeout);
    EXPECT_EQ(drain(ok_q.name), Texts{});
    EXPECT_EQ(drain(full.name), (Texts{"f1", "f2"}));
}

}  // namespace
}  // namespace shmq
