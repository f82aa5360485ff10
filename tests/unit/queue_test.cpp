// Single-process behaviour of queues, producers and consumers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <optional>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/names.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

std::string take(Consumer& c, Millis timeout = 1000ms) {
    auto m = c.receive(timeout);
    if (!m) return std::string("<") + to_string(m.code()) + ">";
    std::string s(m->text());
    EXPECT_TRUE(m->ack().ok());
    return s;
}

// The code of the Error `op` throws: what callers branch on. ok: none thrown.
template <class Op>
Errc error_of(Op&& op) {
    try {
        op();
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::ok;
}

TEST(QueueTest, createsRegionWithMode0600AndOpensIt) {
    TempQueue q("mode");
    struct stat st {};
    ASSERT_EQ(::stat(detail::region_path(q.name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto again = Queue::open(q.name);
    EXPECT_EQ(again.options().capacity, 1024u);
    EXPECT_EQ(again.options().partitions, 1u);
    EXPECT_TRUE(Queue::exists(q.name));
}

TEST(QueueTest, honoursAnotherMode) {
    QueueOptions o;
    o.mode = 0660;
    TempQueue q("mode660", o);
    struct stat st {};
    ASSERT_EQ(::stat(detail::region_path(q.name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(QueueTest, refusesBadNamesAndOptions) {
    for (const char* bad : {"", "a/b", "sp ace", "x\n", "..", "é"}) {
        EXPECT_EQ(error_of([&] { (void)Queue::create(bad); }), Errc::invalid_argument) << bad;
        EXPECT_EQ(error_of([&] { (void)Queue::open(bad); }), Errc::invalid_argument) << bad;
        EXPECT_EQ(error_of([&] { Queue::remove(bad); }), Errc::invalid_argument) << bad;
    }
    EXPECT_EQ(error_of([&] { (void)Queue::create(std::string(65, 'a')); }), Errc::invalid_argument);
    auto create_with = [](const char* tag, const QueueOptions& o) {
        return error_of([&] { (void)Queue::create(test::unique_queue_name(tag), o); });
    };
    QueueOptions o;
    o.capacity = 1000;
    EXPECT_EQ(create_with("badcap", o), Errc::invalid_argument);
    o = {};
    o.partitions = 0;
    EXPECT_EQ(create_with("badparts", o), Errc::invalid_argument);
    o = {};
    o.on_full = OnFull::spill;
    o.spill_buffer = 1000;
    EXPECT_EQ(create_with("spillbuf", o), Errc::invalid_argument) << "not a power of two";
    o.on_full = OnFull::block;
    o.spill_buffer = 1024;
    EXPECT_EQ(create_with("spillbuf", o), Errc::invalid_argument) << "a spill buffer without spill";
}

TEST(QueueTest, refusesDuplicateCreateAndMissingOpen) {
    TempQueue q("dup");
    try {
        Queue::create(q.name);
        FAIL() << "second create succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::already_exists) << e.what();
        EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
    }
    try {
        Queue::open(q.name + "-missing");
        FAIL() << "open of a missing queue succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found) << e.what();
        EXPECT_NE(std::string(e.what()).find("no queue named"), std::string::npos) << e.what();
    }
    EXPECT_EQ(error_of([&] { Queue::remove(q.name + "-missing"); }), Errc::not_found);
    EXPECT_FALSE(Queue::exists(q.name + "-missing"));
    EXPECT_TRUE(Queue::exists(q.name)) << "a refused create changes nothing";
}

// Writes `bytes` at `offset` of a queue's region file.
void poke(const std::string& name, off_t offset, const void* bytes, std::size_t n) {
    int fd = ::open(detail::region_path(name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes, n, offset), static_cast<ssize_t>(n));
    ::close(fd);
}

TEST(QueueTest, refusesMismatchedRegions) {
    auto expect_refused = [](const std::string& name, const char* needle) {
        try {
            Queue::open(name);
            ADD_FAILURE() << "opened a bad region (" << needle << ")";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::region_corrupt);
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    {
        TempQueue q("badmagic");
        uint64_t junk = 0x1234;
        poke(q.name, 0, &junk, 8);
        expect_refused(q.name, "bad magic");
    }
    {
        TempQueue q("badversion");
        uint32_t v = 99;
        poke(q.name, 8, &v, 4);
        expect_refused(q.name, "layout version 99");
    }
    {
        TempQueue q("badparams");
        uint32_t parts = 7;  // partitions changed: sections no longer match
        poke(q.name, 64, &parts, 4);
        expect_refused(q.name, "");
    }
    {
        TempQueue q("badsize");
        int fd = ::open(detail::region_path(q.name).c_str(), O_RDWR);
        ASSERT_EQ(::ftruncate(fd, 8192), 0);
        ::close(fd);
        expect_refused(q.name, "");
    }
    {
        std::string name = test::unique_queue_name("tiny");
        int fd = ::shm_open(detail::region_object_name(name).insert(0, "/").c_str(), O_CREAT | O_RDWR, 0600);
        ASSERT_GE(fd, 0);
        ::close(fd);
        expect_refused(name, "too small");
        Queue::remove(name);
    }
}

TEST(QueueTest, sendsAndReceivesWithKeysAndMetadata) {
    QueueOptions o;
    o.partitions = 4;
    TempQueue q("basic", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("hello", {.key = "user-42"}).ok());
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "hello");
    EXPECT_EQ(m->key(), "user-42");
    EXPECT_EQ(m->partition(), partition_for_key("user-42", 4));
    EXPECT_EQ(m->offset(), 0u);
    EXPECT_EQ(m->deliveries(), 1u);
    EXPECT_GT(m->publish_unix_ns(), 0u);
    EXPECT_TRUE(m->ack().ok());
    EXPECT_EQ(m->ack().code(), Errc::already_settled);
    EXPECT_EQ(c.receive(0ms).code(), Errc::timeout);
}

TEST(QueueTest, refusesOversizedMessagesAndKeysWritingNothing) {
    QueueOptions o;
    o.max_message = 16;
    TempQueue q("oversize", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    EXPECT_EQ(p.send(std::string(17, 'x')).code(), Errc::message_too_large);
    EXPECT_EQ(p.send("ok", {.key = std::string(65, 'k')}).code(), Errc::key_too_large);
    EXPECT_EQ(p.claim(17).code(), Errc::message_too_large);
    EXPECT_TRUE(p.send(std::string(16, 'y')).ok());
    EXPECT_EQ(take(c), std::string(16, 'y'));
    EXPECT_EQ(c.receive(0ms).code(), Errc::timeout);
}

TEST(QueueTest, zeroCopyClaimCommitsAndAbortedClaimsAreSkipped) {
    TempQueue q("claim");
    auto c = q->consumer("g");
    auto p = q->producer();
    {
        auto cl = p.claim(8);
        ASSERT_TRUE(cl);
        std::memcpy(cl->data().data(), "abortme!", 8);
        cl->abort();
        EXPECT_EQ(cl->commit().code(), Errc::already_settled);
    }
    { auto dropped = p.claim(4); }  // dropped unpublished: aborted
    {
        auto cl = p.claim(32);
        ASSERT_TRUE(cl);
        std::memcpy(cl->data().data(), "zero-copy", 9);
        EXPECT_TRUE(cl->commit(9).ok());
    }
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text(), "zero-copy");
    EXPECT_EQ(m->offset(), 2u);
    EXPECT_TRUE(m->ack().ok());
}

std::size_t attached_producers(const std::string& queue) {
    std::size_t n = 0;
    for (const auto& part : test::snapshot_of(queue).participants) n += part.role == layout::Role::producer;
    return n;
}

TEST(QueueTest, aClaimCommitsAfterItsProducerHandleIsGone) {
    TempQueue q("claim-outlive");
    auto c = q->consumer("g");
    std::optional<Claim> kept;
    {
        auto p = q->producer();
        auto cl = p.claim(16);
        ASSERT_TRUE(cl);
        kept.emplace(std::move(cl.value()));
        Producer moved_to(std::move(p));  // the moved-from handle holds nothing
    }  // every handle gone; the claim keeps the producer attached
    EXPECT_EQ(attached_producers(q.name), 1u) << "the reaper must not see an open claim's producer as gone";
    std::memcpy(kept->data().data(), "after-producer", 14);
    Status committed = Errc::invalid_argument;
    std::thread([&] { committed = kept->commit(14); }).join();  // on another thread: allowed
    EXPECT_TRUE(committed.ok()) << committed.message();
    EXPECT_EQ(kept->commit().code(), Errc::already_settled);
    kept.reset();
    EXPECT_EQ(attached_producers(q.name), 0u) << "the last reference detaches";
    EXPECT_EQ(take(c), "after-producer");
}

TEST(QueueTest, aClaimAbortsAfterItsProducerHandleIsGone) {
    TempQueue q("claim-outlive-abort");
    auto c = q->consumer("g");
    std::optional<Claim> aborted;
    std::optional<Claim> dropped;
    {
        auto p = q->producer();
        auto a = p.claim(8);
        auto d = p.claim(8);
        ASSERT_TRUE(a && d);
        aborted.emplace(std::move(a.value()));
        dropped.emplace(std::move(d.value()));
        ASSERT_TRUE(p.send("sent").ok());
    }
    EXPECT_EQ(attached_producers(q.name), 1u);
    aborted->abort();
    EXPECT_EQ(aborted->commit().code(), Errc::already_settled);
    EXPECT_EQ(attached_producers(q.name), 1u) << "one claim is still open";
    dropped.reset();  // dropped unpublished: aborted, and the last reference
    EXPECT_EQ(attached_producers(q.name), 0u);
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text(), "sent");
    EXPECT_EQ(m->offset(), 2u) << "the two aborted claims are skipped";
    EXPECT_TRUE(m->ack().ok());
    EXPECT_EQ(c.receive(0ms).code(), Errc::timeout);
}

TEST(QueueTest, messagesWaitForTheFirstGroupAndFullQueueBlocksOrRejects) {
    QueueOptions o;
    o.capacity = 4;
    TempQueue q("nogroup", o);
    auto p = q->producer();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(p.send("late", {.timeout = 50ms}).code(), Errc::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
    auto c = q->consumer("first");
    for (int i = 0; i < 4; ++i) EXPECT_EQ(take(c), "m" + std::to_string(i));
    EXPECT_TRUE(p.send("after", {.timeout = 1000ms}).ok());
    EXPECT_EQ(take(c), "after");

    o.on_full = OnFull::reject;
    TempQueue r("reject", o);
    auto rp = r->producer();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(rp.send("x").ok());
    EXPECT_EQ(rp.send("x").code(), Errc::overloaded);
}

TEST(QueueTest, everyGroupReceivesEveryMessage) {
    TempQueue q("fanout");
    auto a = q->consumer("a");
    auto b = q->consumer("b", {.kind = GroupKind::exclusive});
    auto p = q->producer();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(take(a), std::to_string(i));
        EXPECT_EQ(take(b), std::to_string(i));
    }
}

TEST(QueueTest, slotIsReusedOnlyAfterEveryGroupFinished) {
    QueueOptions o;
    o.capacity = 2;
    TempQueue q("hold", o);
    auto fast = q->consumer("fast");
    auto slow = q->consumer("slow");
    auto p = q->producer();
    ASSERT_TRUE(p.send("1").ok());
    ASSERT_TRUE(p.send("2").ok());
    EXPECT_EQ(take(fast), "1");
    EXPECT_EQ(take(fast), "2");
    EXPECT_EQ(p.send("3", {.timeout = 20ms}).code(), Errc::timeout);  // "slow" still holds both
    EXPECT_EQ(take(slow), "1");
    EXPECT_TRUE(p.send("3", {.timeout = 1000ms}).ok());
    EXPECT_EQ(take(slow), "2");
    EXPECT_EQ(take(slow), "3");
    EXPECT_EQ(take(fast), "3");
}

TEST(QueueTest, groupKindIsFixedAtCreation) {
    TempQueue q("kind");
    auto a = q->consumer("g", {.kind = GroupKind::exclusive});
    EXPECT_EQ(error_of([&] { (void)q->consumer("g", {.kind = GroupKind::shared}); }), Errc::invalid_argument);
}

TEST(QueueTest, newGroupCanStartAtLatest) {
    TempQueue q("latest");
    auto p = q->producer();
    auto keep = q->consumer("keep");
    ASSERT_TRUE(p.send("old").ok());
    auto late = q->consumer("late", {.start = StartAt::latest});
    ASSERT_TRUE(p.send("new").ok());
    EXPECT_EQ(take(late), "new");
    EXPECT_EQ(take(keep), "old");
}

TEST(QueueTest, nackRedeliversWithTheCountRaised) {
    TempQueue q("nack");
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("again").ok());
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->deliveries(), 1u);
    EXPECT_TRUE(m->nack().ok());
    auto m2 = c.receive(1000ms);
    ASSERT_TRUE(m2);
    EXPECT_EQ(m2->text(), "again");
    EXPECT_EQ(m2->deliveries(), 2u);
    EXPECT_EQ(m2->offset(), m->offset());
    // A delayed nack is not redelivered before its delay.
    EXPECT_TRUE(m2->nack(300ms).ok());
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout);
    auto m3 = c.receive(2000ms);
    ASSERT_TRUE(m3);
    EXPECT_EQ(m3->deliveries(), 3u);
    EXPECT_TRUE(m3->ack().ok());
}

TEST(QueueTest, expiredLeaseIsRedeliveredAndTheStaleAckIsLost) {
    QueueOptions o;
    o.lease_ms = 50;
    TempQueue q("expire", o);
    auto c1 = q->consumer("g");
    auto c2 = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("slow work").ok());
    auto m = c1.receive(1000ms);
    ASSERT_TRUE(m);
    auto again = c2.receive(2000ms);  // after the 50 ms lease
    ASSERT_TRUE(again) << to_string(again.code());
    EXPECT_EQ(again->text(), "slow work");
    EXPECT_EQ(again->deliveries(), 2u);
    EXPECT_EQ(m->ack().code(), Errc::lease_lost);
    EXPECT_TRUE(again->ack().ok());
}

TEST(QueueTest, extendKeepsTheLease) {
    QueueOptions o;
    o.lease_ms = 60;
    TempQueue q("extend", o);
    auto c1 = q->consumer("g");
    auto c2 = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("long").ok());
    auto m = c1.receive(1000ms);
    ASSERT_TRUE(m);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(m->extend(1000ms).ok());
        EXPECT_EQ(c2.receive(30ms).code(), Errc::timeout);
    }
    EXPECT_TRUE(m->ack().ok());
}

TEST(QueueTest, atMostOnceConsumerNeverSeesARedelivery) {
    QueueOptions o;
    o.lease_ms = 20;
    TempQueue q("amo", o);
    auto c = q->consumer("g", {.at_most_once = true});
    auto p = q->producer();
    ASSERT_TRUE(p.send("once").ok());
    {
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m);
        EXPECT_TRUE(m->nack().ok());  // picked up already: nack releases it
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout);
}

