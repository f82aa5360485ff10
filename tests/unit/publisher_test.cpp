// shmq::Publisher with one target per publish: routing by each exchange type,
// the alternate queue, deleted and recreated queues, counters, and binds
// taking effect for the next publish. (Several targets: publish_fanout_test.cpp.)
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "shmq/shmq.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using test::TempExchange;
using test::TempQueue;
using xlayout::ExchangeType;

QueueOptions small_queue() {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 64;
    o.max_participants = 8;
    return o;
}

// Every message waiting in `queue`, taken by a fresh group.
std::vector<std::string> drain(const std::string& queue) {
    auto q = Queue::open(queue);
    ConsumerOptions o;
    o.at_most_once = true;
    auto c = q.consumer("check", o);
    std::vector<std::string> out;
    for (;;) {
        auto m = c.receive(Millis(0));
        if (!m) break;
        out.emplace_back(m->text());
    }
    return out;
}

using Texts = std::vector<std::string>;

TEST(PublisherTest, directSendsToTheQueueBoundToTheKey) {
    TempQueue a("pa", small_queue()), b("pb", small_queue());
    TempExchange x("pdir", ExchangeType::direct);
    x->bind(test::to_queue(a.name, "red"));
    const uint64_t v = x->bind(test::to_queue(b.name, "blue")).version;
    auto pub = Publisher::open(x.name);
    EXPECT_EQ(pub.exchange(), x.name);
    PublishOutcome out;
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("one", 3)), {.routing_key = "red", .key = "k1"}, out).ok());
    EXPECT_EQ(out.queues, 1u);
    EXPECT_EQ(out.table_version, v);
    EXPECT_FALSE(out.to_alternate);
    ASSERT_TRUE(pub.publish("two", {.routing_key = "blue"}).ok());
    ASSERT_TRUE(pub.publish("three", {.routing_key = "red"}).ok());  // the cached route
    EXPECT_EQ(drain(a.name), (Texts{"one", "three"}));
    EXPECT_EQ(drain(b.name), (Texts{"two"}));
}

TEST(PublisherTest, topicHashMatchesZeroOrMoreWords) {
    TempQueue q("ptop", small_queue());
    TempExchange x("ptopic", ExchangeType::topic);
    x->bind(test::to_queue(q.name, "eu.#"));
    auto pub = Publisher::open(x.name);
    EXPECT_TRUE(pub.publish("zero", {.routing_key = "eu"}).ok());  // '#' matches zero words
    EXPECT_TRUE(pub.publish("two", {.routing_key = "eu.de.orders"}).ok());
    EXPECT_EQ(pub.publish("none", {.routing_key = "us.ny"}).code(), Errc::unroutable);
    EXPECT_EQ(drain(q.name), (Texts{"zero", "two"}));
}

TEST(PublisherTest, headersMatchAllOrAny) {
    TempQueue all_q("phall", small_queue()), any_q("phany", small_queue());
    TempExchange x("phdr", ExchangeType::headers);
    detail::Binding all_b = test::to_queue(all_q.name);
    all_b.match = xlayout::HeaderMatch::all;
    all_b.headers = {{"format", "pdf"}, {"lang", "en"}};
    x->bind(all_b);
    detail::Binding any_b = test::to_queue(any_q.name);
    any_b.match = xlayout::HeaderMatch::any;
    any_b.headers = {{"format", "png"}, {"size", "big"}};
    x->bind(any_b);
    auto pub = Publisher::open(x.name);
    const std::vector<MessageHeader> pdf_en{{"format", "pdf"}, {"lang", "en"}}, png{{"format", "png"}},
        pdf{{"format", "pdf"}};
    EXPECT_TRUE(pub.publish("both", {.headers = pdf_en}).ok());
    EXPECT_TRUE(pub.publish("one", {.headers = png}).ok());
    EXPECT_EQ(pub.publish("half", {.headers = pdf}).code(), Errc::unroutable);  // all needs lang too
    EXPECT_EQ(drain(all_q.name), (Texts{"both"}));
    EXPECT_EQ(drain(any_q.name), (Texts{"one"}));
}

TEST(PublisherTest, fanoutIgnoresTheRoutingKey) {
    TempQueue q("pfan", small_queue());
    TempExchange x("pfanout", ExchangeType::fanout);
    x->bind(test::to_queue(q.name));
    auto pub = Publisher::open(x.name);
    EXPECT_TRUE(pub.publish("a", {.routing_key = "whatever"}).ok());
    EXPECT_TRUE(pub.publish("b").ok());
    EXPECT_EQ(drain(q.name), (Texts{"a", "b"}));
}

