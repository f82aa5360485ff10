// The journal end to end: every published message once, in offset order, in
// shmqd's segments even when shmqd is SIGKILLed while it writes; retention
// deletes whole old segments; slots wait for the journal; the group cursors
// are saved beside it.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/record_checks.hpp"
#include "support/shmqd_process.hpp"
#include "support/journal_reader.hpp"
#include "support/no_shmqd.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using namespace test::checks;
using test::Worker;

using test::journaled;

using test::JournalRecord;
using test::read_journal;

using test::read_text;

class JournalTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] record files, journal and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    test::TempDir dir{"journal"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

// SIGKILL shmqd at random instants while it journals, restart it each time:
// the journal ends with each published offset exactly once, in order, with
// the payload the consumer received at that offset.
TEST_F(JournalTest, everyMessageOnceInOrderAcrossShmqdKills) {
    test::TempQueue q("journal", journaled(2, 64));
    const std::string args = "--journal-segment-bytes 65536 --queue " + q.name;
    Worker* d = &shmqd.start(args);
    const uint64_t per_producer = test::scaled(20'000);
    Worker& c = workers.start("consumer", {"consume", q.name, "--group", "g", "--kind", "exclusive", "--out",
                                           dir.file("c.rec").string(), "--count", std::to_string(2 * per_producer),
                                           "--idle-ms", "20000"});
    std::vector<Worker*> producers;
    for (int k = 0; k < 2; ++k)
        producers.push_back(&workers.start("producer", {"produce", q.name, "--id", std::to_string(k), "--count",
                                                        std::to_string(per_producer), "--keys", "8"}));
    std::mt19937 rng(std::random_device{}());
    int kills = 0;
    for (; kills < 4 && workers.running(c); ++kills) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 200));
        workers.kill(*d);
        d = &shmqd.start(args);
    }
    std::vector<Worker*> all = producers;
    all.push_back(&c);
    ASSERT_TRUE(workers.wait(all, 180s, {&c}));
    const auto rs = test::read_records({dir.file("c.rec")});
    ASSERT_TRUE(exactly_once(rs, 2, per_producer));
    std::map<std::pair<uint32_t, uint64_t>, std::string> received;  // (partition, offset) -> payload
    for (const auto& r : rs.records)
        received[{r.partition, r.offset}] = std::to_string(r.producer) + ":" + std::to_string(r.seq);

    // The journal catches up with the ring (slots wait for it), then holds everything.
    for (int i = 0; i < 500; ++i) {
        uint64_t lag = 0;
        for (const auto& p : test::snapshot_of(q.name).partitions) lag += p.journal_lag;
        if (lag == 0) break;
        std::this_thread::sleep_for(10ms);
    }
    const auto s = test::snapshot_of(q.name);
    uint64_t journaled_total = 0;
    for (uint32_t p = 0; p < 2; ++p) {
        uint64_t corrupt = 0;
        const auto records = read_journal(shmqd.data_dir(), q.name, p, corrupt);
        EXPECT_EQ(corrupt, 0u) << "partition " << p;
        EXPECT_EQ(records.size(), s.partitions[p].published) << "partition " << p << ": one record per published message";
        for (std::size_t i = 0; i < records.size(); ++i) {
            if (i > 0) {
                EXPECT_LT(records[i - 1].offset, records[i].offset) << "partition " << p;
            }
            auto it = received.find({p, records[i].offset});
            ASSERT_NE(it, received.end()) << "partition " << p << " offset " << records[i].offset << " never delivered";
            ASSERT_EQ(it->second, records[i].payload) << "partition " << p << " offset " << records[i].offset;
        }
        journaled_total += records.size();
    }
    EXPECT_EQ(journaled_total, 2 * per_producer);
    std::cout << "[ shmq ] shmqd killed " << kills << " times while journaling " << journaled_total << " messages"
              << std::endl;

    // The cursors beside the journal: group g finished everything.
    const auto cursors_path = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    const std::string want = "group g exclusive " + std::to_string(s.partitions[0].published) + " " +
                             std::to_string(s.partitions[1].published) + "\n";
    bool saved = false;
    for (int i = 0; i < 300 && !saved; ++i) {
        saved = read_text(cursors_path).find(want) != std::string::npos;
        if (!saved) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(saved) << read_text(cursors_path);
    EXPECT_NE(read_text(std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "queue").find("partitions 2\n"),
              std::string::npos);
}

