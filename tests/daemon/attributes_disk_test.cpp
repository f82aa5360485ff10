// A published message's routing key and headers survive shmqd's disk paths:
// spilled to disk and refilled (on_full=spill), journaled and replayed
// (`shmq replay`), and restored with the queue from its journal after the
// region is gone (docs/DISK.md: RecordHeader::flags bit 15).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"
#include "support/journal_reader.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

class AttributesDiskTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] data dir and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // Publishes m<first>..m<first+n-1> through a direct exchange to `queue`,
    // each with routing key "orders" and headers i=<its number>, lang=en.
    static void publish(const std::string& queue, uint64_t first, uint64_t n) {
        test::TempExchange x("attr-disk", xlayout::ExchangeType::direct);
        x->bind(test::to_queue(queue, "orders"));
        auto pub = Publisher::open(x.name);
        for (uint64_t i = first; i < first + n; ++i) {
            const std::vector<MessageHeader> h{{"i", std::to_string(i)}, {"lang", "en"}};
            ASSERT_TRUE(pub.publish("m" + std::to_string(i), {.routing_key = "orders", .headers = h, .timeout = Millis(10000)})
                            .ok())
                << i;
        }
    }
    // Receives and ACKs up to `n` (until `idle` without one); each must carry
    // its attributes. Returns the payloads in order.
    static std::vector<std::string> receive_checked(Consumer& c, uint64_t n, std::chrono::milliseconds idle = 3s) {
        std::vector<std::string> out;
        while (out.size() < n) {
            auto m = c.receive(Millis(idle.count()));
            if (!m) break;
            const std::string text(m->text());
            EXPECT_EQ(m->routing_key(), "orders") << text;
            EXPECT_EQ(m->header_count(), 2u) << text;
            EXPECT_EQ(m->header("i").value_or("?"), text.substr(1)) << text;
            EXPECT_EQ(m->header("lang").value_or("?"), "en") << text;
            EXPECT_FALSE(m->attributes_malformed()) << text;
            out.push_back(text);
            EXPECT_TRUE(m->ack().ok());
        }
        return out;
    }
    static std::vector<std::string> payloads(uint64_t first, uint64_t n) {
        std::vector<std::string> v;
        for (uint64_t i = first; i < first + n; ++i) v.push_back("m" + std::to_string(i));
        return v;
    }
    // Asks shmqd for a replay of `group` from `offset`; its answer.
    static layout::ReplayResult replay(const std::string& queue, const std::string& group, uint64_t offset) {
        auto r = detail::Region::open(queue);
        detail::ScopedParticipant me(*r, layout::Role::admin);
        const uint32_t g = detail::request_replay(*r, group, layout::ReplayFrom::offset, offset, me.get());
        for (int i = 0; i < 1000; ++i) {
            const auto result = static_cast<layout::ReplayResult>(r->group(g).replay_result.load());
            if (result != layout::ReplayResult::pending) return result;
            std::this_thread::sleep_for(10ms);
        }
        return layout::ReplayResult::pending;
    }

    test::TempDir dir{"attrs"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(AttributesDiskTest, spilledMessagesKeepThem) {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 64;
    o.on_full = OnFull::spill;
    o.spill_buffer = 64;
    test::TempQueue q("attr-spill", o);
    shmqd.start("--queue " + q.name);
    { Consumer join = q->consumer("g", {.kind = GroupKind::exclusive}); }  // the group holds the ring from 0
    const uint64_t n = 200;
    publish(q.name, 0, n);
    bool on_disk = false;  // everything past the ring went through staging to disk
    for (int i = 0; i < 500 && !on_disk; ++i) {
        std::this_thread::sleep_for(10ms);
        on_disk = test::snapshot_of(q.name).partitions[0].spill_disk_messages == n - 16;
    }
    ASSERT_TRUE(on_disk) << test::snapshot_of(q.name).partitions[0].spill_disk_messages;
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    EXPECT_EQ(receive_checked(c, n), payloads(0, n)) << "refilled from disk, in order, each with its attributes";
}

TEST_F(AttributesDiskTest, journaledMessagesKeepThemThroughRestoreAndReplay) {
    test::TempQueue q("attr-journal", test::journaled(1, 64));
    shmqd.start("--journal-segment-bytes 65536 --queue " + q.name);
    { Consumer join = q->consumer("b", {.kind = GroupKind::shared}); }  // never ACKs before the restore
    const uint64_t n = 40;
    publish(q.name, 0, n);
    {
        Consumer g = q->consumer("g", {.kind = GroupKind::exclusive});
        ASSERT_EQ(receive_checked(g, n), payloads(0, n));
    }
    const auto cursors = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    bool saved = false;
    for (int i = 0; i < 500 && !saved; ++i) {
        const std::string text = test::read_text(cursors);
        saved = text.find("group b shared 0\n") != std::string::npos &&
                text.find("group g exclusive " + std::to_string(n) + "\n") != std::string::npos;
        if (!saved) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(saved) << test::read_text(cursors);
    // The region gone as a reboot would take it: shmqd restores the queue
    // from its journal and group b gets everything again from there.
    ASSERT_EQ(::unlink(("/dev/shm/shmq." + q.name).c_str()), 0);
    bool restored = false;
    for (int i = 0; i < 1000 && !restored; ++i) {
        std::this_thread::sleep_for(10ms);
        restored = Queue::exists(q.name) && shmqd.count("shmqd.log", "restored queue " + q.name) == 1;
    }
    ASSERT_TRUE(restored);
    q.queue = Queue::open(q.name);
    {
        Consumer b = q->consumer("b", {.kind = GroupKind::shared});
        EXPECT_EQ(receive_checked(b, n), payloads(0, n)) << "restored from the journal with their attributes";
    }
    // Group g rewound to offset 0: the journal's records again.
    ASSERT_EQ(replay(q.name, "g", 0), layout::ReplayResult::started);
    Consumer g = q->consumer("g", {.kind = GroupKind::exclusive});
    EXPECT_EQ(receive_checked(g, n), payloads(0, n)) << "replayed from the journal with their attributes";
}

}  // namespace
}  // namespace shmq
