// Deduplicated publishing in one process: duplicates and their outcome, the
// window, a full table, content ids, and what consumers see.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <vector>
#include <string>
#include <thread>

#include "shmq/internal/carried_send.hpp"
#include "shmq/shmq.h"
#include "shmq/internal/dedup.hpp"
#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/region.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

QueueOptions dedup_options(uint32_t window_ms, uint32_t capacity = 0, bool content = false) {
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 64;
    o.dedup_window_ms = window_ms;
    o.dedup_capacity = capacity;
    o.dedup_content = content;
    return o;
}

TEST(DedupTest, aDuplicateIsNotEnqueuedAndNamesTheOriginal) {
    TempQueue q("dedup-basic", dedup_options(60'000));
    auto p = q.queue.producer();
    SendOutcome first, again, other;
    ASSERT_TRUE(p.send("charge Evan $50", {.key = "evan", .dedup_id = "pay-1"}, first).ok());
    EXPECT_FALSE(first.duplicate);
    ASSERT_TRUE(p.send("charge Evan $50", {.key = "evan", .dedup_id = "pay-1"}, again).ok());
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.partition, first.partition);
    EXPECT_EQ(again.offset, first.offset);
    ASSERT_TRUE(p.send("charge Ann $5", {.key = "evan", .dedup_id = "pay-2"}, other).ok());
    EXPECT_FALSE(other.duplicate);
    EXPECT_EQ(other.offset, first.offset + 1);

    auto c = q.queue.consumer("g");
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->text(), "charge Evan $50");
    EXPECT_EQ(m->dedup_id(), "pay-1");
    ASSERT_TRUE(m->ack().ok());
    auto m2 = c.receive(1000ms);
    ASSERT_TRUE(m2.ok());
    EXPECT_EQ(m2->dedup_id(), "pay-2");
    ASSERT_TRUE(m2->ack().ok());
    EXPECT_EQ(c.receive(50ms).code(), Errc::timeout);
    auto r = detail::Region::open(q.name);
    EXPECT_EQ(r->partition(first.partition).duplicates.load(), 1u);
}