// Without shmqd a journaled queue keeps its slots (the journal is a reader
// that has not read them): a producer times out although the group acked
// everything; shmqd journals them and the producer gets room.
TEST_F(JournalTest, slotsWaitForTheJournal) {
    test::TempQueue q("journal", journaled(1, 8));
    test::NoShmqd alone(q.name);
    Producer p = q->producer();
    Consumer c = q->consumer("g");
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(p.send(std::to_string(i)).ok());
    for (int i = 0; i < 8; ++i) {
        auto m = c.receive(Millis(100));
        ASSERT_TRUE(m);
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(p.send("8", {.timeout = Millis(50)}).code(), Errc::timeout) << "the journal has not read them";
    EXPECT_EQ(test::snapshot_of(q.name).partitions[0].journal_lag, 8u);
    alone.release();
    shmqd.start("--queue " + q.name);
    EXPECT_TRUE(p.send("8", {.timeout = Millis(5000)}).ok()) << "journaled, released";
    uint64_t corrupt = 0;
    std::vector<JournalRecord> records;
    for (int i = 0; i < 300 && records.size() < 9; ++i) {
        std::this_thread::sleep_for(10ms);
        records = read_journal(shmqd.data_dir(), q.name, 0, corrupt);
    }
    ASSERT_EQ(records.size(), 9u);
    for (uint64_t i = 0; i < 9; ++i) EXPECT_EQ(records[i].payload, std::to_string(i));
}

// Retention by size: whole segments only, oldest first, never the newest.
TEST_F(JournalTest, retentionDeletesWholeOldSegments) {
    QueueOptions o = journaled(1, 64);
    o.retain_bytes = 32 << 10;
    test::TempQueue q("journal", o);
    shmqd.start("--journal-segment-bytes 8192 --queue " + q.name);
    Producer p = q->producer();
    Consumer c = q->consumer("g");
    const std::string payload(48, 'x');
    for (int i = 0; i < 3000; ++i) {
        ASSERT_TRUE(p.send(payload, {.timeout = Millis(5000)}).ok()) << i;
        while (auto m = c.receive(Millis(0))) ASSERT_TRUE(m->ack().ok());
    }
    // Retention runs once a second: wait until it has run after the last write.
    const auto p0 = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "p0";
    uint64_t corrupt = 0, bytes = 0;
    std::vector<JournalRecord> records;
    bool trimmed = false;
    for (int i = 0; i < 500 && !trimmed; ++i) {
        std::this_thread::sleep_for(10ms);
        records = read_journal(shmqd.data_dir(), q.name, 0, corrupt);
        bytes = 0;
        std::error_code ec;  // retention may remove a file under the iteration
        for (const auto& f : std::filesystem::directory_iterator(p0, ec)) {
            const auto size = f.file_size(ec);
            if (!ec) bytes += size;
        }
        // (A read racing retention may miss a file retention removes under it: read again.)
        trimmed = !records.empty() && records.front().offset > 0 && records.back().offset == 2999 &&
                  bytes <= (32u << 10) + 8192u && records.back().offset - records.front().offset + 1 == records.size();
    }
    ASSERT_FALSE(records.empty());
    EXPECT_TRUE(trimmed) << bytes << " bytes kept, offsets " << records.front().offset << ".." << records.back().offset
                         << ": at most the limit plus the newest segment, the oldest gone, the newest there";
    EXPECT_EQ(records.back().offset - records.front().offset + 1, records.size()) << "what remains is contiguous";
}

}  // namespace
}  // namespace shmq
