// Transactions in one process (shmq/internal/tx_protocol.hpp): what a
// reader sees before and after commit, abort, lease_lost fencing, a late
// transaction aborted by a peer, and the arguments refused.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/tx_resolver.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::TempQueue;

QueueOptions small(uint32_t partitions = 1, uint32_t lease_ms = 30'000) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 64;
    o.lease_ms = lease_ms;
    return o;
}

std::vector<std::string> drain(Consumer& c, Millis wait = 100ms) {
    std::vector<std::string> out;
    while (auto m = c.receive(wait)) {
        out.emplace_back(m->text());
        EXPECT_TRUE(m->ack().ok());
    }
    return out;
}

TEST(TransactionTest, outputsAreInvisibleUntilCommitThenEverythingHappens) {
    TempQueue in("tx-in", small()), out("tx-out", small(2));
    ASSERT_TRUE(in->producer().send("photo-1", {.key = "u1"}).ok());
    auto stage = in->consumer("resize");
    auto resized = out->producer();
    auto reader = out->consumer("index");

    Transaction tx(stage);
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(resized, "thumb-1", {.key = m->key()}).ok());
    ASSERT_TRUE(tx.send(resized, "thumb-1b", {.key = m->key()}).ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    EXPECT_EQ(m->ack().code(), Errc::already_settled);  // the transaction holds it now
    EXPECT_EQ(tx.sends(), 2u);
    EXPECT_EQ(tx.acks(), 1u);
    EXPECT_EQ(reader.receive(100ms).code(), Errc::timeout) << "an uncommitted output was delivered";

    ASSERT_TRUE(tx.commit().ok());
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"thumb-1", "thumb-1b"}));
    // The input was acked: nothing comes back to its group, even after a fresh look.
    EXPECT_EQ(stage.receive(100ms).code(), Errc::timeout);
    auto r = detail::Region::open(in.name);
    EXPECT_EQ(r->group_partition(0, 0).floor.load(), 1u);
}

TEST(TransactionTest, aReaderWaitsAtAnUncommittedOutputAndKeepsTheOrder) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    ASSERT_TRUE(in->producer().send("a").ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto other = out->producer();
    auto reader = out->consumer("r");
    Transaction tx(stage);
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(p, "from-tx").ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    ASSERT_TRUE(other.send("after").ok());  // later offset of the same partition
    EXPECT_EQ(reader.receive(100ms).code(), Errc::timeout) << "the partition must wait at the transaction's output";
    ASSERT_TRUE(tx.commit().ok());
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"from-tx", "after"}));
}

TEST(TransactionTest, abortDiscardsTheOutputsAndRedeliversTheInputs) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    ASSERT_TRUE(in->producer().send("job").ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto reader = out->consumer("r");
    {
        Transaction tx(stage);
        auto m = stage.receive(1000ms);
        ASSERT_TRUE(m);
        ASSERT_TRUE(tx.send(p, "never").ok());
        ASSERT_TRUE(tx.ack(*m).ok());
        tx.abort();
        EXPECT_EQ(tx.sends(), 0u);
        // Reusable: a new transaction with the redelivery, then dropped unfinished.
        auto again = stage.receive(1000ms);
        ASSERT_TRUE(again);
        EXPECT_EQ(again->text(), "job");
        EXPECT_EQ(again->deliveries(), 2u);
        ASSERT_TRUE(tx.send(p, "never either").ok());
        ASSERT_TRUE(tx.ack(*again).ok());
    }  // destroyed open: aborted
    auto third = stage.receive(1000ms);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->deliveries(), 3u);
    ASSERT_TRUE(third->ack().ok());
    ASSERT_TRUE(p.send("plain").ok());
    EXPECT_EQ(drain(reader), (std::vector<std::string>{"plain"}));
    auto r = detail::Region::open(out.name);
    EXPECT_EQ(r->partition(0).aborted.load(), 2u);
}

