// The pieces of `shmq bridge` that need no server: message ids and keys as
// they come back from the network (untrusted), and OutWindow's rules (ACK
// only a stored prefix, nothing new after a failure until every answer is
// in, re-send in offset order, count sequences that do not rise).
#include <gtest/gtest.h>

#include <vector>

#include "bridge/message_key.hpp"
#include "bridge/msg_id.hpp"
#include "bridge/out_window.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq::cli::bridge {
namespace {

TEST(BridgeMsgIdTest, roundTripsAndRejectsAnythingElse) {
    const auto id = make_msg_id("orders", 42, 3, 1234567);
    EXPECT_EQ(id, "orders:42:3:1234567");
    auto ref = parse_msg_id(id, "orders", 42);
    ASSERT_TRUE(ref);
    EXPECT_EQ(ref->partition, 3u);
    EXPECT_EQ(ref->offset, 1234567u);
    for (const char* bad : {"orders:43:3:1", "order:42:3:1", "orders:42:3", "orders:42:3:", "orders:42::1",
                            "orders:42:3:1:", "orders:42:3:x", "orders:42:99999999999:1", "orders:42:3:-1",
                            "orders42:3:1", "", "orders:42:3:18446744073709551616"})
        EXPECT_FALSE(parse_msg_id(bad, "orders", 42)) << bad;
    EXPECT_EQ(make_subject("shmq", "orders", 7), "shmq.orders.p7");
}

TEST(BridgeMsgIdTest, dedupIdsArePublishedVerbatimOrInHexWithTheRedriveCountAppended) {
    EXPECT_EQ(make_dedup_msg_id("order-17", 0), "order-17");
    EXPECT_EQ(make_dedup_msg_id("order-17", 1), "order-17#redrive-1");
    EXPECT_EQ(make_dedup_msg_id("order-17", 65535), "order-17#redrive-65535");
    // Not printable (space, control bytes, high bytes), or readable as one of
    // the written forms: hex.
    EXPECT_EQ(make_dedup_msg_id(std::string("\x00\x01\xff", 3), 0), "hex:0001ff");
    EXPECT_EQ(make_dedup_msg_id("a b", 2), "hex:612062#redrive-2");
    EXPECT_EQ(make_dedup_msg_id("a\r\nb", 0), "hex:610d0a62");
    EXPECT_EQ(make_dedup_msg_id("hex:61", 0), "hex:6865783a3631");
    EXPECT_EQ(make_dedup_msg_id("x#redrive-1", 0), "hex:7823726564726976652d31");
    EXPECT_EQ(make_dedup_msg_id("x#redrive-", 0), "x#redrive-") << "no digits: not a suffix";
    EXPECT_EQ(make_dedup_msg_id("x#redrive-1a", 0), "x#redrive-1a");
    // Distinct (id, redrives) pairs, distinct Nats-Msg-Ids.
    EXPECT_NE(make_dedup_msg_id("x", 1), make_dedup_msg_id("x#redrive-1", 0));
    EXPECT_NE(make_dedup_msg_id("x", 12), make_dedup_msg_id("x#redrive-1", 2));
}

TEST(BridgeMsgIdTest, anIncomingMsgIdBecomesTheDedupId) {
    EXPECT_EQ(dedup_id_from_msg_id("order-17"), "order-17");
    EXPECT_EQ(dedup_id_from_msg_id("order-17#redrive-1"), "order-17#redrive-1") << "a redriven copy stays distinct";
    // What bridge out writes in hex comes back as the original bytes.
    for (const std::string& id : {std::string("\x00\x01\xff", 3), std::string("a b"), std::string("hex:61"),
                                 std::string("x#redrive-1"), std::string(128, '\x7f')}) {
        EXPECT_EQ(dedup_id_from_msg_id(make_dedup_msg_id(id, 0)), id);
        const std::string redriven = make_dedup_msg_id(id, 3);
        if (redriven.size() <= kMaxDedupIdBytes)
            EXPECT_EQ(dedup_id_from_msg_id(redriven), redriven) << "kept with its suffix";
        else
            EXPECT_EQ(dedup_id_from_msg_id(redriven).rfind("fnv128:", 0), 0u) << "too long with its suffix: hashed";
    }
    // Any other hex: id is taken as it is (not the canonical form of its bytes).
    for (const char* id : {"hex:6162", "hex:0A", "hex:zz", "hex:", "hex:0", "hex:00#redrive-1"})
        EXPECT_EQ(dedup_id_from_msg_id(id), id);
    EXPECT_EQ(dedup_id_from_msg_id(std::string(128, 'a')), std::string(128, 'a'));
    // Longer than a dedup id may be: hashed, deterministically, distinct per id.
    const std::string long_a(129, 'a'), long_b = std::string(128, 'a') + "b";
    const std::string ha = dedup_id_from_msg_id(long_a);
    EXPECT_EQ(ha.size(), 7u + 32u);
    EXPECT_EQ(ha.rfind("fnv128:", 0), 0u);
    EXPECT_EQ(ha, dedup_id_from_msg_id(long_a));
    EXPECT_NE(ha, dedup_id_from_msg_id(long_b));
    // An id that looks like a hash is hashed too: no incoming id can pose as another's hash.
    EXPECT_NE(dedup_id_from_msg_id(ha), ha);
    EXPECT_EQ(dedup_id_from_msg_id(ha).rfind("fnv128:", 0), 0u);
    EXPECT_LE(dedup_id_from_msg_id(std::string(100000, 'z')).size(), kMaxDedupIdBytes);
}

TEST(BridgeMessageKeyTest, hexRoundTripsAndRejectsJunk) {
    const std::string bytes("\x00\x01\xfe\xffk", 5);
    EXPECT_EQ(to_hex(bytes), "0001feff6b");
    EXPECT_EQ(from_hex("0001FEff6b"), bytes);
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_TRUE(printable_key("user-42"));
    EXPECT_FALSE(printable_key(std::string("a\nb")));
}

class OutWindowTest : public testing::Test {
protected:
    OutWindowTest() : q_("outwin", options()), consumer_(q_->consumer("g", {.kind = GroupKind::exclusive})) {}
    static QueueOptions options() {
        QueueOptions o;
        o.partitions = 1;
        o.capacity = 64;
        return o;
    }
    // Sends `n` messages and puts them in the window.
    void take(OutWindow& w, int n) {
        auto p = q_->producer();
        for (int i = 0; i < n; ++i) ASSERT_TRUE(p.send(std::to_string(i)));
        for (int i = 0; i < n; ++i) {
            auto m = consumer_.receive(Millis(1000));
            ASSERT_TRUE(m);
            ASSERT_TRUE(w.add(std::move(*m)));
        }
    }
    uint64_t lag() { return test::snapshot_of(q_.name).groups.at(0).total.lag; }
    std::vector<uint64_t> offsets(const std::vector<OutEntry*>& es) {
        std::vector<uint64_t> out;
        for (auto* e : es) out.push_back(e->offset);
        return out;
    }

