// `shmq replay` end to end with shmqd: a rewound group gets exactly the
// journaled messages from the point asked for, each partition in offset
// order, then the live ring; also when shmqd is SIGKILLed while it feeds
// the replay, and when asked by time.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <random>
#include <thread>

#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"
#include "support/journal_reader.hpp"
#include "support/processes.hpp"
#include "support/record_checks.hpp"
#include "support/scale.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using layout::ReplayFrom;
using layout::ReplayResult;

using test::journaled;

struct Got {
    uint64_t offset;
    std::string payload;
    bool operator==(const Got&) const = default;
};
using PerPartition = std::map<uint32_t, std::vector<Got>>;

// Asks shmqd for a replay of `group` and waits until it has answered.
ReplayResult replay(const std::string& queue, const std::string& group, ReplayFrom from, uint64_t value) {
    auto r = detail::Region::open(queue);
    detail::ScopedParticipant me(*r, layout::Role::admin);
    const uint32_t g = detail::request_replay(*r, group, from, value, me.get());
    for (int i = 0; i < 1000; ++i) {
        const auto result = static_cast<ReplayResult>(r->group(g).replay_result.load());
        if (result != ReplayResult::pending) return result;
        std::this_thread::sleep_for(10ms);
    }
    return ReplayResult::pending;
}

// Receives and ACKs until `want` messages came or nothing came for `idle`.
PerPartition consume(Consumer& c, uint64_t want, std::chrono::milliseconds idle = 3s,
                     const std::function<void(uint64_t)>& each = {}) {
    PerPartition got;
    for (uint64_t n = 0; n < want;) {
        auto m = c.receive(Millis(idle.count()));
        if (!m) break;
        got[m->partition()].push_back({m->offset(), std::string(m->text())});
        EXPECT_TRUE(m->ack().ok());
        if (each) each(n);
        ++n;
    }
    return got;
}

class ReplayTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] journal and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // Produces `n` messages over 8 keys and consumes them as group g.
    void produce_and_consume(test::TempQueue& q, const std::string& prefix, uint64_t n) {
        Producer p = q->producer();
        Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
        uint64_t received = 0;
        for (uint64_t i = 0; i < n; ++i) {
            const std::string key = "k" + std::to_string(i % 8);
            ASSERT_TRUE(p.send(prefix + std::to_string(i), {.key = key, .timeout = Millis(10000)}).ok()) << i;
            while (auto m = c.receive(Millis(0))) {
                ASSERT_TRUE(m->ack().ok());
                ++received;
            }
        }
        const auto rest = consume(c, n - received);
        for (const auto& [part, list] : rest) received += list.size();
        ASSERT_EQ(received, n);
    }
    // Waits until shmqd has journaled everything published, then reads it.
    PerPartition journal_from(const std::string& queue, uint32_t partitions, uint64_t from_offset,
                              uint64_t from_unix_ns = 0) {
        for (int i = 0; i < 1000; ++i) {
            uint64_t lag = 0;
            for (const auto& p : test::snapshot_of(queue).partitions) lag += p.journal_lag;
            if (lag == 0) break;
            std::this_thread::sleep_for(10ms);
        }
        PerPartition out;
        for (uint32_t p = 0; p < partitions; ++p) {
            uint64_t corrupt = 0;
            bool started = false;
            for (const auto& r : test::read_journal(shmqd.data_dir(), queue, p, corrupt)) {
                started = started || (r.offset >= from_offset && r.publish_unix_ns >= from_unix_ns);
                if (started) out[p].push_back({r.offset, r.payload});
            }
            EXPECT_EQ(corrupt, 0u);
        }
        return out;
    }
    // The region's file removed as a reboot would; true once shmqd has
    // recreated the queue from its journal (q then holds the new one).
    bool reboot_and_wait_for_restore(test::TempQueue& q) {
        if (::unlink(("/dev/shm/shmq." + q.name).c_str()) != 0) return false;
        for (int i = 0; i < 1000; ++i) {
            std::this_thread::sleep_for(10ms);
            if (Queue::exists(q.name) && shmqd.count("shmqd.log", "restored queue " + q.name) == 1) {
                q.queue = Queue::open(q.name);
                return true;
            }
        }
        return false;
    }
    static uint64_t total(const PerPartition& m) {
        uint64_t n = 0;
        for (const auto& [p, list] : m) n += list.size();
        return n;
    }

    test::TempDir dir{"replay"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

// From an offset most of whose messages have left the 64-slot ring: the
// group gets every journaled message from there on, each partition in
// offset order, then what was published meanwhile, nothing twice.
TEST_F(ReplayTest, fromOffsetDeliversExactlyTheJournaledMessagesInOrderThenTheRing) {
    test::TempQueue q("replay", journaled(2, 64));
    shmqd.start("--journal-segment-bytes 65536 --queue " + q.name);
    const uint64_t n = test::scaled(5000);
    produce_and_consume(q, "m", n);
    const uint64_t from = 100;
    ASSERT_EQ(replay(q.name, "g", ReplayFrom::offset, from), ReplayResult::started);
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    // Published while the group replays (the rewound ring is full: the
    // producer waits for the group): comes after the journal's messages.
    std::thread live([&] {
        Producer p = q->producer();
        for (int i = 0; i < 40; ++i)
            EXPECT_TRUE(p.send("live" + std::to_string(i), {.key = "k" + std::to_string(i % 8), .timeout = Millis(20000)}).ok());
    });
    PerPartition got = consume(c, n + 40 - 2 * from, 5s);
    live.join();
    const PerPartition more = consume(c, 1, 500ms);
    EXPECT_EQ(total(more), 0u) << "nothing twice";
    const PerPartition want = journal_from(q.name, 2, from);
    EXPECT_EQ(total(want), n + 40 - 2 * from);
    for (uint32_t p = 0; p < 2; ++p) {
        ASSERT_EQ(got.count(p), 1u);
        EXPECT_EQ(got.at(p).size(), want.at(p).size()) << "partition " << p;
        EXPECT_TRUE(got.at(p) == want.at(p)) << "partition " << p << ": the journal from offset " << from
                                             << " in order, then the live messages";
        EXPECT_EQ(got.at(p).front().offset, from);
        EXPECT_EQ(got.at(p).back().payload.substr(0, 4), "live");
    }
    for (int i = 0; i < 300 && test::snapshot_of(q.name).groups.size() > 0; ++i) {
        auto r = detail::Region::open(q.name, detail::Access::read_only);
        if (r->group(0).replay_state.load() == 0) break;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + detail::replay_object_name(q.name, "g")))
        << "the replay region is removed once the group caught up";
}