TEST(DedupTest, sendsWithoutAnIdAreNotDeduplicatedAndCarryNone) {
    TempQueue q("dedup-noid", dedup_options(60'000));
    auto p = q.queue.producer();
    ASSERT_TRUE(p.send("x", {.partition = 0, .dedup_id = "id"}).ok());
    ASSERT_TRUE(p.send("x", {.partition = 0}).ok());
    ASSERT_TRUE(p.send("x", {.partition = 0}).ok());
    auto c = q.queue.consumer("g");
    std::multiset<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m.ok());
        ids.insert(std::string(m->dedup_id()));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(ids.count(""), 2u);
    EXPECT_EQ(ids.count("id"), 1u);
}

TEST(DedupTest, anIdIsAcceptedAgainOnceTheWindowHasPassed) {
    TempQueue q("dedup-window", dedup_options(200));
    auto p = q.queue.producer();
    SendOutcome o;
    ASSERT_TRUE(p.send("a", {.dedup_id = "w"}, o).ok());
    ASSERT_FALSE(o.duplicate);
    ASSERT_TRUE(p.send("a", {.dedup_id = "w"}, o).ok());
    EXPECT_TRUE(o.duplicate);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(p.send("a", {.dedup_id = "w"}, o).ok());
    EXPECT_FALSE(o.duplicate) << "an id 300 ms old is outside a 200 ms window";
}

TEST(DedupTest, aFullTableAnswersOverloadedRatherThanForgetting) {
    TempQueue q("dedup-full", dedup_options(600'000, 8));
    auto p = q.queue.producer();
    int sent = 0;
    Status st;
    for (int i = 0; i < 40 && (st = p.send("m", {.dedup_id = "id-" + std::to_string(i)})).ok(); ++i) ++sent;
    EXPECT_EQ(st.code(), Errc::overloaded);
    EXPECT_EQ(sent, 8) << "the generation holds exactly dedup_capacity ids";
    // Every id it took is still remembered.
    for (int i = 0; i < sent; ++i) {
        SendOutcome o;
        ASSERT_TRUE(p.send("m", {.dedup_id = "id-" + std::to_string(i)}, o).ok());
        EXPECT_TRUE(o.duplicate) << i;
    }
}

TEST(DedupTest, contentIdsDeduplicateEqualKeyAndPayload) {
    TempQueue q("dedup-content", dedup_options(60'000, 0, true));
    auto p = q.queue.producer();
    SendOutcome a, b, c, d;
    ASSERT_TRUE(p.send("same", {.key = "k"}, a).ok());
    ASSERT_TRUE(p.send("same", {.key = "k"}, b).ok());
    ASSERT_TRUE(p.send("same", {.key = "j"}, c).ok());
    ASSERT_TRUE(p.send("samf", {.key = "k"}, d).ok());
    EXPECT_FALSE(a.duplicate);
    EXPECT_TRUE(b.duplicate);
    EXPECT_FALSE(c.duplicate);
    EXPECT_FALSE(d.duplicate);
    auto cons = q.queue.consumer("g");
    auto m = cons.receive(1000ms);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->dedup_id().size(), 16u);
}

TEST(DedupTest, contentIdIsFnv1a128AndStable) {
    // Pinned: the id of key "k", payload "same" must never change (restores, versions).
    const std::string_view payload = "same";
    const auto id = dedup::content_id("k", std::as_bytes(std::span(payload.data(), payload.size())));
    std::string hex;
    for (char ch : id) {
        static const char* digits = "0123456789abcdef";
        hex += digits[static_cast<unsigned char>(ch) >> 4];
        hex += digits[static_cast<unsigned char>(ch) & 15];
    }
    EXPECT_EQ(hex.size(), 32u);
    // FNV-1a 128 of {1, 0, 'k', 's', 'a', 'm', 'e'}; the hash itself gives the
    // published vector for "a": d228cb696f1a8caf78912b704e4a8964.
    EXPECT_EQ(hex, "9a5d1d7bef4ff78c0f25df444379f243");
}

TEST(DedupTest, badIdsAndUnsupportedCallsAreRefused) {
    TempQueue q("dedup-bad", dedup_options(60'000));
    auto p = q.queue.producer();
    EXPECT_EQ(p.send("x", {.dedup_id = std::string(129, 'i')}).code(), Errc::invalid_argument);
    EXPECT_TRUE(p.send("x", {.dedup_id = std::string(128, 'i')}).ok());
    EXPECT_EQ(p.claim(4, {.dedup_id = "c"}).code(), Errc::invalid_argument);
    const std::string_view one = "1", two = "2";
    const std::span<const std::byte> payloads[] = {std::as_bytes(std::span(one.data(), 1)),
                                                   std::as_bytes(std::span(two.data(), 1))};
    EXPECT_EQ(p.send_batch(payloads, {.dedup_id = "b"}).code(), Errc::invalid_argument);
}

TEST(DedupTest, creationRefusesBadDedupOptions) {
    QueueOptions o;
    o.dedup_capacity = 10;  // without a window
    EXPECT_THROW(TempQueue("dedup-opt1", o), Error);
    QueueOptions w;
    w.dedup_window_ms = 8u * 24 * 3600 * 1000;
    EXPECT_THROW(TempQueue("dedup-opt2", w), Error);
}

TEST(DedupTest, aQueueWithoutAWindowIgnoresIds) {
    TempQueue q("dedup-off");
    auto p = q.queue.producer();
    SendOutcome a, b;
    ASSERT_TRUE(p.send("x", {.dedup_id = "same"}, a).ok());
    ASSERT_TRUE(p.send("x", {.dedup_id = "same"}, b).ok());
    EXPECT_FALSE(b.duplicate);
    EXPECT_EQ(b.offset, a.offset + 1);
}

// What `shmq dlq redrive` does (tools/shmq/cmd_dlq.cpp).
struct CarryingRedrive : dlq::Handler {
    Producer producer;
    explicit CarryingRedrive(Producer p) : producer(std::move(p)) {}
    Status handle(const dlq::DeadLetter& l) override {
        return detail::send_carrying_id(producer, std::as_bytes(std::span(l.payload.data(), l.payload.size())),
                                        {.key = l.key, .partition = l.partition}, l.dedup_id,
                                        static_cast<uint16_t>(l.redrives + 1));
    }
};

TEST(DedupTest, aRedriveIsNotBlockedByTheWindowAndKeepsTheId) {
    QueueOptions o = dedup_options(600'000, 0, true);  // content ids: a redriven copy has the same content
    o.max_deliveries = 1;
    TempQueue q("dedup-redrive", o);
    auto p = q.queue.producer();
    ASSERT_TRUE(p.send("poison", {.key = "k"}).ok());
    auto c = q.queue.consumer("g");
    {
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m.ok());
        ASSERT_TRUE(m->nack().ok());  // its one delivery failed: to the DLQ
    }
    auto r = detail::Region::open(q.name);
    std::vector<dlq::DeadLetter> letters;
    for (int i = 0; i < 200 && letters.empty(); ++i) {
        (void)c.receive(5ms);  // the consumer moves it to the DLQ
        letters = dlq::list(*r, 10);
    }
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0].dedup_id.size(), 16u) << "the DLQ keeps the content id";
    detail::ScopedParticipant admin(*r, layout::Role::admin);
    CarryingRedrive redrive(q.queue.producer());
    ASSERT_EQ(dlq::consume(*r, admin.get(), 10, &redrive), 1u);
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m.ok()) << "the redriven copy was swallowed by the window";
    EXPECT_EQ(m->text(), "poison");
    EXPECT_EQ(m->dedup_id(), letters[0].dedup_id);
    ASSERT_TRUE(m->ack().ok());
    SendOutcome again;
    ASSERT_TRUE(p.send("poison", {.key = "k"}, again).ok());
    EXPECT_TRUE(again.duplicate) << "the window still remembers the original";
}

TEST(DedupTest, theCApiSendsWithAnIdAndReadsItBack) {
    TempQueue q("dedup-capi", dedup_options(60'000));
    shmq_producer* p = nullptr;
    ASSERT_EQ(shmq_producer_open(q.name.c_str(), &p), SHMQ_OK);
    int duplicate = -1;
    ASSERT_EQ(shmq_producer_send_dedup(p, "x", 1, nullptr, 0, "c-1", 3, SHMQ_FOREVER, &duplicate), SHMQ_OK);
    EXPECT_EQ(duplicate, 0);
    ASSERT_EQ(shmq_producer_send_dedup(p, "x", 1, nullptr, 0, "c-1", 3, SHMQ_FOREVER, &duplicate), SHMQ_OK);
    EXPECT_EQ(duplicate, 1);
    const std::string long_id(129, 'l');
    EXPECT_EQ(shmq_producer_send_dedup(p, "x", 1, nullptr, 0, long_id.data(), long_id.size(), 0, &duplicate),
              SHMQ_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(shmq_producer_close(p), SHMQ_OK);
    shmq_consumer* c = nullptr;
    ASSERT_EQ(shmq_consumer_open(q.name.c_str(), "g", SHMQ_GROUP_SHARED, &c), SHMQ_OK);
    shmq_message* m = nullptr;
    ASSERT_EQ(shmq_consumer_receive(c, 1000, &m), SHMQ_OK);
    std::size_t size = 0;
    const char* id = shmq_message_dedup_id(m, &size);
    ASSERT_NE(id, nullptr);
    EXPECT_EQ(std::string_view(id, size), "c-1");
    EXPECT_EQ(shmq_message_ack(m), SHMQ_OK);
    EXPECT_EQ(shmq_message_close(m), SHMQ_OK);
    EXPECT_EQ(shmq_consumer_receive(c, 50, &m), SHMQ_ERR_TIMEOUT);
    EXPECT_EQ(shmq_consumer_close(c), SHMQ_OK);
}

}  // namespace
}  // namespace shmq
