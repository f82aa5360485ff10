// Delayed delivery in one process, with no shmqd: producers and consumers
// move due messages themselves (shmq/internal/delay_mover.hpp). None comes
// early, all come, per key in the order they became due; a full store
// answers overloaded; a dead holder of the store's lock is broken and the
// store's index rebuilt from its entries.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "support/scale.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

QueueOptions delay_options(uint32_t delay_capacity, uint32_t partitions = 2) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 1024;
    o.max_message = 128;
    o.delay_capacity = delay_capacity;
    return o;
}

// "index due_unix_ns": what each message carries, so the consumer can check it.
std::string payload(uint64_t i, uint64_t due) { return std::to_string(i) + " " + std::to_string(due); }
std::pair<uint64_t, uint64_t> parse(std::string_view text) {
    const auto sp = text.find(' ');
    return {std::stoull(std::string(text.substr(0, sp))), std::stoull(std::string(text.substr(sp + 1)))};
}

TEST(DelayTest, noDelayedMessageIsDeliveredBeforeItIsDueAndAllAreDelivered) {
    const uint64_t n = test::scaled(2000, 200);
    TempQueue q("delay-early", delay_options(static_cast<uint32_t>(n)));
    auto c = q->consumer("g");
    auto p = q->producer();
    std::mt19937_64 rng(7);
    for (uint64_t i = 0; i < n; ++i) {
        const auto delay = Millis(1 + rng() % 400);  // 0 would be no delay at all
        // The due time a send computes is at least now + delay; stamp a lower bound before the send.
        const uint64_t due = sys::unix_ns() + static_cast<uint64_t>(delay.count()) * 1'000'000;
        SendOutcome out;
        ASSERT_TRUE(p.send(payload(i, due), {.delay = delay}, out).ok()) << i;
        EXPECT_TRUE(out.delayed);
    }
    std::set<uint64_t> seen;
    while (seen.size() < n) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "after " << seen.size() << " of " << n << ": " << to_string(m.code());
        const uint64_t now = sys::unix_ns();
        const auto [i, due] = parse(m->text());
        EXPECT_GE(now, due) << "message " << i << " came " << (due - now) / 1000 << " us early";
        EXPECT_TRUE(seen.insert(i).second) << "message " << i << " came twice";
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(detail::delay::summary_guess(*detail::Region::open(q.name)).count, 0u);
}

// The producer is gone: only the consumer, asleep in receive, can move them.
TEST(DelayTest, aQueueWithoutShmqdDeliversDelayedMessagesThroughItsConsumers) {
    TempQueue q("delay-noshmqd", delay_options(64));
    auto c = q->consumer("g");
    {
        auto p = q->producer();
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i), {.delay = Millis(50 + 20 * i)}).ok());
    }
    std::set<std::string> seen;
    for (int i = 0; i < 10; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << i << ": " << to_string(m.code());
        seen.insert(std::string(m->text()));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(seen.size(), 10u);
    EXPECT_EQ(c.receive(50ms).code(), Errc::timeout);
}

TEST(DelayTest, perKeyMessagesComeOutInTheOrderTheyBecameDue) {
    TempQueue q("delay-order", delay_options(16, 4));
    auto p = q->producer();
    ASSERT_TRUE(p.send("late", {.key = "k", .delay = 300ms}).ok());
    ASSERT_TRUE(p.send("early", {.key = "k", .delay = 30ms}).ok());
    ASSERT_TRUE(p.send("now", {.key = "k"}).ok());
    auto c = q->consumer("g", {.kind = GroupKind::exclusive});
    std::vector<std::pair<std::string, uint64_t>> got;
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << i;
        got.emplace_back(std::string(m->text()), m->offset());
        EXPECT_EQ(m->partition(), partition_for_key("k", 4));
        ASSERT_TRUE(m->ack().ok());
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].first, "now");
    EXPECT_EQ(got[1].first, "early");
    EXPECT_EQ(got[2].first, "late");
    EXPECT_LT(got[1].second, got[2].second) << "each takes its offset when it becomes due";
}