// Two exclusive consumers in their own processes replay 4 partitions (each
// owns its share of the replay region and of the ring, not necessarily the
// same partitions): every message once, per-key order kept across the
// journal and the ring, offsets contiguous.
TEST_F(ReplayTest, exclusiveConsumersInProcessesReplayEveryPartitionInOrder) {
    test::TempQueue q("replay", journaled(4, 64));
    shmqd.start("--journal-segment-bytes 65536 --queue " + q.name);
    const uint64_t per_producer = test::scaled(5000);
    auto run_consumers = [&](const std::string& tag, int count) {
        std::vector<test::Worker*> all;
        std::vector<std::filesystem::path> files;
        for (int k = 0; k < count; ++k) {
            files.push_back(dir.file(tag + std::to_string(k) + ".rec"));
            all.push_back(&workers.start("consumer", {"consume", q.name, "--group", "g", "--kind", "exclusive", "--out",
                                                      files.back().string(), "--idle-ms", "3000"}));
        }
        return std::pair{all, files};
    };
    auto [first, first_files] = run_consumers("first", 1);
    std::vector<test::Worker*> producers;
    for (int k = 0; k < 2; ++k)
        producers.push_back(&workers.start("producer", {"produce", q.name, "--id", std::to_string(k), "--count",
                                                        std::to_string(per_producer), "--keys", "8"}));
    std::vector<test::Worker*> all = producers;
    all.insert(all.end(), first.begin(), first.end());
    ASSERT_TRUE(workers.wait(all, 120s, first));
    ASSERT_TRUE(test::checks::exactly_once(test::read_records(first_files), 2, per_producer));

    ASSERT_EQ(replay(q.name, "g", ReplayFrom::start, 0), ReplayResult::started);
    auto [again, again_files] = run_consumers("again", 2);
    ASSERT_TRUE(workers.wait(again, 120s, again));
    const auto rs = test::read_records(again_files);
    EXPECT_TRUE(test::checks::exactly_once(rs, 2, per_producer));
    EXPECT_TRUE(test::checks::per_key_order(rs, 4));
    EXPECT_TRUE(test::checks::offsets_contiguous(rs, 4));
}

