// Keyed groups (shmq/internal/keyed_lane.hpp), in one process: each Consumer
// handle is a participant of its own. What these pin down: one message of a
// key at a time, in offset order, while other keys (and keyless messages)
// flow; a NACK redelivers the key's head before anything after it; a poison
// message blocks only its key, only until it is dead-lettered, and what
// waited behind it has used no delivery; a key's backlog does not hide other
// keys behind it; the limits (lanes, drop-oldest) answer with a reason.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "shmq/internal/groups.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/region.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

ConsumerOptions keyed(uint32_t max_in_flight = 256) {
    ConsumerOptions o;
    o.kind = GroupKind::keyed;
    o.max_in_flight = max_in_flight;
    return o;
}

void send(Producer& p, std::string_view key, const std::string& text) {
    ASSERT_TRUE(p.send(text, SendOptions{.key = key}).ok()) << text;
}

std::vector<Message> take_all(Consumer& c) {
    std::vector<Message> out;
    for (;;) {
        auto m = c.receive(0ms);
        if (!m.ok()) break;
        out.push_back(std::move(m).value());
    }
    return out;
}

std::vector<std::string> texts(const std::vector<Message>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.emplace_back(m.text());
    return out;
}

TEST(KeyedGroupTest, givesOutOneMessageOfAKeyAtATimeInOrderWhileOtherKeysFlow) {
    TempQueue q("keyed-one");
    auto p = q->producer();
    for (int i = 0; i < 3; ++i) {
        send(p, "a", "a" + std::to_string(i));
        send(p, "b", "b" + std::to_string(i));
    }
    auto c1 = q->consumer("g", keyed());
    auto c2 = q->consumer("g", keyed());
    auto first = take_all(c1);
    EXPECT_EQ(texts(first), (std::vector<std::string>{"a0", "b0"})) << "the head of each key, nothing behind it";
    EXPECT_TRUE(take_all(c2).empty()) << "a second consumer gets nothing of a key in flight";
    ASSERT_TRUE(first[0].ack().ok());
    auto next = take_all(c2);
    EXPECT_EQ(texts(next), (std::vector<std::string>{"a1"})) << "a's next once a0 is ACKed, to any consumer";
    ASSERT_TRUE(first[1].ack().ok());
    ASSERT_TRUE(next[0].ack().ok());
    EXPECT_EQ(texts(take_all(c1)), (std::vector<std::string>{"b1", "a2"}));
}

TEST(KeyedGroupTest, keylessMessagesAreOrderedAgainstNothing) {
    TempQueue q("keyed-keyless");
    auto p = q->producer();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send("n" + std::to_string(i)).ok());
    auto c = q->consumer("g", keyed());
    EXPECT_EQ(take_all(c).size(), 4u) << "no key, no order: every one at once";
}

TEST(KeyedGroupTest, anAtMostOncePickupHoldsItsKeyUntilItIsGivenUp) {
    TempQueue q("keyed-amo");
    auto p = q->producer();
    send(p, "k", "k0");
    send(p, "k", "k1");
    ConsumerOptions o = keyed();
    o.at_most_once = true;
    auto c = q->consumer("g", o);
    auto first = c.receive(1000ms);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->text(), "k0");
    EXPECT_EQ(c.receive(0ms).code(), Errc::timeout) << "k1 waits while k0 is picked up";
    ASSERT_TRUE(first->ack().ok());
    auto second = c.receive(1000ms);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->text(), "k1");
}