TEST(QueueTest, prefetchLimitMakesReceiveWait) {
    TempQueue q("prefetch");
    auto c = q->consumer("g", {.max_in_flight = 2});
    auto p = q->producer();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    auto m0 = c.receive(1000ms);
    auto m1 = c.receive(1000ms);
    ASSERT_TRUE(m0 && m1);
    EXPECT_EQ(c.receive(50ms).code(), Errc::timeout);
    std::thread acker([&] {
        std::this_thread::sleep_for(30ms);
        EXPECT_TRUE(m0->ack().ok());
    });
    auto m2 = c.receive(2000ms);
    acker.join();
    ASSERT_TRUE(m2);
    EXPECT_EQ(m2->text(), "2");
    EXPECT_TRUE(m1->ack().ok());
    EXPECT_TRUE(m2->ack().ok());
}

TEST(QueueTest, droppedUnsettledMessageIsRedelivered) {
    TempQueue q("drop");
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("x").ok());
    { auto m = c.receive(1000ms); }
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->deliveries(), 2u);
    EXPECT_TRUE(m->ack().ok());
}

TEST(QueueTest, batchSendReceiveAndAckAll) {
    TempQueue q("batch");
    auto c = q->consumer("g");
    auto p = q->producer();
    std::vector<std::string> texts;
    for (int i = 0; i < 10; ++i) texts.push_back("m" + std::to_string(i));
    std::vector<std::span<const std::byte>> payloads;
    for (auto& t : texts) payloads.push_back(std::as_bytes(std::span(t.data(), t.size())));
    const BatchResult sent = p.send_batch(payloads);
    EXPECT_TRUE(sent.ok());
    EXPECT_EQ(sent.count, 10u);
    std::vector<Message> got(4);
    const BatchResult first = c.receive_batch(got, 1000ms);
    EXPECT_TRUE(first.ok());
    EXPECT_EQ(first.count, 4u);
    EXPECT_EQ(got[0].text(), "m0");
    EXPECT_EQ(got[3].text(), "m3");
    EXPECT_EQ(ack_all(got), 4u);
    EXPECT_EQ(ack_all(got), 0u);  // settled already
    std::vector<Message> rest(16);
    const BatchResult second = c.receive_batch(rest, 1000ms);
    EXPECT_TRUE(second.ok()) << "fewer than asked for is no error";
    EXPECT_EQ(second.count, 6u);
    EXPECT_EQ(rest[5].text(), "m9");
    EXPECT_EQ(ack_all(rest), 6u);
    const BatchResult none = c.receive_batch(rest, 0ms);
    EXPECT_EQ(none.count, 0u);
    EXPECT_EQ(none.code(), Errc::timeout);
    QueueOptions small;
    small.capacity = 4;
    small.on_full = OnFull::reject;
    TempQueue r("batch-full", small);
    auto rp = r->producer();
    const BatchResult partial = rp.send_batch(payloads);
    EXPECT_FALSE(partial.ok());
    EXPECT_EQ(partial.count, 4u);
    EXPECT_EQ(partial.code(), Errc::overloaded);
}

