// shmqd's disk work as threads of one process, each with its own mapping (as
// separate processes would have): producers overflow a tiny ring into
// staging, a thread plays shmqd (daemon/spill's PartitionSpill, or
// daemon/journal's PartitionJournal, over its own mapping, segments in a temp
// dir), a consumer drains. ThreadSanitizer sees every access of the spill
// protocol (shmq/internal/spill_protocol.hpp) and of the journal's floor across them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "partition_journal.hpp"
#include "recovery.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "support/scale.hpp"
#include "support/scratch_dir.hpp"
#include "support/spill_thread.hpp"
#include "support/temp_queue.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/process.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

using test::ScratchDir;

// Payload "P:i"; one partition, so each producer's messages must arrive in send order.
void run_spill(uint32_t spill_buffer, uint64_t per_producer, Millis consumer_pause) {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 32;
    o.on_full = OnFull::spill;
    o.spill_buffer = spill_buffer;
    o.fsync = Fsync::never;
    test::TempQueue q("spill-threads", o);
    constexpr int kProducers = 2;
    auto daemon = std::make_unique<test::SpillThread>(q.name);  // serves the queue alone, as shmqd does

    Queue consumer_queue = Queue::open(q.name);
    Consumer consumer = consumer_queue.consumer("g", {.kind = GroupKind::exclusive});
    std::vector<std::thread> producers;
    for (int k = 0; k < kProducers; ++k)
        producers.emplace_back([&, k] {
            Queue mine = Queue::open(q.name);
            Producer p = mine.producer();
            for (uint64_t i = 0; i < per_producer; ++i)
                ASSERT_TRUE(p.send(std::to_string(k) + ":" + std::to_string(i)).ok()) << "send " << i;
        });

    std::vector<uint64_t> next(kProducers, 0);
    uint64_t received = 0, out_of_order = 0;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (received < kProducers * per_producer && std::chrono::steady_clock::now() < deadline) {
        auto m = consumer.receive(50ms);
        if (!m) continue;
        const std::string text(m->text());
        const auto colon = text.find(':');
        ASSERT_NE(colon, std::string::npos) << text;
        const auto k = std::stoul(text.substr(0, colon));
        const auto i = std::stoull(text.substr(colon + 1));
        ASSERT_LT(k, static_cast<unsigned long>(kProducers));
        if (i != next[k]) ++out_of_order;
        next[k] = i + 1;
        ASSERT_TRUE(m->ack().ok());
        ++received;
        if (consumer_pause.count() > 0 && received % 512 == 0) std::this_thread::sleep_for(consumer_pause);
    }
    for (auto& t : producers) t.join();
    EXPECT_EQ(received, kProducers * per_producer);
    EXPECT_EQ(out_of_order, 0u) << "a message overtook an older one of its producer";
    const auto& pc = daemon->region().partition(0);
    EXPECT_GT(layout::spill_seq(pc.spill_tail.load()), 0u) << "a 16-slot ring must have spilled";
    daemon.reset();
}

TEST(SpillThreadsTest, stagingStraightBackIntoTheRing) { run_spill(1024, test::scaled(20'000), Millis(0)); }

// A slow consumer: the backlog goes to disk and is refilled from segments.
TEST(SpillThreadsTest, backlogThroughDiskSegments) { run_spill(64, test::scaled(20'000), Millis(2)); }

// The journal as a reader the ring waits for: 2 producers, a consumer, a
// thread driving PartitionJournal; afterwards the journal holds every
// message once, in offset order.
TEST(JournalThreadsTest, theJournalReadsEverySlotBeforeItIsReused) {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 32;
    o.journal = true;
    o.fsync = Fsync::never;
    test::TempQueue q("journal-threads", o);
    ScratchDir dir("spill-threads");
    ASSERT_FALSE(dir.path.empty());
    const uint64_t per_producer = test::scaled(20'000);
    auto daemon_region = detail::Region::open(q.name);
    ASSERT_TRUE(sys::try_lock_byte(daemon_region->lock_fd(), layout::kDaemonLockByte));
    std::atomic<bool> stop{false};
    std::thread daemon([&] {
        daemon::PartitionJournal journal(*daemon_region, 0, {(dir.path / "journal").string(), "q", 4096});
        while (!stop.load(std::memory_order_relaxed) || journal.behind())
            if (journal.run(sys::monotonic_ns()) == 0) std::this_thread::sleep_for(50us);
    });
    Queue consumer_queue = Queue::open(q.name);
    Consumer consumer = consumer_queue.consumer("g");
    std::vector<std::thread> producers;
    for (int k = 0; k < 2; ++k)
        producers.emplace_back([&, k] {
            Queue mine = Queue::open(q.name);
            Producer p = mine.producer();
            for (uint64_t i = 0; i < per_producer; ++i)
                ASSERT_TRUE(p.send(std::to_string(k) + ":" + std::to_string(i)).ok());
        });
    uint64_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (received < 2 * per_producer && std::chrono::steady_clock::now() < deadline) {
        auto m = consumer.receive(50ms);
        if (!m) continue;
        ASSERT_TRUE(m->ack().ok());
        ++received;
    }
    for (auto& t : producers) t.join();
    stop.store(true);
    daemon.join();
    EXPECT_EQ(received, 2 * per_producer);
    std::string error;
    disk::DirFd pdir = disk::open_partition_dir((dir.path / "journal").string(), "q", 0, false, error);
    ASSERT_TRUE(pdir.valid()) << error;
    uint64_t records = 0, last = 0;
    bool ordered = true;
    disk::RecoveryOptions ro;
    ro.repair = false;
    disk::recover_partition(pdir.get(), ro, [&](const disk::RecordView& r) {
        ordered = ordered && (records == 0 || r.offset == last + 1);
        last = r.offset;
        ++records;
    });
    EXPECT_EQ(records, 2 * per_producer);
    EXPECT_TRUE(ordered) << "offsets 0..n-1, each once";
}

}  // namespace
}  // namespace shmq