// From a time: each partition from its first message published at or after it.
TEST_F(ReplayTest, fromTimeDeliversExactlyTheMessagesPublishedSince) {
    test::TempQueue q("replay", journaled(2, 64));
    shmqd.start("--journal-segment-bytes 16384 --queue " + q.name);
    const uint64_t n = test::scaled(2000);
    produce_and_consume(q, "a", n);
    std::this_thread::sleep_for(50ms);  // publish times are coarse (a few ms)
    const uint64_t since = sys::unix_ns();
    std::this_thread::sleep_for(50ms);
    produce_and_consume(q, "b", n);
    ASSERT_EQ(replay(q.name, "g", ReplayFrom::time, since), ReplayResult::started);
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    const PerPartition want = journal_from(q.name, 2, 0, since);
    const PerPartition got = consume(c, n + 1, 2s);
    EXPECT_EQ(total(want), n);
    for (uint32_t p = 0; p < 2; ++p) {
        EXPECT_TRUE(got.count(p) && got.at(p) == want.at(p)) << "partition " << p;
        for (const auto& m : want.at(p)) ASSERT_EQ(m.payload[0], 'b') << "only what was published since";
    }
}

// SIGKILL shmqd at random instants while it feeds a replay from the start
// through a 64-slot replay ring: still every journaled message once, in order.
TEST_F(ReplayTest, shmqdKilledWhileFeedingLosesAndRepeatsNothing) {
    test::TempQueue q("replay", journaled(2, 64));
    const std::string args = "--journal-segment-bytes 65536 --queue " + q.name;
    test::Worker* d = &shmqd.start(args);
    const uint64_t n = test::scaled(20000);
    produce_and_consume(q, "m", n);
    const PerPartition want = journal_from(q.name, 2, 0);
    ASSERT_EQ(replay(q.name, "g", ReplayFrom::start, 0), ReplayResult::started);
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    std::mt19937 rng(std::random_device{}());
    std::vector<uint64_t> kill_at;
    for (int k = 0; k < 3; ++k) kill_at.push_back(rng() % n);
    std::sort(kill_at.begin(), kill_at.end());
    int kills = 0;
    const PerPartition got = consume(c, n + 1, 3s, [&](uint64_t i) {
        if (kills < 3 && i == kill_at[kills]) {
            workers.kill(*d);
            d = &shmqd.start(args);
            ++kills;
        }
    });
    EXPECT_EQ(kills, 3);
    EXPECT_EQ(total(got), n);
    for (uint32_t p = 0; p < 2; ++p) EXPECT_TRUE(got.count(p) && got.at(p) == want.at(p)) << "partition " << p;
}

// A replayed message NACKed max_deliveries times is dead-lettered in the
// replay region; when the replay ends it is in the queue's DLQ, with its
// original partition, offset, payload and group.
TEST_F(ReplayTest, deadLettersOfAReplayEndInTheQueuesDlq) {
    QueueOptions o = journaled(1, 64);
    o.max_deliveries = 2;
    test::TempQueue q("replay", o);
    shmqd.start("--queue " + q.name);
    produce_and_consume(q, "m", 300);
    ASSERT_EQ(replay(q.name, "g", ReplayFrom::start, 0), ReplayResult::started);
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    uint64_t acked = 0;
    for (int i = 0; i < 1000 && acked < 299; ++i) {
        auto m = c.receive(Millis(2000));
        if (!m) break;
        if (m->text() == "m3") ASSERT_TRUE(m->nack().ok());
        else if (m->ack().ok()) ++acked;
    }
    EXPECT_EQ(acked, 299u);
    std::vector<dlq::DeadLetter> dead;
    for (int i = 0; i < 1000 && dead.empty(); ++i) {
        std::this_thread::sleep_for(10ms);
        dead = dlq::list(*detail::Region::open(q.name, detail::Access::read_only), 10);
    }
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].offset, 3u);
    EXPECT_EQ(dead[0].payload, "m3");
    EXPECT_EQ(dead[0].group, "g");
    EXPECT_EQ(dead[0].deliveries, 2u);
}

// What a replay refuses, and a queue without a journal rewinds within its ring.
TEST_F(ReplayTest, refusesLiveGroupsAndRewindsWithinTheRingWithoutJournal) {
    QueueOptions o = journaled(1, 64);
    o.journal = false;
    test::TempQueue q("replay", o);
    shmqd.start("--queue " + q.name);
    {
        Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
        auto r = detail::Region::open(q.name);
        detail::ScopedParticipant me(*r, layout::Role::admin);
        try {
            detail::request_replay(*r, "g", ReplayFrom::start, 0, me.get());
            ADD_FAILURE() << "a group with a live consumer was rewound";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("live consumer"), std::string::npos) << e.what();
        }
        try {
            detail::request_replay(*r, "nope", ReplayFrom::start, 0, me.get());
            ADD_FAILURE() << "a missing group was rewound";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::not_found) << e.what();
        }
    }
    produce_and_consume(q, "m", 200);
    ASSERT_EQ(replay(q.name, "g", ReplayFrom::start, 0), ReplayResult::not_journaled);
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    const PerPartition got = consume(c, 1000, 1s);
    ASSERT_EQ(got.count(0), 1u);
    // What the ring still holds (from its head; at most one lap), in order.
    const auto& list = got.at(0);
    EXPECT_GE(list.size(), 1u);
    EXPECT_LE(list.size(), 64u);
    for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(list[i].offset, 200 - list.size() + i);
        EXPECT_EQ(list[i].payload, "m" + std::to_string(list[i].offset));
    }
}

}  // namespace
}  // namespace shmq