TEST(QueueTest, aMessageOutlivesItsConsumerHandle) {
    TempQueue q("outlive");
    auto p = q->producer();
    ASSERT_TRUE(p.send("kept").ok());
    std::optional<Message> kept;
    {
        auto c = q->consumer("g");
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m);
        kept.emplace(std::move(m.value()));
    }  // the handle is gone; the participant stays attached until the message is settled
    EXPECT_EQ(kept->text(), "kept");
    EXPECT_TRUE(kept->ack().ok());
    kept.reset();
    auto c2 = q->consumer("g");
    EXPECT_EQ(c2.receive(0ms).code(), Errc::timeout);
}

std::size_t attached_consumers(const std::string& queue) {
    std::size_t n = 0;
    for (const auto& part : test::snapshot_of(queue).participants) n += part.role == layout::Role::consumer;
    return n;
}

// The reference count is biased toward the thread that receives (consumer_core.hpp):
// messages settled there, on other threads, and the handle released on yet
// another thread while the owner is still settling: every ACK counts once,
// the prefetch limit holds throughout, and the last reference detaches.
TEST(QueueTest, theBiasedCountMergesWhenTheHandleGoesOnAnotherThread) {
    constexpr int kMessages = 600;
    TempQueue q("biased");
    auto p = q->producer();
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    std::optional<Consumer> c(q->consumer("g", {.kind = GroupKind::exclusive, .max_in_flight = 64}));
    std::vector<Message> mine, theirs;
    for (int i = 0; i < kMessages; ++i) {
        // The owner thread receives everything: at most 64 unsettled at a time.
        if (mine.size() + theirs.size() == 64) {
            for (auto& m : mine) EXPECT_TRUE(m.ack().ok());
            mine.clear();
            std::thread([&] {
                for (auto& m : theirs) EXPECT_TRUE(m.ack().ok());
            }).join();
            theirs.clear();
        }
        auto m = c->receive(1000ms);
        ASSERT_TRUE(m) << i << ": " << to_string(m.code());
        EXPECT_EQ(m->text(), std::to_string(i));
        (i % 2 == 0 ? mine : theirs).push_back(std::move(m.value()));
    }
    EXPECT_EQ(c->receive(0ms).code(), Errc::timeout);
    // The handle goes on one thread while the owner acks its share on this one.
    std::thread handle_closer([&] { c.reset(); });
    std::thread other_acker([&] {
        for (auto& m : theirs) EXPECT_TRUE(m.ack().ok());
    });
    for (auto& m : mine) EXPECT_TRUE(m.ack().ok());
    handle_closer.join();
    other_acker.join();
    EXPECT_EQ(attached_consumers(q.name), 0u) << "the last reference must detach the consumer";
    auto again = q->consumer("g", {.kind = GroupKind::exclusive});
    EXPECT_EQ(again.receive(100ms).code(), Errc::timeout) << "an ACK was lost";
}

