// The producer side of on_full=spill without shmqd: what goes to staging,
// in what order, and what a producer gets when staging is full.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/spill_protocol.hpp"
#include "support/no_shmqd.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

QueueOptions tiny_spill_queue() {
    QueueOptions o;
    o.capacity = 4;
    o.max_message = 16;
    o.on_full = OnFull::spill;
    o.spill_buffer = 8;
    return o;
}

inspect::PartitionStats partition0(const std::string& name) { return test::snapshot_of(name).partitions.at(0); }

TEST(SpillStagingTest, overflowIsStagedInOrderAndLaterSendsFollowIt) {
    test::TempQueue q("staging", tiny_spill_queue());
    test::NoShmqd alone(q.name);  // nothing drains staging
    Producer p = q->producer();
    Consumer c = q->consumer("g");  // a group: the ring keeps what it has not finished
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    EXPECT_FALSE(partition0(q.name).spilling);
    ASSERT_TRUE(p.send("4").ok()) << "a full ring never blocks a spilling producer";
    auto s = partition0(q.name);
    EXPECT_TRUE(s.spilling);
    EXPECT_EQ(s.spilled, 1u);
    EXPECT_EQ(s.spill_backlog, 1u);

    // Room in the ring again: still staged, behind "4", until shmqd refills it.
    for (int i = 0; i < 4; ++i) {
        auto m = c.receive(Millis(100));
        ASSERT_TRUE(m);
        EXPECT_EQ(m->text(), std::to_string(i));
        ASSERT_TRUE(m->ack().ok());
    }
    ASSERT_TRUE(p.send("5").ok());
    EXPECT_EQ(partition0(q.name).spilled, 2u) << "a send after a spilled one is spilled too";
    EXPECT_FALSE(c.receive(Millis(20))) << "nothing is in the ring until shmqd moves it";

    // The staged messages, in sequence order, with their lengths.
    auto region = detail::Region::open(q.name, detail::Access::read_only);
    const ring::RingRef staging = ring::spill_ring(*region, 0);
    for (uint64_t seq = 0; seq < 2; ++seq) {
        const uint64_t st = staging.state(seq).load();
        EXPECT_TRUE(ring::slot_is(st, seq) && ring::slot_kind(st) == ring::SlotKind::committed) << seq;
        const auto& h = *reinterpret_cast<const layout::SlotHeader*>(staging.base(seq));
        EXPECT_EQ(h.payload_len, 1u);
        EXPECT_EQ(static_cast<char>(staging.base(seq)[layout::kSlotHeaderBytes]), static_cast<char>('4' + seq));
    }
}

TEST(SpillStagingTest, zeroCopyClaimsAreStagedAndAbortsAreSkipped) {
    test::TempQueue q("staging", tiny_spill_queue());
    test::NoShmqd alone(q.name);  // nothing drains staging
    Producer p = q->producer();
    Consumer c = q->consumer("g");
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    auto claim = p.claim(3);
    ASSERT_TRUE(claim);
    EXPECT_TRUE(claim->staged());
    EXPECT_EQ(claim->offset(), 0u) << "a staged claim's offset is its spill sequence";
    claim->abort();
    auto second = p.claim(2);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->offset(), 1u);
    std::memcpy(second->data().data(), "ok", 2);
    ASSERT_TRUE(second->commit().ok());
    auto region = detail::Region::open(q.name, detail::Access::read_only);
    const ring::RingRef staging = ring::spill_ring(*region, 0);
    EXPECT_EQ(ring::slot_kind(staging.state(0).load()), ring::SlotKind::aborted);
    EXPECT_EQ(ring::slot_kind(staging.state(1).load()), ring::SlotKind::committed);
}

TEST(SpillStagingTest, fullStagingWithoutShmqdAnswersOverloadedAfterTheTimeout) {
    test::TempQueue q("staging", tiny_spill_queue());
    test::NoShmqd alone(q.name);  // nothing drains staging
    Producer p = q->producer();
    Consumer c = q->consumer("g");
    for (int i = 0; i < 4 + 8; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok()) << i;
    EXPECT_EQ(p.send("x", {.timeout = Millis(0)}).code(), Errc::overloaded);
    EXPECT_EQ(p.send("y", {.timeout = Millis(30)}).code(), Errc::overloaded);
    const auto s = partition0(q.name);
    EXPECT_EQ(s.spill_refused, 2u);
    EXPECT_EQ(s.spilled, 8u);
    EXPECT_EQ(s.spill_status, "ok");
}

}  // namespace
}  // namespace shmq
