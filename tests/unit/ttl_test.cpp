// Message TTL (shmq/internal/expiry.hpp), in one process: an expired message
// is never delivered, wherever it sits in the ring; it makes one DLQ entry
// (reason ttl) however many groups had not had it; in flight it stays its
// holder's; a full DLQ or ttl_action drop counts it and lets it go; a keyed
// group's waiting message expires when its turn comes; a Transaction's
// outputs carry theirs. expire_partition is
// the look shmqd and consumers' periodic scans make (tests/daemon has shmqd's).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/expiry.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/clock.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

QueueOptions with_ttl(uint32_t ttl_ms, uint32_t partitions = 1) {
    QueueOptions o;
    o.partitions = partitions;
    o.message_ttl_ms = ttl_ms;
    return o;
}

std::vector<std::string> drain(Consumer& c) {
    std::vector<std::string> out;
    for (;;) {
        auto m = c.receive(0ms);
        if (!m.ok()) break;
        out.emplace_back(m->text());
        EXPECT_TRUE(m->ack().ok());
    }
    return out;
}

// The look shmqd makes (a mover of its own, as shmqd attaches one).
uint32_t expiry_look(const std::string& name) {
    auto r = detail::Region::open(name);
    detail::ScopedParticipant mover(*r, layout::Role::consumer);
    uint32_t n = 0;
    for (uint32_t p = 0; p < r->partitions(); ++p)
        n += ring::expire_partition(*r, p, sys::unix_ns(), sys::monotonic_ns(), mover.get().id());
    return n;
}

std::vector<dlq::DeadLetter> dead_letters(const std::string& name) {
    return dlq::list(*detail::Region::open(name, detail::Access::read_only), 1000);
}

inspect::DlqStats dlq_stats(const std::string& name) { return inspect::snapshot(*detail::Region::open(name)).dlq; }

TEST(TtlTest, unconsumedMessagesGoToTheDlqWithReasonTtlAndAreNeverDelivered) {
    TempQueue q("ttl-queue", with_ttl(100, 2));
    auto c = q->consumer("g");  // the group exists; nothing received yet
    auto p = q->producer();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i), SendOptions{.key = std::to_string(i)}).ok());
    std::this_thread::sleep_for(150ms);
    EXPECT_TRUE(drain(c).empty()) << "each delivery path checks the TTL first";
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 10u);
    for (const auto& d : dead) {
        EXPECT_EQ(d.reason, "ttl");
        EXPECT_EQ(d.deliveries, 0u) << "never delivered";
        EXPECT_EQ(d.group, "g");
    }
    EXPECT_EQ(dlq_stats(q.name).expired_ttl, 10u);
    EXPECT_EQ(dlq_stats(q.name).expired_ttl_dropped, 0u);
    ASSERT_TRUE(p.send("fresh").ok());
    EXPECT_EQ(drain(c), std::vector<std::string>{"fresh"}) << "the partition moved past them";
}

TEST(TtlTest, mixedPerMessageTtlsExpireInTheMiddleOfTheRingNotOnlyAtItsHead) {
    TempQueue q("ttl-middle");
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("keep0").ok());
    ASSERT_TRUE(p.send("short1", SendOptions{.ttl = 40ms}).ok());
    ASSERT_TRUE(p.send("keep2", SendOptions{.ttl = 60s}).ok());
    ASSERT_TRUE(p.send("short3", SendOptions{.ttl = 40ms}).ok());
    ASSERT_TRUE(p.send("keep4").ok());
    std::this_thread::sleep_for(80ms);
    EXPECT_EQ(expiry_look(q.name), 2u) << "behind an unexpired head, without any consumer receiving";
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 2u);
    EXPECT_EQ(dead[0].payload, "short1");
    EXPECT_EQ(dead[1].payload, "short3");
    EXPECT_EQ(dead[0].offset, 1u);
    EXPECT_EQ(dead[1].offset, 3u);
    EXPECT_EQ(drain(c), (std::vector<std::string>{"keep0", "keep2", "keep4"}));
}

