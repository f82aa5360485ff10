// on_full=drop_oldest: a full partition overwrites its oldest messages
// instead of waiting; every group sees the gap as skipped offsets, a lease
// on a dropped message is lost, and the counters add up.
#include <gtest/gtest.h>

#include <string>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

QueueOptions dropping(uint32_t capacity, uint32_t partitions = 1) {
    QueueOptions o;
    o.capacity = capacity;
    o.partitions = partitions;
    o.max_message = 16;
    o.on_full = OnFull::drop_oldest;
    return o;
}

TEST(DropOldestTest, aFullPartitionOverwritesItsOldestAndGroupsSeeTheGap) {
    test::TempQueue q("drop", dropping(4));
    Producer p = q->producer();
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.timeout = Millis(0)}).ok()) << i;
    for (int i = 6; i < 10; ++i) {  // the newest capacity's worth survives, in order
        auto m = c.receive(Millis(100));
        ASSERT_TRUE(m);
        EXPECT_EQ(m->text(), std::to_string(i));
        EXPECT_EQ(m->offset(), static_cast<uint64_t>(i));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_FALSE(c.receive(Millis(10)));
    const auto s = test::snapshot_of(q.name);
    EXPECT_EQ(s.dropped, 6u);
    EXPECT_EQ(s.partitions[0].dropped, 6u);
    EXPECT_EQ(s.groups[0].total.skipped, 6u) << "the group's gap is counted as skipped";
    EXPECT_EQ(s.groups[0].total.acked, 4u);
}

TEST(DropOldestTest, withoutAnyGroupSendsNeverWait) {
    test::TempQueue q("drop", dropping(4));
    Producer p = q->producer();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(p.send("x", {.timeout = Millis(0)}).ok()) << i;
    EXPECT_EQ(test::snapshot_of(q.name).dropped, 96u);
}

TEST(DropOldestTest, aLeaseOnADroppedMessageIsLostAndItsAckSaysSo) {
    test::TempQueue q("drop", dropping(4));
    Producer p = q->producer();
    Consumer slow = q->consumer("g");
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    auto held = slow.receive(Millis(100));
    ASSERT_TRUE(held);
    EXPECT_EQ(held->text(), "0");
    EXPECT_TRUE(held->lease_held());
    ASSERT_TRUE(p.send("4", {.timeout = Millis(0)}).ok()) << "drops offset 0 although it is leased";
    EXPECT_FALSE(held->lease_held()) << "the view may now be overwritten";
    EXPECT_EQ(held->ack().code(), Errc::lease_lost);
    for (int i = 1; i <= 4; ++i) {
        auto m = slow.receive(Millis(100));
        ASSERT_TRUE(m);
        EXPECT_EQ(m->text(), std::to_string(i));
        ASSERT_TRUE(m->ack().ok());
    }
}

TEST(DropOldestTest, groupsAheadLoseNothingAndKeylessSendsUseFreePartitionsFirst) {
    test::TempQueue q("drop", dropping(4, 2));
    Producer p = q->producer();
    Consumer fast = q->consumer("fast");
    Consumer lazy = q->consumer("lazy");
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.timeout = Millis(0)}).ok());
    EXPECT_EQ(test::snapshot_of(q.name).dropped, 0u) << "two partitions of 4 hold 8 keyless messages";
    for (int i = 0; i < 8; ++i) {
        auto m = fast.receive(Millis(100));
        ASSERT_TRUE(m);
        ASSERT_TRUE(m->ack().ok());
    }
    for (int i = 8; i < 12; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.timeout = Millis(0)}).ok());
    const auto s = test::snapshot_of(q.name);
    EXPECT_EQ(s.dropped, 4u);
    for (const auto& g : s.groups) {
        EXPECT_EQ(g.total.skipped, g.name == "lazy" ? 4u : 0u) << g.name << ": only the lazy group missed them";
    }
}

}  // namespace
}  // namespace shmq