TEST(KeyedGroupTest, aNackedHeadComesBackBeforeItsKeysNextMessage) {
    TempQueue q("keyed-nack");
    auto p = q->producer();
    send(p, "k", "k0");
    send(p, "k", "k1");
    send(p, "other", "o0");
    auto c = q->consumer("g", keyed());
    auto got = take_all(c);
    ASSERT_EQ(texts(got), (std::vector<std::string>{"k0", "o0"}));
    ASSERT_TRUE(got[0].nack(100ms).ok());
    EXPECT_TRUE(take_all(c).empty()) << "k1 waits behind the NACKed k0";
    auto again = c.receive(2000ms);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->text(), "k0");
    EXPECT_EQ(again->deliveries(), 2u);
    ASSERT_TRUE(again->ack().ok());
    auto k1 = c.receive(1000ms);
    ASSERT_TRUE(k1.ok());
    EXPECT_EQ(k1->text(), "k1");
    EXPECT_EQ(k1->deliveries(), 1u) << "waiting behind k0 used no delivery";
}

TEST(KeyedGroupTest, aPoisonMessageBlocksOnlyItsKeyUntilItIsDeadLettered) {
    QueueOptions o;
    o.max_deliveries = 3;
    TempQueue q("keyed-poison", o);
    auto p = q->producer();
    send(p, "poison", "p0");
    for (int i = 1; i <= 3; ++i) send(p, "poison", "p" + std::to_string(i));
    for (int i = 0; i < 20; ++i) send(p, "k" + std::to_string(i % 5), "m" + std::to_string(i));
    auto c = q->consumer("g", keyed());
    std::vector<std::string> order;
    std::map<std::string, uint32_t> deliveries;
    for (int spins = 0; spins < 200 && order.size() < 23; ++spins) {
        auto m = c.receive(500ms);
        ASSERT_TRUE(m.ok()) << "after " << order.size() << " messages: " << to_string(m.code());
        const std::string text(m->text());
        if (text == "p0") {
            ASSERT_TRUE(m->nack(50ms).ok());  // poison: fails every time
            continue;
        }
        deliveries[text] = m->deliveries();
        order.push_back(text);
        ASSERT_TRUE(m->ack().ok());
    }
    ASSERT_EQ(order.size(), 23u);
    // Other keys went first: p1..p3 only after p0 was dead-lettered.
    const auto p1 = std::find(order.begin(), order.end(), "p1") - order.begin();
    EXPECT_EQ(std::count_if(order.begin(), order.begin() + p1, [](const std::string& t) { return t[0] == 'm'; }), 20)
        << "every other key's message went while the poison one was retried";
    EXPECT_EQ(std::vector<std::string>(order.end() - 3, order.end()), (std::vector<std::string>{"p1", "p2", "p3"}));
    for (const char* t : {"p1", "p2", "p3"}) EXPECT_EQ(deliveries[t], 1u) << t << " used no delivery while it waited";
    const auto stats = inspect::snapshot(*detail::Region::open(q.name));
    ASSERT_EQ(stats.groups.size(), 1u);
    uint64_t dead = 0;
    for (const auto& gp : stats.groups[0].partitions) dead += gp.dead_lettered;
    EXPECT_EQ(dead, 1u);
}

TEST(KeyedGroupTest, aDeadLetteringScanQueuesTheKeysNextMessageItself) {
    QueueOptions o;
    o.lease_ms = 50;
    o.max_deliveries = 1;
    TempQueue q("keyed-dlq-scan", o);
    auto p = q->producer();
    send(p, "k", "k0");
    send(p, "k", "k1");
    auto c = q->consumer("g", keyed());
    auto held = c.receive(1000ms);
    ASSERT_TRUE(held.ok());
    ASSERT_EQ(held->text(), "k0");
    std::this_thread::sleep_for(100ms);  // its lease expires: its one delivery used, the scan dead-letters it
    auto next = c.receive(2000ms);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->text(), "k1");
    EXPECT_EQ(held->ack().code(), Errc::lease_lost);
    auto region = detail::Region::open(q.name);
    const auto lane = ring::keyed_lane(*region, static_cast<uint32_t>(ring::group_keyed_lane(*region, 0)), 0);
    EXPECT_EQ(lane.header->rescued.load(), 0u) << "the DLQ move queued k1, not the periodic repair";
}

