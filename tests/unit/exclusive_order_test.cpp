// Exclusive groups keep partition order through retries and handoffs
// (shmq/internal/delivery.hpp, "Ordered delivery"; DESIGN.md promise 3), in one
// process: each Consumer handle is a participant of its own. What these pin
// down: a NACK-delayed entry holds back its partition in an exclusive group
// and not in a shared one; a redelivery restarts the partition from the
// retry (later leases come again, their old handles answer lease_lost); a
// handoff is not a failure (max_deliveries 1 still lets it through) but
// raises the lease's epoch; an expired lease counts.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

ConsumerOptions exclusive() {
    ConsumerOptions o;
    o.kind = GroupKind::exclusive;
    return o;
}

void send_numbers(TempQueue& q, int n) {
    auto p = q->producer();
    for (int i = 0; i < n; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
}

Message take(Consumer& c, std::chrono::milliseconds timeout = 1000ms) {
    auto m = c.receive(timeout);
    EXPECT_TRUE(m.ok()) << to_string(m.code());
    return m.ok() ? std::move(m).value() : Message{};
}

TEST(ExclusiveOrderTest, aNackDelayedEntryHoldsBackItsPartitionInAnExclusiveGroupOnly) {
    for (const GroupKind kind : {GroupKind::exclusive, GroupKind::shared}) {
        TempQueue q("order-nack");
        send_numbers(q, 3);
        ConsumerOptions o;
        o.kind = kind;
        auto c = q->consumer("g", o);
        Message m0 = take(c);
        ASSERT_EQ(m0.offset(), 0u);
        ASSERT_TRUE(m0.nack(300ms).ok());
        auto next = c.receive(50ms);
        if (kind == GroupKind::exclusive) {
            EXPECT_EQ(next.code(), Errc::timeout) << "offset 1 must wait behind the delayed offset 0";
            Message again = take(c, 2000ms);
            EXPECT_EQ(again.offset(), 0u);
            EXPECT_EQ(again.deliveries(), 2u);
            ASSERT_TRUE(again.ack().ok());
            EXPECT_EQ(take(c).offset(), 1u);
        } else {
            ASSERT_TRUE(next.ok()) << "a shared group does not keep order: offset 1 goes past the delayed 0";
            EXPECT_EQ(next->offset(), 1u);
            ASSERT_TRUE(next->ack().ok());
        }
    }
}

TEST(ExclusiveOrderTest, aRedeliveryRestartsThePartitionFromTheRetry) {
    TempQueue q("order-restart");
    send_numbers(q, 4);
    auto c = q->consumer("g", exclusive());
    std::vector<Message> held;
    for (int i = 0; i < 3; ++i) held.push_back(take(c));
    ASSERT_TRUE(held[0].nack().ok());
    // 0 again, then 1 and 2 again (their first leases revoked as a handoff), then 3.
    for (uint64_t want : {0u, 1u, 2u, 3u}) {
        Message m = take(c);
        EXPECT_EQ(m.offset(), want);
        EXPECT_EQ(m.deliveries(), want < 3 ? 2u : 1u);
        ASSERT_TRUE(m.ack().ok());
    }
    EXPECT_EQ(held[1].ack().code(), Errc::lease_lost);
    EXPECT_EQ(held[2].ack().code(), Errc::lease_lost);
}

TEST(ExclusiveOrderTest, aHandoffIsNotAFailureButRaisesTheEpoch) {
    QueueOptions o;
    o.max_deliveries = 1;  // one failed delivery and it is dead-lettered
    TempQueue q("order-handoff", o);
    send_numbers(q, 2);
    std::optional<Consumer> a = q->consumer("g", exclusive());
    Message held = take(*a);
    ASSERT_EQ(held.offset(), 0u);
    auto b = q->consumer("g", exclusive());
    a.reset();  // A leaves holding offset 0: B takes the partition over
    Message again = take(b);
    EXPECT_EQ(again.offset(), 0u) << "the new owner starts with what the old one held";
    EXPECT_EQ(again.deliveries(), 2u);
    EXPECT_EQ(held.ack().code(), Errc::lease_lost) << "the old owner's late ack";
    EXPECT_EQ(held.extend(1000ms).code(), Errc::already_settled);
    ASSERT_TRUE(again.ack().ok()) << "a handoff must not have sent it to the DLQ";
    EXPECT_EQ(take(b).offset(), 1u);
}

TEST(ExclusiveOrderTest, anExpiredLeaseCountsAndRestartsItsPartition) {
    QueueOptions o;
    o.lease_ms = 100;
    o.max_deliveries = 2;
    TempQueue q("order-expiry", o);
    send_numbers(q, 2);
    auto c = q->consumer("g", exclusive());
    Message m0 = take(c);
    Message m1 = take(c);
    // m1 keeps its lease; m0's expires (no shmqd: this consumer's scan revokes it).
    const auto until = std::chrono::steady_clock::now() + 600ms;
    while (std::chrono::steady_clock::now() < until) {
        ASSERT_TRUE(m1.extend(1000ms).ok());
        std::this_thread::sleep_for(20ms);
    }
    Message again0 = take(c);
    EXPECT_EQ(again0.offset(), 0u);
    EXPECT_EQ(again0.deliveries(), 2u);
    Message again1 = take(c);
    EXPECT_EQ(again1.offset(), 1u) << "offset 1 comes again after 0, its lease revoked as a handoff";
    EXPECT_EQ(again1.deliveries(), 2u);
    EXPECT_EQ(m0.ack().code(), Errc::lease_lost);
    EXPECT_EQ(m1.ack().code(), Errc::lease_lost);
    // again0 is offset 0's second counted delivery: it expires too -> DLQ (max_deliveries 2).
    ASSERT_TRUE(again1.ack().ok());
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.receive(300ms).code(), Errc::timeout) << "offset 0 used up its deliveries: dead-lettered";
    EXPECT_EQ(again0.ack().code(), Errc::lease_lost);
}

}  // namespace
}  // namespace shmq
