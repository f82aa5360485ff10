// The bridge table (lib/src/bridge/bridge_table.*): what a running bridge
// publishes, what readers see of live, dead and damaged entries.
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "shmq/internal/bridge_table.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/integrity.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using layout::BridgeCounter;
using layout::BridgeDirection;
using test::TempQueue;

struct Attached {
    std::shared_ptr<detail::Region> region;
    detail::ScopedParticipant me;
    explicit Attached(const std::string& name)
        : region(detail::Region::open(name, detail::Access::read_write)), me(*region, layout::Role::admin) {}
    uint64_t token() const { return me.get().token(); }
};

TEST(BridgeTableTest, aClaimedEntryIsReadBackUntilReleased) {
    TempQueue q("bridge-table");
    auto consumer = q->consumer("to-nats", {.kind = GroupKind::exclusive});
    Attached a(q.name);
    const auto group = detail::find_group(*a.region, "to-nats");
    ASSERT_TRUE(group);
    {
        auto out = detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::out, static_cast<uint16_t>(*group),
                                               "ORDERS", "");
        auto in = detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::in, layout::kNoGroup, "ORDERS",
                                              "host-b");
        ASSERT_TRUE(out && in);
        out->set(BridgeCounter::messages, 42);
        out->set(BridgeCounter::pending_acks, 7);
        out->set_connected(true);
        in->set(BridgeCounter::lag, 99);
        const auto views = detail::read_bridges(*a.region);
        ASSERT_EQ(views.size(), 2u);
        EXPECT_EQ(views[0].direction, BridgeDirection::out);
        EXPECT_EQ(views[0].group, *group);
        EXPECT_EQ(views[0].stream, "ORDERS");
        EXPECT_TRUE(views[0].connected);
        EXPECT_EQ(views[0].counter(BridgeCounter::messages), 42u);
        EXPECT_EQ(views[0].counter(BridgeCounter::pending_acks), 7u);
        EXPECT_EQ(views[1].direction, BridgeDirection::in);
        EXPECT_EQ(views[1].consumer, "host-b");
        EXPECT_FALSE(views[1].connected);

        const auto snap = inspect::snapshot(*a.region);
        ASSERT_EQ(snap.bridges.size(), 2u);
        EXPECT_EQ(snap.bridges[0].direction, "out");
        EXPECT_EQ(snap.bridges[0].group, "to-nats");
        EXPECT_EQ(snap.bridges[0].messages, 42u);
        EXPECT_EQ(snap.bridges[1].direction, "in");
        EXPECT_EQ(snap.bridges[1].lag, 99u);
    }
    EXPECT_TRUE(detail::read_bridges(*a.region).empty());
}

TEST(BridgeTableTest, aKilledBridgesEntryIsHiddenAndTakenOver) {
    TempQueue q("bridge-dead");
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        Attached a(q.name);
        auto s = detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::in, layout::kNoGroup, "S", "dead");
        if (!s) ::_exit(3);
        s->set(BridgeCounter::messages, 5);
        ::raise(SIGKILL);  // leaves the entry claimed
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

    Attached a(q.name);
    EXPECT_TRUE(detail::read_bridges(*a.region).empty()) << "a dead bridge's figures are not shown";
    // Every entry, the dead bridge's one included, can be taken; one more cannot.
    std::vector<detail::BridgeStatus> held;
    for (uint32_t i = 0; i < layout::kMaxBridges; ++i) {
        auto s = detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::in, layout::kNoGroup, "S",
                                             "c" + std::to_string(i));
        ASSERT_TRUE(s) << "entry " << i;
        held.push_back(std::move(*s));
    }
    EXPECT_FALSE(detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::in, layout::kNoGroup, "S", "x"));
    const auto views = detail::read_bridges(*a.region);
    ASSERT_EQ(views.size(), layout::kMaxBridges);
    for (const auto& v : views) EXPECT_EQ(v.counter(BridgeCounter::messages), 0u) << "a taken-over entry starts at 0";
}

TEST(BridgeTableTest, scribbledEntriesAreSkippedByReadersAndFoundByTheIntegrityCheck) {
    TempQueue q("bridge-hostile");
    Attached a(q.name);
    auto s = detail::BridgeStatus::claim(*a.region, a.token(), BridgeDirection::out, 0, "S\x01tream", "");
    ASSERT_TRUE(s);
    auto& e = a.region->bridge(0);
    // Group 0 does not exist as a group: an out entry naming it is dropped
    // by the snapshot, and a non-printable byte of the name is masked.
    auto views = detail::read_bridges(*a.region);
    ASSERT_EQ(views.size(), 1u);
    EXPECT_EQ(views[0].stream, "S?tream");
    EXPECT_TRUE(inspect::snapshot(*a.region).bridges.empty());

    detail::IntegrityCheck check(*a.region);
    EXPECT_FALSE(check.run(1 << 20));
    e.group.store(40000, std::memory_order_relaxed);
    EXPECT_TRUE(detail::read_bridges(*a.region).empty());
    auto damage = check.run(1 << 20);
    ASSERT_TRUE(damage);
    EXPECT_NE(damage->find("bridge table: entry 0 names group 40000"), std::string::npos) << *damage;
    e.group.store(0, std::memory_order_relaxed);
    e.direction.store(7, std::memory_order_relaxed);
    EXPECT_TRUE(detail::read_bridges(*a.region).empty());
    damage = check.run(1 << 20);
    ASSERT_TRUE(damage);
    EXPECT_NE(damage->find("unknown direction"), std::string::npos) << *damage;
    e.direction.store(1, std::memory_order_relaxed);
    e.owner.store(uint64_t{1} << 16 | 60000, std::memory_order_relaxed);
    damage = check.run(1 << 20);
    ASSERT_TRUE(damage);
    EXPECT_NE(damage->find("names no participant"), std::string::npos) << *damage;
    e.owner.store(a.token(), std::memory_order_relaxed);  // ours again, for the release
}

}  // namespace
}  // namespace shmq