TEST(PublisherTest, unroutableGoesToTheAlternateOrNowhere) {
    TempQueue q("pq", small_queue()), alt("palt", small_queue());
    TempExchange with_alt("pwith", ExchangeType::direct, alt.name), without("pwithout", ExchangeType::direct);
    with_alt->bind(test::to_queue(q.name, "a"));
    without->bind(test::to_queue(q.name, "a"));

    auto p1 = Publisher::open(with_alt.name);
    PublishOutcome out;
    ASSERT_TRUE(p1.publish(std::as_bytes(std::span("lost?", 5)), {.routing_key = "b"}, out).ok());
    EXPECT_TRUE(out.to_alternate);
    EXPECT_EQ(out.queues, 1u);
    EXPECT_EQ(with_alt->counters_guess().unroutable, 1u);
    EXPECT_EQ(with_alt->counters_guess().routed, 0u);

    auto p2 = Publisher::open(without.name);
    const Status st = p2.publish(std::as_bytes(std::span("gone", 4)), {.routing_key = "b"}, out);
    EXPECT_EQ(st.code(), Errc::unroutable);
    EXPECT_STREQ(st.message(), "no binding matched and the exchange has no alternate queue");
    EXPECT_EQ(out.queues, 0u);
    EXPECT_FALSE(out.to_alternate);
    EXPECT_EQ(without->counters_guess().unroutable, 1u);

    EXPECT_EQ(drain(alt.name), (Texts{"lost?"}));  // "gone" went nowhere
    EXPECT_EQ(drain(q.name), Texts{});
}

TEST(PublisherTest, aBindingToADeletedQueueIsSkippedAndCountsUnroutable) {
    TempQueue live("plive", small_queue());
    auto doomed = std::make_unique<TempQueue>("pdoomed", small_queue());
    TempExchange x("pskip", ExchangeType::direct);
    x->bind(test::to_queue(doomed->name, "k"));
    x->bind(test::to_queue(live.name, "k2"));
    auto pub = Publisher::open(x.name);
    ASSERT_TRUE(pub.publish("before", {.routing_key = "k"}).ok());
    EXPECT_EQ(x->counters_guess().routed, 1u);
    doomed.reset();  // removes the queue; its binding stays
    EXPECT_EQ(pub.publish("after", {.routing_key = "k"}).code(), Errc::unroutable);
    EXPECT_EQ(x->counters_guess().unroutable, 1u);
    EXPECT_EQ(x->counters_guess().routed, 1u);
    EXPECT_TRUE(pub.publish("other", {.routing_key = "k2"}).ok());  // other bindings still route
    EXPECT_EQ(x->counters_guess().routed, 2u);
    EXPECT_EQ(drain(live.name), (Texts{"other"}));
}

// Each Publisher counts its routed publishes in a cell of its own, owned
// through a lock byte (no RMW per publish); past the 24 cells publishers
// share the exchange's counter. The total is exact either way; a SIGKILLed
// publisher's count stays in it, and the kernel frees its cell for the next.
TEST(PublisherTest, routedCountsStayExactPastTheCellsAndThroughAPublishersDeath) {
    QueueOptions o = small_queue();
    o.capacity = 256;
    o.max_participants = 64;
    TempQueue q("pcount", o);
    TempExchange x("pcount", ExchangeType::fanout);
    x->bind(test::to_queue(q.name));
    uint64_t sent = 0;
    {
        std::vector<Publisher> pubs;
        for (uint32_t i = 0; i < xlayout::kPublisherCounts + 6; ++i) pubs.push_back(Publisher::open(x.name));
        for (int round = 0; round < 3; ++round)
            for (auto& p : pubs) {
                ASSERT_TRUE(p.publish("m").ok());
                ++sent;
            }
        EXPECT_EQ(x->counters_guess().routed, sent);
    }
    const pid_t child = ::fork();
    if (child == 0) {
        auto p = Publisher::open(x.name);
        for (int i = 0; i < 7; ++i)
            if (!p.publish("m").ok()) ::_exit(1);
        ::raise(SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(x->counters_guess().routed, sent + 7) << "the dead publisher's count is kept";
    std::vector<std::shared_ptr<detail::ExchangeTable>> holders;
    for (uint32_t i = 0; i < xlayout::kPublisherCounts; ++i) {
        holders.push_back(detail::ExchangeTable::open(x.name));
        EXPECT_NE(holders.back()->take_publisher_count(), nullptr) << "cell " << i << " was not freed";
    }
    holders.push_back(detail::ExchangeTable::open(x.name));
    EXPECT_EQ(holders.back()->take_publisher_count(), nullptr) << "only 24 cells";
    EXPECT_EQ(drain(q.name).size(), sent + 7);
}

TEST(PublisherTest, countsRoutedAndUnroutablePublishes) {
    TempQueue q("pcount", small_queue());
    TempExchange x("pcnt", ExchangeType::direct);
    x->bind(test::to_queue(q.name, "k"));
    auto pub = Publisher::open(x.name);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub.publish("m", {.routing_key = "k"}).ok());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pub.publish("m", {.routing_key = "x"}).code(), Errc::unroutable);
    EXPECT_EQ(x->counters_guess().routed, 5u);
    EXPECT_EQ(x->counters_guess().unroutable, 3u);
    // A failed publish that matched reaches nothing: not counted as routed.
    EXPECT_EQ(pub.publish(std::string(65, 'x'), {.routing_key = "k"}).code(), Errc::message_too_large);
    EXPECT_EQ(x->counters_guess().routed, 5u);
    // Bad input is refused before routing: counted nowhere.
    EXPECT_EQ(pub.publish("m", {.routing_key = std::string(256, 'k')}).code(), Errc::invalid_argument);
    EXPECT_EQ(x->counters_guess().unroutable, 3u);
}