namespace shmq {
namespace {

using test::read_text;

// Restart from disk: the region removed as a reboot would (its file
// unlinked); shmqd recreates the queue from the journal with its epoch, each
// group at its saved position: group b gets again exactly what it had not
// ACKed (from the journal, in order), group a nothing old; offsets go on
// from the journal's end, then the live messages. A queue deleted for good
// is not restored: its journal is set aside.
TEST_F(ReplayTest, restartFromDiskRedeliversWhatEachGroupHadNotAcked) {
    test::TempQueue q("restore", journaled(2, 64));
    shmqd.start("--journal-segment-bytes 65536 --queue " + q.name);
    const uint64_t n = test::scaled(3000);
    const uint64_t epoch = detail::Region::open(q.name)->epoch();
    {
        // Group b leaves the last 60 unACKed (a group holds its partitions'
        // rings, so what it has not ACKed is at most a ring per partition,
        // unless it was replaying).
        Consumer b = q->consumer("b", {.kind = GroupKind::shared});
        PerPartition got;
        std::thread tb([&] { got = consume(b, n - 60, 10s); });
        produce_and_consume(q, "m", n);  // group "g": everything
        tb.join();
        ASSERT_EQ(total(got), n - 60);
    }
    // Wait until the cursors file says where every group is.
    const auto s = test::snapshot_of(q.name);
    std::string want_b = "group b shared";
    for (const auto& g : s.groups)
        if (g.name == "b")
            for (const auto& p : g.partitions) want_b += " " + std::to_string(p.floor);
    const auto cursors = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    bool saved = false;
    for (int i = 0; i < 300 && !saved; ++i) {
        const std::string text = read_text(cursors);
        saved = text.find(want_b + "\n") != std::string::npos &&
                text.find("group g exclusive " + std::to_string(s.partitions[0].published) + " " +
                          std::to_string(s.partitions[1].published) + "\n") != std::string::npos;
        if (!saved) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(saved) << read_text(cursors) << "\nwant " << want_b;
    std::vector<uint64_t> floor_b;
    for (const auto& g : s.groups)
        if (g.name == "b")
            for (const auto& p : g.partitions) floor_b.push_back(p.floor);
    const PerPartition journal = journal_from(q.name, 2, 0);

    ASSERT_TRUE(reboot_and_wait_for_restore(q)) << "shmqd recreates the queue from its journal";
    EXPECT_EQ(detail::Region::open(q.name)->epoch(), epoch) << "the same queue: its epoch";
    {
        Producer p = q->producer();
        for (int i = 0; i < 20; ++i) ASSERT_TRUE(p.send("live" + std::to_string(i), {.key = "k" + std::to_string(i % 8)}).ok());
    }
    Consumer g = q->consumer("g", {.kind = GroupKind::exclusive});
    const PerPartition got_g = consume(g, 21, 1s);
    EXPECT_EQ(total(got_g), 20u) << "group g had ACKed everything: only the live messages";
    for (const auto& [p, list] : got_g) {
        EXPECT_EQ(list.front().offset, journal.at(p).back().offset + 1) << "offsets go on from the journal's end";
        for (const auto& m : list) EXPECT_EQ(m.payload.substr(0, 4), "live");
    }
    Consumer b = q->consumer("b", {.kind = GroupKind::shared});
    const PerPartition got_b = consume(b, n + 21, 2s);
    for (uint32_t p = 0; p < 2; ++p) {
        std::vector<Got> want;
        for (const auto& m : journal.at(p))
            if (m.offset >= floor_b[p]) want.push_back(m);
        for (const auto& m : got_g.count(p) ? got_g.at(p) : std::vector<Got>{}) want.push_back(m);
        ASSERT_EQ(got_b.count(p), 1u);
        EXPECT_TRUE(got_b.at(p) == want) << "partition " << p << ": group b gets what it had not ACKed, in order, then live";
    }

    Queue::remove(q.name);  // for good: not restored
    for (int i = 0; i < 300 && shmqd.count("shmqd.log", "its journal is kept as") == 0; ++i) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(1500ms);  // a discovery pass
    EXPECT_FALSE(Queue::exists(q.name)) << "a deleted queue stays deleted";
}

// A journaled queue with on_full=spill keeps its spill backlog across a
// restore: the ring's messages come back through the group's replay (from
// the journal), the spilled ones are refilled from the spill segments, all
// in the order they were sent.
TEST_F(ReplayTest, restartFromDiskKeepsTheSpillBacklog) {
    QueueOptions o = journaled(1, 16);
    o.on_full = OnFull::spill;
    o.spill_buffer = 64;
    test::TempQueue q("restore", o);
    shmqd.start("--queue " + q.name);
    { Consumer join = q->consumer("g", {.kind = GroupKind::exclusive}); }  // the group holds the ring from 0
    const uint64_t n = 500;
    {
        Producer p = q->producer();
        for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok()) << i;
    }
    // Everything past the ring on disk (staging drained), the cursors saved.
    const auto cursors = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "cursors";
    bool ready = false;
    for (int i = 0; i < 500 && !ready; ++i) {
        std::this_thread::sleep_for(10ms);
        const auto part = test::snapshot_of(q.name).partitions[0];
        ready = part.spill_disk_messages == n - 16 && part.journal_lag == 0 &&
                read_text(cursors).find("group g exclusive 0\n") != std::string::npos;
    }
    ASSERT_TRUE(ready) << "spill backlog on disk " << test::snapshot_of(q.name).partitions[0].spill_disk_messages;
    ASSERT_TRUE(reboot_and_wait_for_restore(q)) << "shmqd recreates the queue from its journal";
    {
        Producer p = q->producer();  // sent after the restore: behind the backlog
        for (uint64_t i = n; i < n + 10; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok()) << i;
    }
    Consumer c = q->consumer("g", {.kind = GroupKind::exclusive});
    const PerPartition got = consume(c, n + 11, 2s);
    ASSERT_EQ(got.count(0), 1u);
    const auto& list = got.at(0);
    ASSERT_EQ(list.size(), n + 10) << shmqd.count("shmqd.log", "spilled message(s) to refill");
    for (uint64_t i = 0; i < list.size(); ++i) ASSERT_EQ(list[i].payload, "m" + std::to_string(i)) << "in send order";
}

}  // namespace
}  // namespace shmq