    test::TempQueue q_;
    Consumer consumer_;
};

TEST_F(OutWindowTest, acksOnlyTheStoredPrefixOfAPartition) {
    OutWindow w(1);
    take(w, 3);
    const auto now = Clock::now();
    auto sends = w.to_send();
    ASSERT_EQ(offsets(sends), (std::vector<uint64_t>{0, 1, 2}));
    for (auto* e : sends) w.mark_sent(*e, now);
    w.on_stored(0, 1, 11, false);
    w.on_stored(0, 2, 12, false);
    w.settle();
    EXPECT_EQ(w.held(), 3u) << "offset 0 has no PubAck yet: nothing may be ACKed";
    EXPECT_EQ(lag(), 3u);
    w.on_stored(0, 0, 10, false);
    w.settle();
    EXPECT_EQ(w.held(), 0u);
    EXPECT_EQ(w.counters().acked, 3u);
    EXPECT_EQ(w.counters().order_violations, 0u);
    EXPECT_EQ(lag(), 0u);
}

TEST_F(OutWindowTest, resendsFailuresInOffsetOrderOnlyOnceEveryAnswerIsIn) {
    OutWindow w(1);
    take(w, 4);
    const auto now = Clock::now();
    for (auto* e : w.to_send()) w.mark_sent(*e, now);
    w.on_failed(0, 1);
    EXPECT_TRUE(w.failing());
    EXPECT_TRUE(w.to_send().empty()) << "0, 2 and 3 are still in flight";
    w.on_stored(0, 0, 10, false);
    w.on_failed(0, 3);
    EXPECT_TRUE(w.to_send().empty()) << "2 is still in flight";
    w.on_stored(0, 2, 11, false);  // stored although 1 was not: a violation, seen when it settles
    auto again = w.to_send();
    EXPECT_EQ(offsets(again), (std::vector<uint64_t>{1, 3}));
    EXPECT_FALSE(w.failing());
    for (auto* e : again) w.mark_sent(*e, now);
    w.on_stored(0, 1, 12, false);
    w.on_stored(0, 3, 13, false);
    w.on_stored(0, 3, 13, true);  // a stale second answer changes nothing
    w.settle();
    EXPECT_EQ(w.held(), 0u);
    EXPECT_EQ(w.counters().resent, 2u);
    EXPECT_EQ(w.counters().publish_errors, 2u);
    EXPECT_EQ(w.counters().order_violations, 1u) << "offset 2 (seq 11) was stored before offset 1 (seq 12)";
}

TEST_F(OutWindowTest, aDuplicateOfADedupIdIsNoOrderViolation) {
    // Two messages with one dedup id (the queue's window had passed): the
    // stream answers the second with the first's sequence.
    QueueOptions o = options();
    o.dedup_window_ms = 1000;
    test::TempQueue q("outwin-dedup", o);
    auto c = q->consumer("g", {.kind = GroupKind::exclusive});
    auto p = q->producer();
    ASSERT_TRUE(p.send("a", {.dedup_id = "same"}));
    ASSERT_TRUE(p.send("b", {.dedup_id = "other"}));
    OutWindow w(1);
    auto m = c.receive(Millis(1000));
    ASSERT_TRUE(m);
    ASSERT_TRUE(w.add(std::move(*m), 7));
    m = c.receive(Millis(1000));
    ASSERT_TRUE(m);
    ASSERT_TRUE(w.add(std::move(*m)));
    auto sends = w.to_send();
    ASSERT_EQ(sends.size(), 2u);
    EXPECT_EQ(sends[0]->dedup_id, "same");
    EXPECT_EQ(sends[0]->redrives, 7u);
    EXPECT_EQ(sends[1]->dedup_id, "other");
    EXPECT_EQ(sends[1]->redrives, 0u);
    for (auto* e : sends) w.mark_sent(*e, Clock::now());
    w.on_stored(0, 0, 20, false);
    w.on_stored(0, 1, 5, true);  // "other" was stored long ago
    w.settle();
    EXPECT_EQ(w.held(), 0u);
    EXPECT_EQ(w.counters().duplicates, 1u);
    EXPECT_EQ(w.counters().order_violations, 0u);
}

TEST_F(OutWindowTest, givesUpOnPublishesWithoutAnAnswer) {
    OutWindow w(1);
    take(w, 2);
    const auto then = Clock::now() - std::chrono::seconds(10);
    for (auto* e : w.to_send()) w.mark_sent(*e, then);
    EXPECT_EQ(w.expire(Clock::now() - std::chrono::seconds(5)), 2u);
    EXPECT_TRUE(w.failing());
    w.on_stored(0, 0, 10, false);  // a late answer for a message given up on is ignored
    EXPECT_EQ(offsets(w.to_send()), (std::vector<uint64_t>{0, 1}));
}

TEST_F(OutWindowTest, aProbeResendsTheFirstFailureAloneAndTheRestFollowInOrder) {
    OutWindow w(1);
    take(w, 4);
    EXPECT_EQ(w.newest_answered_sent_at(), Clock::time_point::min()) << "nothing answered yet";
    const auto t0 = Clock::now();
    auto first = w.to_send(1);
    ASSERT_EQ(offsets(first), (std::vector<uint64_t>{0}));
    w.mark_sent(*first[0], t0);
    w.on_stored(0, 0, 10, false);
    EXPECT_EQ(w.newest_answered_sent_at(), t0);
    for (auto* e : w.to_send()) w.mark_sent(*e, t0 + std::chrono::milliseconds(1));
    EXPECT_EQ(w.fail_all_in_flight(), 3u);  // the connection was lost
    EXPECT_TRUE(w.to_send(0).empty());
    EXPECT_TRUE(w.failing()) << "handing out nothing ends no failure";
    auto probe = w.to_send(1);
    ASSERT_EQ(offsets(probe), (std::vector<uint64_t>{1}));
    EXPECT_TRUE(w.failing()) << "2 and 3 have not been re-sent";
    const auto t1 = t0 + std::chrono::milliseconds(5);
    w.mark_sent(*probe[0], t1);
    EXPECT_TRUE(w.to_send().empty()) << "nothing goes while the probe is in flight";
    w.on_stored(0, 1, 11, true);  // a duplicate: stored before the loss; the stream answers
    EXPECT_EQ(w.newest_answered_sent_at(), t1);
    auto rest = w.to_send();
    EXPECT_EQ(offsets(rest), (std::vector<uint64_t>{2, 3}));
    EXPECT_FALSE(w.failing());
    for (auto* e : rest) w.mark_sent(*e, t1);
    w.on_stored(0, 2, 12, false);
    w.on_stored(0, 3, 13, false);
    w.settle();
    EXPECT_EQ(w.held(), 0u);
    EXPECT_EQ(w.counters().resent, 3u);
    EXPECT_EQ(w.counters().order_violations, 0u);
}

}  // namespace
}  // namespace shmq::cli::bridge
