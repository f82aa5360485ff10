// Deduplication across disk, with a real shmqd: the window's ids survive a
// restart of shmqd and a restore of the region from the journal (resends are
// duplicates, consumers of the restored queue see each message's id), and
// messages spilled to disk and refilled, or replayed from the journal, keep
// their ids.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "record_dedup.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"
#include "support/journal_reader.hpp"
#include "support/processes.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kWindowMs = 600'000;
constexpr int kIds = 40;

std::string id_of(int i) { return "order-" + std::to_string(i); }
std::string payload_of(int i) { return "payload " + std::to_string(i); }

QueueOptions journaled_dedup() {
    QueueOptions o = test::journaled(2, 64);
    o.dedup_window_ms = kWindowMs;
    return o;
}

// Sends every id once; its outcome per id.
std::map<std::string, SendOutcome> send_all(Producer& p) {
    std::map<std::string, SendOutcome> out;
    for (int i = 0; i < kIds; ++i) {
        SendOutcome o;
        const Status st = p.send(payload_of(i), {.key = "k" + std::to_string(i % 5), .dedup_id = id_of(i)}, o);
        EXPECT_TRUE(st.ok()) << id_of(i) << ": " << st.message();
        out[id_of(i)] = o;
    }
    return out;
}

// Resends every id: each must be a duplicate naming its original.
void expect_all_duplicates(Producer& p, const std::map<std::string, SendOutcome>& first) {
    for (int i = 0; i < kIds; ++i) {
        SendOutcome o;
        ASSERT_TRUE(p.send(payload_of(i), {.key = "k" + std::to_string(i % 5), .dedup_id = id_of(i)}, o).ok()) << i;
        const SendOutcome& was = first.at(id_of(i));
        EXPECT_TRUE(o.duplicate) << id_of(i);
        EXPECT_EQ(o.partition, was.partition) << id_of(i);
        EXPECT_EQ(o.offset, was.offset) << id_of(i);
        EXPECT_EQ(o.staged, was.staged) << id_of(i);
    }
}

// A one-partition queue's group gets message i with id_of(i), in order, then nothing.
void expect_each_once_in_order(Consumer& c) {
    for (int i = 0; i < kIds; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "message " << i << ": " << to_string(m.code());
        EXPECT_EQ(m->dedup_id(), id_of(i)) << m->text();
        EXPECT_EQ(m->text(), payload_of(i));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout) << "a duplicate was enqueued";
}

template <class Done>
bool eventually(Done done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// The dedup ids the journal's records carry (record_dedup.hpp), every partition.
std::set<std::string> journaled_ids(const std::string& data_dir, const std::string& queue, uint32_t partitions) {
    std::set<std::string> ids;
    for (uint32_t p = 0; p < partitions; ++p) {
        std::string error;
        disk::DirFd dir = disk::open_partition_dir(data_dir + "/journal", queue, p, false, error);
        if (!dir.valid()) continue;
        disk::RecoveryOptions ro;
        ro.partition = p;
        ro.repair = false;
        disk::recover_partition(dir.get(), ro, [&](const disk::RecordView& r) {
            const auto split = disk::split_key(r.flags, r.key);
            EXPECT_TRUE(split.has_value()) << "offset " << r.offset;
            if (split) ids.emplace(reinterpret_cast<const char*>(split->id.data()), split->id.size());
        });
    }
    return ids;
}

bool journal_caught_up(const std::string& queue) {
    for (const auto& p : test::snapshot_of(queue).partitions)
        if (p.journal_lag != 0) return false;
    return true;
}

class DedupDiskTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] journal and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    test::TempDir dir{"dedup-disk"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(DedupDiskTest, idsSurviveARestartOfShmqd) {
    test::TempQueue q("dedup-restart", journaled_dedup());
    test::Worker& d = shmqd.start("--queue " + q.name);
    auto p = q->producer();
    const auto first = send_all(p);
    ASSERT_TRUE(eventually([&] { return journal_caught_up(q.name); }));
    std::set<std::string> want;
    for (int i = 0; i < kIds; ++i) want.insert(id_of(i));
    EXPECT_EQ(journaled_ids(shmqd.data_dir(), q.name, 2), want);
    workers.kill(d);
    shmqd.start("--queue " + q.name);
    expect_all_duplicates(p, first);
    // The description the journal keeps for a restore says how to deduplicate.
    const std::string described = test::read_text(std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "queue");
    EXPECT_NE(described.find("dedup_window_ms " + std::to_string(kWindowMs) + "\n"), std::string::npos) << described;
    EXPECT_NE(described.find("dedup_content 0\n"), std::string::npos) << described;
}

// `shmq delete --region-only` (a reboot, as far as the region knows): shmqd
// recreates the queue from its journal with its dedup settings, its window's
// ids in the table, and group g's unacked messages, each with its id.
TEST_F(DedupDiskTest, idsSurviveARestoreFromTheJournal) {
    test::TempQueue q("dedup-restore", journaled_dedup());
    shmqd.start("--queue " + q.name);
    { auto c = q->consumer("g"); }  // group g exists from here on, at offset 0
    auto p = q->producer();
    const auto first = send_all(p);
    const auto cursors = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    ASSERT_TRUE(eventually([&] { return journal_caught_up(q.name); }));
    ASSERT_TRUE(eventually([&] { return test::read_text(cursors).find("group g ") != std::string::npos; }));

    detail::Region::remove(q.name, /*keep_journal=*/true);
    ASSERT_TRUE(eventually([&] { return Queue::exists(q.name); }, 15s)) << shmqd.log_text();
    Queue restored = Queue::open(q.name);
    EXPECT_EQ(detail::Region::open(q.name)->params().dedup_window_ms, kWindowMs);
    auto again = restored.producer();
    expect_all_duplicates(again, first);

    auto c = restored.consumer("g");
    std::map<std::string, std::string> seen;  // id -> payload
    for (int i = 0; i < kIds; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "message " << i << ": " << to_string(m.code());
        seen[std::string(m->dedup_id())] = std::string(m->text());
        ASSERT_TRUE(m->ack().ok());
    }
    for (int i = 0; i < kIds; ++i) EXPECT_EQ(seen[id_of(i)], payload_of(i)) << id_of(i);
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout) << "a duplicate was enqueued";
}