TEST(TtlTest, theLowerOfTheQueueTtlAndTheMessagesOwnApplies) {
    TempQueue q("ttl-lower", with_ttl(60'000));
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("own-shorter", SendOptions{.ttl = 30ms}).ok());
    ASSERT_TRUE(p.send("own-longer", SendOptions{.ttl = 600'000ms}).ok());
    std::this_thread::sleep_for(60ms);
    EXPECT_EQ(drain(c), std::vector<std::string>{"own-longer"}) << "60 s of the queue's still apply to it";
    ASSERT_EQ(dead_letters(q.name).size(), 1u);
}

TEST(TtlTest, aMessageInFlightWhenItsTtlPassesIsNotTakenAway) {
    TempQueue q("ttl-flight", with_ttl(60));
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("held").ok());
    ASSERT_TRUE(p.send("nacked").ok());
    auto held = c.receive(1s);
    auto nacked = c.receive(1s);
    ASSERT_TRUE(held.ok() && nacked.ok());
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(expiry_look(q.name), 0u) << "both are in flight";
    EXPECT_EQ(held->text(), "held");
    EXPECT_TRUE(held->ack().ok()) << "its holder keeps it past the TTL";
    // A NACK after the TTL brings it back expired: dead-lettered, not redelivered.
    ASSERT_TRUE(nacked->nack().ok());
    EXPECT_TRUE(drain(c).empty());
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].payload, "nacked");
    EXPECT_EQ(dead[0].reason, "ttl");
    EXPECT_EQ(dead[0].deliveries, 1u);
}

TEST(TtlTest, oneDlqEntryPerExpiredMessageHoweverManyGroupsMissedIt) {
    TempQueue q("ttl-groups", with_ttl(80));
    auto shared = q->consumer("shared-g");
    ConsumerOptions ex;
    ex.kind = GroupKind::exclusive;
    auto exclusive = q->consumer("exclusive-g", ex);
    ConsumerOptions keyed;
    keyed.kind = GroupKind::keyed;
    auto keyed_c = q->consumer("keyed-g", keyed);
    auto p = q->producer();
    ASSERT_TRUE(p.send("seen-by-shared").ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.send("missed" + std::to_string(i), SendOptions{.key = "k"}).ok());
    auto first = shared.receive(1s);
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(first->ack().ok());  // finished by one group before its TTL
    std::this_thread::sleep_for(120ms);
    // The look expires the five through the shared group's entries; the first
    // one, which only the exclusive and keyed groups missed, is their
    // consumers' to expire (they write those entries alone).
    EXPECT_EQ(expiry_look(q.name), 5u);
    EXPECT_TRUE(drain(exclusive).empty());
    EXPECT_TRUE(drain(keyed_c).empty());
    EXPECT_TRUE(drain(shared).empty());
    const auto dead = dead_letters(q.name);
    EXPECT_EQ(dead.size(), 6u) << "one entry per message: three groups missed five of them, two the first";
    EXPECT_EQ(dlq_stats(q.name).expired_ttl, 6u);
    // Every group moved past them: nothing holds the ring.
    const auto stats = inspect::snapshot(*detail::Region::open(q.name));
    for (const auto& g : stats.groups)
        for (const auto& gp : g.partitions) EXPECT_EQ(gp.lag, 0u) << g.name;
}

TEST(TtlTest, aFullDlqDropsAndCountsExpiredMessagesInsteadOfBlockingThePartition) {
    QueueOptions o = with_ttl(40);
    o.dlq_capacity = 2;
    TempQueue q("ttl-dlq-full", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());
    std::this_thread::sleep_for(80ms);
    EXPECT_EQ(expiry_look(q.name), 5u);
    EXPECT_EQ(dead_letters(q.name).size(), 2u);
    EXPECT_EQ(dlq_stats(q.name).expired_ttl, 5u);
    EXPECT_EQ(dlq_stats(q.name).expired_ttl_dropped, 3u);
    ASSERT_TRUE(p.send("after").ok());
    EXPECT_EQ(drain(c), std::vector<std::string>{"after"});
}

TEST(TtlTest, ttlActionDropOnlyCounts) {
    QueueOptions o = with_ttl(40);
    o.ttl_action = TtlAction::drop;
    TempQueue q("ttl-drop", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());
    std::this_thread::sleep_for(80ms);
    EXPECT_TRUE(drain(c).empty());
    EXPECT_TRUE(dead_letters(q.name).empty());
    EXPECT_EQ(dlq_stats(q.name).expired_ttl, 4u);
    EXPECT_EQ(dlq_stats(q.name).expired_ttl_dropped, 4u);
}

TEST(TtlTest, aKeyedGroupsWaitingMessageExpiresWhenItsTurnComesAndTheKeyGoesOn) {
    QueueOptions o;
    TempQueue q("ttl-keyed", o);
    ConsumerOptions keyed;
    keyed.kind = GroupKind::keyed;
    auto c = q->consumer("g", keyed);
    auto p = q->producer();
    ASSERT_TRUE(p.send("k0", SendOptions{.key = "k"}).ok());
    ASSERT_TRUE(p.send("k1", SendOptions{.key = "k", .ttl = 40ms}).ok());
    ASSERT_TRUE(p.send("k2", SendOptions{.key = "k"}).ok());
    auto head = c.receive(1s);
    ASSERT_TRUE(head.ok());
    ASSERT_EQ(head->text(), "k0");
    EXPECT_FALSE(c.receive(0ms).ok()) << "k1 waits behind k0";
    std::this_thread::sleep_for(80ms);
    ASSERT_TRUE(head->ack().ok());
    auto next = c.receive(1s);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->text(), "k2") << "k1 expired while it waited: dead-lettered, and the key went on";
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].payload, "k1");
}