TEST(TransactionTest, outputsToSeveralQueuesAndBackToTheInputQueueCommitTogether) {
    TempQueue in("tx-in", small()), a("tx-a", small()), b("tx-b", small(3));
    ASSERT_TRUE(in->producer().send("x").ok());
    auto stage = in->consumer("g");
    auto pa = a->producer();
    auto pb = b->producer();
    auto back = in->producer();
    Transaction tx(stage);
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(pa, "to-a").ok());
    ASSERT_TRUE(tx.send(pb, "to-b", {.key = "k"}).ok());
    ASSERT_TRUE(tx.send(back, "to-in").ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    ASSERT_TRUE(tx.commit().ok());
    auto ra = a->consumer("r");
    auto rb = b->consumer("r");
    EXPECT_EQ(drain(ra), (std::vector<std::string>{"to-a"}));
    EXPECT_EQ(drain(rb), (std::vector<std::string>{"to-b"}));
    EXPECT_EQ(drain(stage), (std::vector<std::string>{"to-in"}));
}

TEST(TransactionTest, anInputLeaseLostBeforeCommitFailsItAndNothingBecomesVisible) {
    TempQueue in("tx-in", small(1, 100)), out("tx-out", small());
    ASSERT_TRUE(in->producer().send("slow").ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto reader = out->consumer("r");
    Transaction tx(stage, {.timeout = 60'000ms});  // the transaction may stay open; the lease may not
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(p, "late output").ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    // The lease runs out and a peer of the group takes the message.
    std::this_thread::sleep_for(300ms);
    auto peer = in->consumer("g");
    auto taken = peer.receive(2000ms);
    ASSERT_TRUE(taken) << "the expired lease was not redelivered";
    EXPECT_EQ(tx.commit().code(), Errc::lease_lost);
    EXPECT_EQ(drain(reader), std::vector<std::string>{}) << "an output of a failed commit became visible";
    ASSERT_TRUE(taken->ack().ok());
}

TEST(TransactionTest, aLateTransactionIsAbortedByAPeerAndItsCommitFails) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    ASSERT_TRUE(in->producer().send("job").ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto reader = out->consumer("r");
    Transaction tx(stage, {.timeout = 50ms});
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.ack(*m).ok());
    ASSERT_TRUE(tx.send(p, "output").ok());
    std::this_thread::sleep_for(150ms);
    // What a peer's maintenance (or shmqd) does with a late owner's transaction.
    auto r_in = detail::Region::open(in.name);
    auto r_out = detail::Region::open(out.name);
    tx::resolve_late(*r_out, sys::coarse_monotonic_ns(), 0);
    tx::resolve_late(*r_in, sys::coarse_monotonic_ns(), 0);
    EXPECT_EQ(tx.send(p, "more").code(), Errc::lease_lost);
    EXPECT_EQ(tx.commit().code(), Errc::lease_lost);
    EXPECT_EQ(drain(reader), std::vector<std::string>{});
    auto again = stage.receive(1000ms);
    ASSERT_TRUE(again) << "the input of the aborted transaction was not redelivered";
    EXPECT_EQ(again->text(), "job");
    ASSERT_TRUE(again->ack().ok());
}

TEST(TransactionTest, refusesWhatItCannotKeepAtomic) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    auto amo = in->consumer("amo", {.at_most_once = true});
    EXPECT_THROW(Transaction{amo}, Error);
    QueueOptions lossy = small();
    lossy.on_full = OnFull::drop_oldest;
    TempQueue dropping("tx-drop", lossy);
    auto dc = dropping->consumer("g");
    EXPECT_THROW(Transaction{dc}, Error);

    auto stage = in->consumer("g");
    Transaction tx(stage);
    auto p = out->producer();
    EXPECT_EQ(tx.send(p, "x", {.dedup_id = "id"}).code(), Errc::invalid_argument);
    std::vector<Producer> many;
    for (std::size_t i = 0; i < kMaxTransactionOutputs; ++i) {
        many.push_back(out->producer());
        ASSERT_TRUE(tx.send(many.back(), "x").ok());
    }
    EXPECT_EQ(tx.send(p, "one producer too many").code(), Errc::invalid_argument);
    Transaction second(stage);
    ASSERT_TRUE(in->producer().send("m").ok());
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(second.ack(*m).code(), Errc::invalid_argument) << "two open transactions of one consumer";
    Transaction other(stage);
    tx.abort();
    ASSERT_TRUE(other.ack(*m).ok());
    EXPECT_EQ(other.ack(*m).code(), Errc::already_settled);
    auto foreign = in->consumer("h");
    Transaction theirs(foreign);
    ASSERT_TRUE(in->producer().send("n").ok());
    auto mine = stage.receive(1000ms);
    ASSERT_TRUE(mine);
    EXPECT_EQ(theirs.ack(*mine).code(), Errc::invalid_argument);
    ASSERT_TRUE(other.commit().ok());
}

TEST(TransactionTest, sendBatchAndAckAllCommitTogetherOrNotAtAll) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    auto feeder = in->producer();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(feeder.send("in-" + std::to_string(i)).ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto reader = out->consumer("r");
    Transaction tx(stage);
    std::vector<Message> batch(10);
    std::vector<std::string> texts;
    std::vector<std::span<const std::byte>> payloads;
    for (int round = 0; round < 2; ++round) {  // aborted, then committed
        const BatchResult got = stage.receive_batch(batch, 1000ms);
        ASSERT_EQ(got.count, 10u);
        texts.clear();
        payloads.clear();
        for (auto& m : batch) texts.push_back("out-" + std::string(m.text()));
        for (const auto& t : texts) payloads.push_back(std::as_bytes(std::span(t.data(), t.size())));
        const BatchResult sent = tx.send_batch(p, payloads, {.key = "k"});
        ASSERT_TRUE(sent.ok());
        EXPECT_EQ(sent.count, 10u);
        const BatchResult taken = tx.ack_all(batch);
        ASSERT_TRUE(taken.ok());
        EXPECT_EQ(taken.count, 10u);
        EXPECT_EQ(tx.sends(), 10u);
        EXPECT_EQ(tx.acks(), 10u);
        EXPECT_EQ(batch[0].ack().code(), Errc::already_settled);
        EXPECT_EQ(tx.ack_all(batch).code(), Errc::already_settled) << "taken twice";
        EXPECT_EQ(reader.receive(50ms).code(), Errc::timeout) << "an uncommitted output was delivered";
        if (round == 0) {
            tx.abort();
            continue;
        }
        ASSERT_TRUE(tx.commit().ok());
    }
    std::vector<std::string> want;
    for (int i = 0; i < 10; ++i) want.push_back("out-in-" + std::to_string(i));
    EXPECT_EQ(drain(reader), want) << "the aborted batch's outputs must never show";
    EXPECT_EQ(stage.receive(100ms).code(), Errc::timeout) << "the committed inputs came back";
    EXPECT_EQ(tx.send_batch(p, {}).count, 0u);
}

// ack_all stops at the first message it refuses: the ones before it are the
// transaction's (ACKed at commit), that one and the ones after stay the
// caller's, settled as it likes.
TEST(TransactionTest, ackAllStopsAtARefusedMessageAndKeepsWhatItTookBefore) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    auto feeder = in->producer();
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(feeder.send("in-" + std::to_string(i)).ok());
    auto stage = in->consumer("g");
    auto p = out->producer();
    auto reader = out->consumer("r");
    Transaction tx(stage);
    std::vector<Message> batch(6);
    ASSERT_EQ(stage.receive_batch(batch, 1000ms).count, 6u);
    ASSERT_TRUE(batch[3].ack().ok());  // settled outside: the transaction must refuse it
    ASSERT_TRUE(tx.send(p, "out").ok());
    const BatchResult taken = tx.ack_all(batch);
    EXPECT_EQ(taken.code(), Errc::already_settled);
    EXPECT_EQ(taken.count, 3u);
    EXPECT_EQ(tx.acks(), 3u);
    EXPECT_EQ(batch[2].ack().code(), Errc::already_settled) << "taken by the transaction";
    ASSERT_TRUE(batch[5].nack().ok()) << "after the refused one: still the caller's";
    ASSERT_TRUE(tx.commit().ok());
    EXPECT_EQ(drain(reader), std::vector<std::string>{"out"});
    std::vector<std::string> back;
    while (auto m = stage.receive(100ms)) {
        back.emplace_back(m->text());
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(back, std::vector<std::string>{"in-5"}) << "the committed inputs were ACKed, in-4 is still held";
    ASSERT_TRUE(batch[4].ack().ok());
}

// tx_protocol.hpp (T7): a peer commits the outputs of an owner that is late
// after its commit point (a resolver's round), a reader takes them and the
// ring wraps over their slots; the owner, going on, sees the round and CASes
// instead of storing (a store would land on the new lap and lose it): every
// message is delivered once, and the next transaction goes on.
TEST(TransactionTest, aLateOwnersCommittedOutputsAreRolledForwardByAPeerAndNotCommittedTwice) {
    TempQueue in("tx-in", small()), out("tx-out", small());
    static std::string out_name;
    out_name = out.name;
    ASSERT_TRUE(in->producer().send("a").ok());
    ASSERT_TRUE(in->producer().send("b").ok());
    auto stage = in->consumer("g");
    auto p = out->producer({.writer = WriterMode::shared});  // the filler below sends while p is mid-commit
    auto reader = out->consumer("r");
    auto r_out = detail::Region::open(out.name);
    const uint64_t rounds_before = r_out->tx_entry(0).resolutions.load() + r_out->tx_entry(1).resolutions.load() +
                                   r_out->tx_entry(2).resolutions.load();
    Transaction tx(stage, {.timeout = 20ms});
    auto m = stage.receive(1000ms);
    ASSERT_TRUE(m);
    ASSERT_TRUE(tx.send(p, "out-a").ok());
    ASSERT_TRUE(tx.ack(*m).ok());
    static Consumer* peer_reader = nullptr;
    static Producer* filler = nullptr;
    static int resolved = 0;
    auto other = out->producer({.writer = WriterMode::shared});
    peer_reader = &reader;
    filler = &other;
    resolved = 0;
    detail::crash_hook = [](detail::CrashPoint at) {
        if (at != detail::CrashPoint::after_tx_inputs) return;
        std::this_thread::sleep_for(60ms);  // late: past the 20 ms timeout
        auto q = detail::Region::open(out_name);
        tx::resolve_late(*q, sys::coarse_monotonic_ns(), 0);
        auto got = peer_reader->receive(1000ms);
        if (!got || got->text() != "out-a" || !got->ack().ok()) return;
        ring::advance_floor(*q, 0, 0);  // what the reader's next maintenance does
        for (int i = 0; i < 64; ++i)  // offsets 1..64: the last reuses out-a's slot
            if (!filler->send("fill-" + std::to_string(i), {.timeout = 1000ms}).ok()) return;
        ++resolved;
    };
    const Status st = tx.commit();
    detail::crash_hook = nullptr;
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(resolved, 1);
    const uint64_t rounds_after = r_out->tx_entry(0).resolutions.load() + r_out->tx_entry(1).resolutions.load() +
                                  r_out->tx_entry(2).resolutions.load();
    EXPECT_EQ(rounds_after, rounds_before + 1) << "the peer committed the late owner's output in a round";
    std::vector<std::string> want;
    for (int i = 0; i < 64; ++i) want.push_back("fill-" + std::to_string(i));
    EXPECT_EQ(drain(reader), want) << "a store of the late owner landed on the new lap";
    auto n = stage.receive(1000ms);
    ASSERT_TRUE(n);
    ASSERT_TRUE(tx.send(p, "out-b").ok());
    ASSERT_TRUE(tx.ack(*n).ok());
    ASSERT_TRUE(tx.commit().ok());
    EXPECT_EQ(drain(reader), std::vector<std::string>{"out-b"});
    EXPECT_EQ(stage.receive(100ms).code(), Errc::timeout);
}

}  // namespace
}  // namespace shmq