// on_full=spill: a small ring and no consumer, so most sends are staged and
// shmqd moves them to disk; refilled into the ring they keep their ids, and
// a resend of a staged id names its spill sequence.
TEST_F(DedupDiskTest, spilledMessagesKeepTheirIds) {
    QueueOptions o;
    o.partitions = 1;
    o.capacity = 8;
    o.max_message = 64;
    o.on_full = OnFull::spill;
    o.dedup_window_ms = kWindowMs;
    o.dedup_capacity = 1024;  // the default (a slot's worth of ids) would refuse the staged ones
    test::TempQueue q("dedup-spill", o);
    shmqd.start("--queue " + q.name);
    { auto c = q->consumer("g"); }
    auto p = q->producer();
    const auto first = send_all(p);
    int staged = 0;
    for (const auto& [id, outcome] : first) staged += outcome.staged ? 1 : 0;
    EXPECT_GT(staged, kIds / 2) << "an 8-slot ring must have overflowed";
    ASSERT_TRUE(eventually([&] { return test::snapshot_of(q.name).partitions[0].spill_disk_messages > 0; }))
        << "nothing reached the disk";
    expect_all_duplicates(p, first);

    auto c = q->consumer("g");
    expect_each_once_in_order(c);
}

// A journaled spilling queue restored with its spill backlog: the ids of
// the messages on disk go back into the table too (their duplicates name
// their spill sequences), and every message reaches the group with its id.
TEST_F(DedupDiskTest, aRestoredSpillBacklogKeepsItsIds) {
    QueueOptions o = test::journaled(1, 8);
    o.on_full = OnFull::spill;
    o.dedup_window_ms = kWindowMs;
    o.dedup_capacity = 1024;
    test::TempQueue q("dedup-restore-spill", o);
    shmqd.start("--queue " + q.name);
    { auto c = q->consumer("g"); }
    std::map<std::string, SendOutcome> first;
    {
        auto p = q->producer();
        first = send_all(p);
    }
    const auto cursors = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    ASSERT_TRUE(eventually([&] {
        const auto part = test::snapshot_of(q.name).partitions[0];
        return part.spill_disk_messages == kIds - 8 && part.journal_lag == 0 &&
               test::read_text(cursors).find("group g ") != std::string::npos;
    })) << "the backlog on disk: " << test::snapshot_of(q.name).partitions[0].spill_disk_messages;

    detail::Region::remove(q.name, /*keep_journal=*/true);
    ASSERT_TRUE(eventually([&] { return shmqd.count("shmqd.log", "restored queue " + q.name) == 1; }, 15s))
        << shmqd.log_text();
    EXPECT_NE(shmqd.log_text().find(std::to_string(kIds) + " record(s) with a dedup id within the window"), std::string::npos)
        << shmqd.log_text();
    Queue restored = Queue::open(q.name);
    auto again = restored.producer();
    expect_all_duplicates(again, first);

    auto c = restored.consumer("g");
    expect_each_once_in_order(c);
}

// `shmq replay` of messages that left the ring: the replay region's slots
// carry each message's id again, and the window holds nothing back.
TEST_F(DedupDiskTest, aReplayFromTheJournalCarriesTheIds) {
    QueueOptions o = test::journaled(1, 8);
    o.dedup_window_ms = kWindowMs;
    o.dedup_capacity = 1024;
    test::TempQueue q("dedup-replay", o);
    shmqd.start("--queue " + q.name);
    {
        auto p = q->producer();
        auto c = q->consumer("g");
        for (int i = 0; i < kIds; ++i) {  // the 8-slot ring turns over five times
            ASSERT_TRUE(p.send(payload_of(i), {.timeout = Millis(10000), .dedup_id = id_of(i)}).ok()) << i;
            auto m = c.receive(5000ms);
            ASSERT_TRUE(m.ok()) << i;
            ASSERT_TRUE(m->ack().ok());
        }
    }
    ASSERT_TRUE(eventually([&] { return journal_caught_up(q.name); }));
    {
        auto r = detail::Region::open(q.name);
        detail::ScopedParticipant me(*r, layout::Role::admin);
        const uint32_t g = detail::request_replay(*r, "g", layout::ReplayFrom::offset, 0, me.get());
        ASSERT_TRUE(eventually([&] {
            return static_cast<layout::ReplayResult>(r->group(g).replay_result.load()) != layout::ReplayResult::pending;
        }));
        ASSERT_EQ(static_cast<layout::ReplayResult>(r->group(g).replay_result.load()), layout::ReplayResult::started);
    }
    auto c = q->consumer("g");
    for (int i = 0; i < kIds; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "message " << i << ": " << to_string(m.code());
        EXPECT_EQ(m->offset(), static_cast<uint64_t>(i));
        EXPECT_EQ(m->dedup_id(), id_of(i)) << m->text();
        EXPECT_EQ(m->text(), payload_of(i));
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout);
    SendOutcome again;
    ASSERT_TRUE(q->producer().send(payload_of(3), {.dedup_id = id_of(3)}, again).ok());
    EXPECT_TRUE(again.duplicate) << "a replay leaves the table alone";
    EXPECT_EQ(again.offset, 3u);
}

}  // namespace
}  // namespace shmq
