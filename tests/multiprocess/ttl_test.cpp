// Message TTL with real processes (issue 19 §2): one producer's messages
// wait past the 100 ms TTL before three consumer processes of a shared
// group start, and a second producer sends while they run, so messages
// expire everywhere in the ring while consumers deliver and scan it at the
// same time (and both ends are reached whatever the machine's speed). Every message ends exactly once: ACKed by a
// consumer, or in the DLQ with reason ttl (never both, never neither). Then
// the same while consumers are SIGKILLed at random: still every message is
// ACKed or dead-lettered; a kill can only add a DLQ copy or a redelivery of
// a message, never lose one.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "multiprocess/fixture.hpp"
#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/region.hpp"
#include "support/snapshot.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::MultiProcessTest;
using test::Record;
using test::TempQueue;

constexpr uint32_t kProducers = 2;
const uint64_t kPerProducer = test::scaled(4000);

QueueOptions ttl_options(uint32_t lease_ms) {
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 16384;  // the whole backlog fits: producers never wait
    o.dlq_capacity = 16384;
    o.lease_ms = lease_ms;
    o.message_ttl_ms = 100;
    return o;
}

// (producer, seq) of a worker payload "K:i".
std::pair<uint32_t, uint64_t> id_of(const std::string& payload) {
    const auto colon = payload.find(':');
    return {static_cast<uint32_t>(std::stoul(payload.substr(0, colon))), std::stoull(payload.substr(colon + 1))};
}

class TtlProcessesTest : public MultiProcessTest {
protected:
    // Producer 0's messages, then more than the TTL with nobody consuming;
    // then three consumers and producer 1 at once.
    void start_stale_then_live(const std::string& queue, const std::vector<std::string>& consumer_args) {
        { auto c = Queue::open(queue).consumer("g"); }  // the group exists before producer 0 sends
        start_producers(queue, 1, kPerProducer, 16, 0);
        ASSERT_TRUE(workers.wait(producers, 60s));
        std::this_thread::sleep_for(150ms);
        start_consumers(queue, "g", "shared", 3, consumer_args);
        start_producers(queue, 1, kPerProducer, 16, 1);
    }

    // Per message: how many ACKed records and how many DLQ entries.
    struct Ends {
        std::map<std::pair<uint32_t, uint64_t>, uint32_t> acked, dead;
    };
    Ends ends(const std::string& queue) {
        Ends e;
        const auto read = test::read_records(outputs["g"], /*allow_torn_tail=*/true);
        for (const Record& r : read.records) ++e.acked[{r.producer, r.seq}];
        for (const auto& d : dlq::list(*detail::Region::open(queue, detail::Access::read_only), 1'000'000)) {
            EXPECT_EQ(d.reason, "ttl");
            EXPECT_GE(d.dead_unix_ns - d.publish_unix_ns, 100'000'000u) << d.payload << ": dead-lettered before its TTL";
            ++e.dead[id_of(d.payload)];
        }
        return e;
    }
};

TEST_F(TtlProcessesTest, everyMessageIsEitherAckedOnceOrDeadLetteredOnceWhileThreeConsumersRaceTheExpiry) {
    TempQueue q("ttl-mp", ttl_options(60'000));
    start_stale_then_live(q.name, {"--batch", "4", "--hold-us", "300", "--idle-ms", "1500"});
    ASSERT_TRUE(workers.wait_all(120s));
    const Ends e = ends(q.name);
    uint64_t acked = 0, dead = 0;
    for (uint32_t k = 0; k < kProducers; ++k)
        for (uint64_t i = 0; i < kPerProducer; ++i) {
            const auto a = e.acked.count({k, i}) ? e.acked.at({k, i}) : 0u;
            const auto d = e.dead.count({k, i}) ? e.dead.at({k, i}) : 0u;
            ASSERT_EQ(a + d, 1u) << k << ":" << i << " ACKed " << a << " time(s), dead-lettered " << d;
            acked += a;
            dead += d;
        }
    std::cout << "[ ttl ] " << acked << " ACKed, " << dead << " expired to the DLQ\n";
    EXPECT_GT(acked, 0u);
    EXPECT_GE(dead, kPerProducer) << "producer 0's messages waited past the TTL";
    const auto stats = test::snapshot_of(q.name);
    EXPECT_EQ(stats.dlq.expired_ttl, dead);
    EXPECT_EQ(stats.dlq.expired_ttl_dropped, 0u);
}

TEST_F(TtlProcessesTest, consumersKilledAtRandomLoseNoMessageToTheExpiry) {
    TempQueue q("ttl-kill", ttl_options(300));
    const std::vector<std::string> args{"--batch", "4", "--hold-us", "300", "--idle-ms", "1500"};
    start_stale_then_live(q.name, args);
    std::mt19937 rng(20261207);
    for (int k = 0; k < 8; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 80));
        const std::size_t victim = 1 + rng() % 3;
        workers.kill(*consumers[consumers.size() - victim]);
        consumers.erase(consumers.end() - static_cast<std::ptrdiff_t>(victim));
        start_consumers(q.name, "g", "shared", 1, args);
    }
    std::vector<test::Worker*> left = producers;
    left.insert(left.end(), consumers.begin(), consumers.end());
    ASSERT_TRUE(workers.wait(left, 120s));
    // Whatever the killed consumers held: its lease expires (300 ms), and it is
    // redelivered or, past its TTL, dead-lettered; drain what is left.
    std::set<std::pair<uint32_t, uint64_t>> drained;
    {
        auto c = q->consumer("g");
        for (auto m = c.receive(1000ms); m.ok(); m = c.receive(1000ms)) {
            drained.insert(id_of(std::string(m->text())));
            ASSERT_TRUE(m->ack().ok());
        }
    }
    const Ends e = ends(q.name);
    uint64_t lost = 0;
    for (uint32_t k = 0; k < kProducers; ++k)
        for (uint64_t i = 0; i < kPerProducer; ++i)
            if (!e.acked.count({k, i}) && !e.dead.count({k, i}) && !drained.count({k, i})) {
                ADD_FAILURE() << k << ":" << i << " was neither ACKed nor dead-lettered";
                if (++lost == 10) return;
            }
    EXPECT_FALSE(e.dead.empty()) << "producer 0's messages waited past the TTL";
    const auto stats = test::snapshot_of(q.name);
    ASSERT_EQ(stats.groups.size(), 1u);
    EXPECT_EQ(stats.groups[0].total.lag, 0u) << "every message finished: ACKed or expired";
    // A mover killed between its DLQ commit and its last step leaves a second
    // copy; the count is of messages.
    EXPECT_EQ(stats.dlq.expired_ttl, e.dead.size());
}

}  // namespace
}  // namespace shmq