TEST(PublisherTest, aQueueRecreatedUnderACachedProducerGetsTheNextPublish) {
    const QueueOptions o = small_queue();
    TempQueue q("precreate", o);
    TempExchange x("prec", ExchangeType::direct);
    x->bind(test::to_queue(q.name, "k"));
    auto pub = Publisher::open(x.name);
    ASSERT_TRUE(pub.publish("old", {.routing_key = "k"}).ok());  // opens and caches a producer
    Queue::remove(q.name);
    q.queue = Queue::create(q.name, o);  // same name, a new region; the binding names it
    PublishOutcome out;
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("new", 3)), {.routing_key = "k"}, out).ok());
    EXPECT_EQ(out.queues, 1u);
    EXPECT_EQ(drain(q.name), (Texts{"new"}));
}

TEST(PublisherTest, aQueueRecreatedAfterItsBindingWasSkippedIsReachedAgain) {
    const QueueOptions o = small_queue();
    auto q = std::make_unique<TempQueue>("pback", o);
    const std::string name = q->name;
    TempExchange x("pbk", ExchangeType::direct);
    x->bind(test::to_queue(name, "k"));
    auto pub = Publisher::open(x.name);
    q.reset();
    EXPECT_EQ(pub.publish("m", {.routing_key = "k"}).code(), Errc::unroutable);  // skipped, and remembered
    EXPECT_EQ(pub.publish("m2", {.routing_key = "k"}).code(), Errc::unroutable);  // the remembered route
    Queue::create(name, o);  // the skipped destination comes back; the table did not change
    EXPECT_TRUE(pub.publish("m3", {.routing_key = "k"}).ok());
    EXPECT_EQ(drain(name), (Texts{"m3"}));
    Queue::remove(name);
}

TEST(PublisherTest, bindAndUnbindTakeEffectForTheNextPublish) {
    TempQueue q("pbind", small_queue());
    TempExchange x("pbnd", ExchangeType::direct);
    auto pub = Publisher::open(x.name);
    PublishOutcome out;
    const auto bytes = std::as_bytes(std::span("m", 1));
    EXPECT_EQ(pub.publish(bytes, {.routing_key = "k"}, out).code(), Errc::unroutable);
    const uint64_t v1 = out.table_version;
    EXPECT_GE(v1, 1u);
    const uint64_t v2 = x->bind(test::to_queue(q.name, "k")).version;
    ASSERT_TRUE(pub.publish(bytes, {.routing_key = "k"}, out).ok());
    EXPECT_EQ(out.table_version, v2);
    EXPECT_GT(v2, v1);
    const uint64_t v3 = x->unbind(xlayout::DestKind::queue, q.name, "k");
    EXPECT_EQ(pub.publish(bytes, {.routing_key = "k"}, out).code(), Errc::unroutable);
    EXPECT_EQ(out.table_version, v3);
    EXPECT_EQ(drain(q.name), (Texts{"m"}));
}

TEST(PublisherTest, throughABoundExchangeAndAfterDeletion) {
    TempQueue q("pdown", small_queue());
    TempExchange up("pup", ExchangeType::fanout), down("pdn", ExchangeType::direct);
    up->bind(test::to_exchange(down.name));
    auto pub = Publisher::open(up.name);
    EXPECT_EQ(pub.publish("m", {.routing_key = "k"}).code(), Errc::unroutable);
    down->bind(test::to_queue(q.name, "k"));  // a downstream table's change is seen too
    EXPECT_TRUE(pub.publish("m", {.routing_key = "k"}).ok());
    EXPECT_EQ(drain(q.name), (Texts{"m"}));
    detail::ExchangeTable::remove(up.name);
    EXPECT_EQ(pub.publish("m", {.routing_key = "k"}).code(), Errc::not_found);
}

TEST(PublisherTest, openRefusesAMissingExchange) {
    try {
        (void)Publisher::open(test::unique_queue_name("nope"));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
}

}  // namespace
}  // namespace shmq