TEST(QueueTest, exclusiveConsumersSplitPartitionsAndKeepOrder) {
    QueueOptions o;
    o.partitions = 4;
    TempQueue q("excl", o);
    auto c1 = q->consumer("g", {.kind = GroupKind::exclusive});
    auto c2 = q->consumer("g", {.kind = GroupKind::exclusive});
    auto p = q->producer();
    const int n = 400;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.key = "k" + std::to_string(i % 8)}).ok());
    std::map<uint32_t, std::set<uint32_t>> seen_by;  // partition -> consumer ids
    std::map<uint32_t, int64_t> last_offset;
    int got = 0;
    for (int idle = 0; got < n && idle < 50;) {
        bool any = false;
        for (Consumer* c : {&c1, &c2}) {
            auto m = c->receive(10ms);
            if (!m) continue;
            any = true;
            ++got;
            seen_by[m->partition()].insert(c->participant_id());
            auto [it, fresh] = last_offset.emplace(m->partition(), -1);
            EXPECT_EQ(static_cast<int64_t>(m->offset()), it->second + 1) << "partition " << m->partition();
            it->second = static_cast<int64_t>(m->offset());
            EXPECT_TRUE(m->ack().ok());
        }
        idle = any ? 0 : idle + 1;
    }
    EXPECT_EQ(got, n);
    for (auto& [part, who] : seen_by) EXPECT_EQ(who.size(), 1u) << "partition " << part << " had two owners";
    std::set<uint32_t> owners;
    for (auto& [part, who] : seen_by) owners.insert(*who.begin());
    EXPECT_EQ(owners.size(), 2u);
}