TEST(TtlTest, aDelayedMessagesTtlCountsFromItsMoveIntoThePartition) {
    QueueOptions o;
    o.delay_capacity = 4;
    TempQueue q("ttl-delayed", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("lives", SendOptions{.ttl = 2000ms, .delay = 40ms}).ok());
    ASSERT_TRUE(p.send("expires", SendOptions{.ttl = 20ms, .delay = 40ms}).ok());
    std::vector<std::string> got;
    for (int i = 0; i < 50 && got.empty(); ++i) {  // the first moves 40 ms on
        auto m = c.receive(100ms);
        if (m.ok()) {
            got.emplace_back(m->text());
            ASSERT_TRUE(m->ack().ok());
            if (got.back() != "lives") break;
        }
    }
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front(), "lives") << "2 s from its move, not from its send";
    std::this_thread::sleep_for(60ms);
    EXPECT_TRUE(drain(c).empty()) << "20 ms after its move it had expired";
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].payload, "expires");
    EXPECT_EQ(dead[0].reason, "ttl");
}

// A Transaction's outputs carry SendOptions::ttl as Producer::send's do
// (send and send_batch): once committed, they expire like any message.
TEST(TtlTest, aTransactionsOutputsCarryTheirTtl) {
    TempQueue in("ttl-tx-in"), out("ttl-tx-out");
    ASSERT_TRUE(in->producer().send("input").ok());
    auto stage = in->consumer("stage");
    auto p = out->producer();
    auto reader = out->consumer("g");
    Transaction tx(stage);
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(p, "short0", SendOptions{.ttl = 40ms}).ok());
    const std::string a = "short1", b = "short2";
    const std::vector<std::span<const std::byte>> batch{std::as_bytes(std::span(a)), std::as_bytes(std::span(b))};
    ASSERT_EQ(tx.send_batch(p, batch, SendOptions{.ttl = 40ms}).count, 2u);
    ASSERT_TRUE(tx.send(p, "keep3", SendOptions{.ttl = 60s}).ok());
    ASSERT_TRUE(tx.send(p, "keep4").ok());
    EXPECT_EQ(tx.send(p, "x", SendOptions{.ttl = -1ms}).code(), Errc::invalid_argument);
    ASSERT_TRUE(tx.ack(*m).ok());
    ASSERT_TRUE(tx.commit().ok());
    std::this_thread::sleep_for(80ms);
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"keep3", "keep4"})) << "the block is not part of the payload";
    const auto dead = dead_letters(out.name);
    ASSERT_EQ(dead.size(), 3u);
    for (std::size_t i = 0; i < dead.size(); ++i) {
        EXPECT_EQ(dead[i].payload, "short" + std::to_string(i));
        EXPECT_EQ(dead[i].reason, "ttl");
    }
}

TEST(TtlTest, aTtlIsRefusedWhereItCannotApply) {
    TempQueue q("ttl-refused");
    auto p = q->producer();
    EXPECT_EQ(p.claim(8, SendOptions{.ttl = 10ms}).code(), Errc::invalid_argument) << "claim(): send() only";
    EXPECT_EQ(p.send("x", SendOptions{.ttl = -1ms}).code(), Errc::invalid_argument);
    QueueOptions o;
    o.on_full = OnFull::drop_oldest;
    TempQueue dropping("ttl-refused-drop", o);
    EXPECT_EQ(dropping->producer().send("x", SendOptions{.ttl = 10ms}).code(), Errc::invalid_argument);
    o.message_ttl_ms = 100;
    EXPECT_THROW(Queue::create(test::unique_queue_name("ttl-refused-q"), o), Error);
}

// A mover killed between marking the slot (E2) and finishing (E4): its
// reaper puts the slot back, and the next look expires it again.
TEST(TtlTest, aDeadMoversMarkIsPutBackByItsReaperAndTheMessageExpiresAgain) {
    TempQueue q("ttl-reaped", with_ttl(30));
    auto c = q->consumer("g");
    auto p = q->producer();
    ASSERT_TRUE(p.send("m").ok());
    std::this_thread::sleep_for(60ms);
    auto r = detail::Region::open(q.name);
    const pid_t child = ::fork();
    if (child == 0) {  // a mover that took the group's entry (E1), marked the slot (E2), and died there
        auto own = detail::Region::open(q.name);  // descriptors of its own: its locks die with it
        detail::Participant me = detail::attach_participant(*own, layout::Role::consumer, layout::kNoGroup, 0);
        auto& e = own->lease(0, 0, 0);
        uint64_t w = e.word.load();
        if (!e.word.compare_exchange_strong(w, ring::lease_word(ring::LeaseKind::leased, 0, me.id()))) ::_exit(1);
        own->group_partition(0, 0).next.store(1);  // (E1) moves next past a fresh entry it takes
        own->slot(0, 0).state.store(ring::slot_state(0, ring::SlotKind::expired, me.id()));
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(detail::reap_dead_participants(*r, 0), 1u);
    EXPECT_EQ(ring::slot_kind(r->slot(0, 0).state.load()), ring::SlotKind::committed) << "the reaper put it back";
    EXPECT_EQ(ring::lease_kind(r->lease(0, 0, 0).word.load()), ring::LeaseKind::retry) << "and its move-lease";
    EXPECT_TRUE(drain(c).empty()) << "the redelivery expires it instead";
    const auto dead = dead_letters(q.name);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].deliveries, 0u);
    EXPECT_EQ(dlq_stats(q.name).expired_ttl, 1u);
}

}  // namespace
}  // namespace shmq