namespace shmq {
namespace {

// A keyed group replays through its own replay region (its key lane comes
// with it) and is recreated with a lane when shmqd restores the queue from
// its journal: per key, the replayed messages come in order, and the
// restored group delivers what is published next.
TEST_F(ReplayTest, aKeyedGroupReplaysInKeyOrderAndIsRestoredWithItsLane) {
    test::TempQueue q("replay-keyed", journaled(2, 64));
    shmqd.start("--journal-segment-bytes 65536 --queue " + q.name);
    const uint64_t n = test::scaled(2000);
    auto per_key_in_order = [](Consumer& c, uint64_t want) {
        std::map<std::string, int64_t> last;  // key -> last i seen
        uint64_t got = 0;
        for (; got < want; ++got) {
            auto m = c.receive(Millis(3000));
            if (!m) break;
            const int64_t i = std::stoll(std::string(m->text().substr(1)));
            const std::string key(m->key());
            EXPECT_LT(last.count(key) ? last[key] : -1, i) << "key " << key << " out of order";
            last[key] = i;
            EXPECT_TRUE(m->ack().ok());
        }
        return got;
    };
    {
        Producer p = q->producer();
        Consumer c = q->consumer("k", {.kind = GroupKind::keyed});
        std::thread send([&] {
            for (uint64_t i = 0; i < n; ++i)
                EXPECT_TRUE(p.send("m" + std::to_string(i), {.key = "k" + std::to_string(i % 8), .timeout = Millis(10000)}).ok());
        });
        EXPECT_EQ(per_key_in_order(c, n), n);
        send.join();
    }
    ASSERT_EQ(replay(q.name, "k", ReplayFrom::start, 0), ReplayResult::started);
    {
        Consumer c = q->consumer("k", {.kind = GroupKind::keyed});
        EXPECT_EQ(per_key_in_order(c, n), n) << "every journaled message again, each key in order";
    }
    ASSERT_TRUE(reboot_and_wait_for_restore(q));
    Producer p = q->producer();
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i), {.key = "k" + std::to_string(i % 8)}).ok());
    Consumer c = q->consumer("k", {.kind = GroupKind::keyed});
    EXPECT_EQ(per_key_in_order(c, 16), 16u) << "the restored keyed group delivers";
}

}  // namespace
}  // namespace shmq