TEST(QueueTest, poisonMessageGoesToTheDlqAfterMaxDeliveries) {
    QueueOptions o;
    o.max_deliveries = 3;
    TempQueue q("poison", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("poison").ok());
    ASSERT_TRUE(p.send("fine").ok());
    int poison_deliveries = 0;
    for (int i = 0; i < 10; ++i) {
        auto m = c.receive(200ms);
        if (!m) break;
        if (m->text() == "poison") {
            ++poison_deliveries;
            EXPECT_TRUE(m->nack().ok());
        } else {
            EXPECT_TRUE(m->ack().ok());
        }
    }
    EXPECT_EQ(poison_deliveries, 3);
    EXPECT_EQ(c.receive(50ms).code(), Errc::timeout);
    // The ring moves on: slots can be reused.
    for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(p.send("more", {.timeout = 1000ms}).ok());
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m);
        ASSERT_TRUE(m->ack().ok());
    }
}

TEST(QueueTest, attachedHandlesSeeTheQueueDeleted) {
    auto name = test::unique_queue_name("deleted");
    auto q = Queue::create(name);
    auto c = q.consumer("g");
    auto p = q.producer();
    std::thread waiter([&] { EXPECT_EQ(c.receive(5000ms).code(), Errc::queue_deleted); });
    std::this_thread::sleep_for(50ms);
    Queue::remove(name);
    waiter.join();
    EXPECT_FALSE(Queue::exists(name));
    // The producer's ring still has room, but nothing would ever read it:
    // every way of sending says so instead of dropping the message.
    const std::string_view m = "lost?";
    EXPECT_EQ(p.send(m).code(), Errc::queue_deleted);
    const std::span<const std::byte> one[] = {std::as_bytes(std::span(m))};
    EXPECT_EQ(p.send_batch(one).status.code(), Errc::queue_deleted);
    EXPECT_EQ(p.claim(8).code(), Errc::queue_deleted);
}

TEST(QueueTest, blockedProducerWakesWhenSpaceFrees) {
    QueueOptions o;
    o.capacity = 2;
    TempQueue q("wake", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("a").ok());
    ASSERT_TRUE(p.send("b").ok());
    std::thread consumer([&] {
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(take(c), "a");
    });
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(p.send("c", {.timeout = 5000ms}).ok());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3000ms);
    consumer.join();
}

}  // namespace
}  // namespace shmq