TEST(KeyedGroupTest, aLongBacklogOfOneBusyKeyDoesNotHideTheKeysBehindIt) {
    QueueOptions o;
    o.capacity = 1u << 17;
    TempQueue q("keyed-backlog", o);
    auto p = q->producer();
    constexpr int kBacklog = 100'000;
    for (int i = 0; i < kBacklog; ++i) send(p, "busy", "b" + std::to_string(i));
    for (int i = 0; i < 10; ++i) send(p, "late" + std::to_string(i), "late" + std::to_string(i));
    auto c = q->consumer("g", keyed());
    auto head = c.receive(1000ms);
    ASSERT_TRUE(head.ok());
    ASSERT_EQ(head->text(), "b0");
    // Every later receive finds the late keys; the busy key's backlog is
    // indexed once (parked), not scanned again per receive.
    for (int i = 0; i < 10; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << i;
        EXPECT_EQ(m->text(), "late" + std::to_string(i));
        ASSERT_TRUE(m->ack().ok());
    }
    const auto blocked = ring::keyed_blocked(*detail::Region::open(q.name), 0, 0);
    EXPECT_EQ(blocked.messages, uint64_t{kBacklog - 1});
    EXPECT_EQ(blocked.keys, 1u);
    const auto stats = inspect::snapshot(*detail::Region::open(q.name));
    EXPECT_EQ(stats.groups.at(0).total.blocked_keys, 1u);
    EXPECT_EQ(stats.groups.at(0).total.blocked, uint64_t{kBacklog - 1});
    EXPECT_EQ(stats.groups.at(0).total.retrying, 0u) << "a parked message is blocked, not a retry";
    ASSERT_TRUE(head->ack().ok());
    for (int i = 1; i < 50; ++i) {
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m.ok()) << i;
        ASSERT_EQ(m->text(), "b" + std::to_string(i));
        ASSERT_TRUE(m->ack().ok());
    }
}

TEST(KeyedGroupTest, refusesWhatItCannotKeepWithTheReason) {
    QueueOptions o;
    o.keyed_groups = 1;
    TempQueue q("keyed-limits", o);
    auto c = q->consumer("first", keyed());
    try {
        (void)q->consumer("second", keyed());
        FAIL() << "a second keyed group on a queue with one lane";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::no_resources);
        EXPECT_NE(std::string(e.what()).find("--keyed-groups"), std::string::npos) << e.what();
    }
    try {
        (void)q->consumer("first", ConsumerOptions{});
        FAIL() << "attached as shared to a keyed group";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is keyed; attach with --kind keyed"), std::string::npos) << e.what();
    }
    QueueOptions lossy;
    lossy.on_full = OnFull::drop_oldest;
    TempQueue d("keyed-lossy", lossy);
    try {
        (void)d->consumer("g", keyed());
        FAIL() << "a keyed group on a drop-oldest queue";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
    }
}

TEST(KeyedGroupTest, aDeletedKeyedGroupGivesItsLaneBack) {
    QueueOptions o;
    o.keyed_groups = 1;
    TempQueue q("keyed-lane-back", o);
    auto p = q->producer();
    send(p, "k", "k0");
    send(p, "k", "k1");
    {
        auto c = q->consumer("first", keyed());
        auto m = c.receive(1000ms);
        ASSERT_TRUE(m.ok());
        ASSERT_TRUE(m->ack().ok());
    }
    {
        auto region = detail::Region::open(q.name);
        detail::ScopedParticipant admin(*region, layout::Role::admin);
        detail::delete_group(*region, "first", admin.get());
    }
    auto c = q->consumer("second", keyed());
    auto m = c.receive(1000ms);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->text(), "k0") << "a new group starts from the oldest, with an empty key index";
    EXPECT_TRUE(take_all(c).empty()) << "k1 waits behind k0";
}

}  // namespace
}  // namespace shmq