TEST(DelayTest, aFullStoreAnswersOverloadedAndKeepsWhatItHolds) {
    TempQueue q("delay-full", delay_options(4));
    auto p = q->producer();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send("held", {.delay = 60s}).ok()) << i;
    EXPECT_EQ(p.send("one too many", {.delay = 60s}).code(), Errc::overloaded);
    EXPECT_TRUE(p.send("not delayed").ok()) << "the partitions are not the store";
    const auto r = detail::Region::open(q.name);
    EXPECT_EQ(detail::delay::summary_guess(*r).count, 4u);
    EXPECT_EQ(r->delay_header().refused.load(), 1u);
}

TEST(DelayTest, delaysAreRefusedWhereTheyCannotBeKept) {
    TempQueue none("delay-none", delay_options(0));
    auto p = none->producer();
    EXPECT_EQ(p.send("x", {.delay = 10ms}).code(), Errc::invalid_argument) << "no --delay-capacity";
    TempQueue q("delay-refuse", delay_options(4));
    auto p2 = q->producer();
    EXPECT_EQ(p2.claim(8, {.delay = 10ms}).code(), Errc::invalid_argument) << "claim() is zero-copy into a slot";
    EXPECT_EQ(p2.send("x", {.delay = Millis(-1)}).code(), Errc::invalid_argument);
    EXPECT_EQ(p2.send("x", {.partition = 7, .delay = 10ms}).code(), Errc::invalid_argument);
    EXPECT_EQ(p2.send(std::string(200, 'x'), {.delay = 10ms}).code(), Errc::message_too_large);
}

TEST(DelayTest, aDedupIdAppliesWhenTheMessageIsMoved) {
    QueueOptions o = delay_options(8);
    o.dedup_window_ms = 60'000;
    TempQueue q("delay-dedup", o);
    auto p = q->producer();
    ASSERT_TRUE(p.send("first", {.dedup_id = "id-1", .delay = 20ms}).ok());
    ASSERT_TRUE(p.send("second", {.dedup_id = "id-1", .delay = 40ms}).ok());
    auto c = q->consumer("g");
    auto m = c.receive(5000ms);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->text(), "first");
    EXPECT_EQ(m->dedup_id(), "id-1");
    ASSERT_TRUE(m->ack().ok());
    EXPECT_EQ(c.receive(300ms).code(), Errc::timeout) << "the second send of id-1 was enqueued";
}

// A process dies holding the store's lock half-way through an add: the next
// taker breaks the lock, rebuilds the index from the entries, and nothing
// the store held before is lost.
TEST(DelayTest, aDeadHolderOfTheStoreLockIsBrokenAndTheIndexRebuilt) {
    TempQueue q("delay-deadlock", delay_options(16));
    {
        auto p = q->producer();
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.send("kept " + std::to_string(i), {.delay = Millis(100)}).ok());
    }
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto r = detail::Region::open(q.name);
        const auto me = detail::attach_participant(*r, layout::Role::producer, layout::kNoGroup, 0);
        if (!detail::delay::lock(*r, me.token(), true)) ::_exit(1);
        // Mid-add: an index that no longer matches the entries.
        r->delay_header().count.store(9);
        r->delay_heap(0).seq_entry = 12345;
        ::_exit(0);  // holding the lock, open == 1
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const auto r = detail::Region::open(q.name);
    EXPECT_NE(r->delay_header().lock.load(), 0u) << "the child died holding it";
    const uint64_t repairs = r->delay_header().repairs.load();

    auto p = q->producer();
    ASSERT_TRUE(p.send("after", {.delay = Millis(1)}).ok());
    EXPECT_GT(r->delay_header().repairs.load(), repairs) << "the index was not rebuilt";
    EXPECT_EQ(detail::delay::summary_guess(*r).count, 4u);
    auto c = q->consumer("g");
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << i << ": " << to_string(m.code());
        seen.insert(std::string(m->text()));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(seen, (std::set<std::string>{"after", "kept 0", "kept 1", "kept 2"}));
}

}  // namespace
}  // namespace shmq
