// Delayed delivery with a real shmqd: it moves due messages alone, none
// early and each once even at 100,000 random delays; a SIGKILL of shmqd or
// of a producer mid-way loses nothing (at most one duplicate per kill,
// delay_store.hpp (D2)); a journaled queue restored from disk gets its
// delayed messages back.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/region.hpp"
#include "support/journal_reader.hpp"
#include "support/processes.hpp"
#include "support/scale.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

template <class Done>
bool eventually(Done done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

QueueOptions delay_options(uint32_t delay_capacity, uint32_t partitions = 4, uint32_t capacity = 16384) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = capacity;
    o.max_message = 64;
    o.delay_capacity = delay_capacity;
    return o;
}

// "index due_unix_ns": a lower bound of the due time the send computes.
std::string payload(uint64_t i, uint64_t due) { return std::to_string(i) + " " + std::to_string(due); }

// Receives until every index below `n` came (or `timeout` passes without a
// message); checks none came before its due time; returns how often each came.
std::map<uint64_t, uint32_t> receive_all(Consumer& c, uint64_t n, const std::function<void()>& between = {}) {
    std::map<uint64_t, uint32_t> seen;
    while (seen.size() < n) {
        if (between) between();
        auto m = c.receive(between ? 50ms : 5000ms);
        if (m.code() == Errc::timeout && between) continue;
        if (!m.ok()) {
            ADD_FAILURE() << "after " << seen.size() << " of " << n << ": " << to_string(m.code());
            break;
        }
        const uint64_t now = sys::unix_ns();
        const std::string text(m->text());
        const auto sp = text.find(' ');
        const uint64_t i = std::stoull(text.substr(0, sp)), due = std::stoull(text.substr(sp + 1));
        EXPECT_GE(now, due) << "message " << i << " came " << (due - now) / 1000 << " us early";
        ++seen[i];
        EXPECT_TRUE(m->ack().ok());
    }
    return seen;
}

uint64_t duplicates(const std::map<uint64_t, uint32_t>& seen) {
    uint64_t d = 0;
    for (const auto& [i, times] : seen) d += times - 1;
    return d;
}

class DelayDiskTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    test::TempDir dir{"delay-disk"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

// No producer or consumer attached while they come due: only shmqd moves them.
TEST_F(DelayDiskTest, shmqdMovesDueMessagesWithNobodyElseAttached) {
    test::TempQueue q("delay-daemon", delay_options(64, 2, 64));
    shmqd.start("--queue " + q.name);
    { auto c = q->consumer("g"); }  // the group exists: its floor holds the messages
    {
        auto p = q->producer();
        for (int i = 0; i < 20; ++i) ASSERT_TRUE(p.send(payload(i, 0), {.delay = Millis(20 + 10 * i)}).ok());
    }
    ASSERT_TRUE(eventually([&] { return test::snapshot_of(q.name).published == 20; }))
        << "delayed " << test::snapshot_of(q.name).delayed << "\n" << shmqd.log_text();
    EXPECT_EQ(test::snapshot_of(q.name).delayed, 0u);
    EXPECT_FALSE(test::snapshot_of(q.name).next_due_ms.has_value());
    auto c = q->consumer("g");
    EXPECT_EQ(duplicates(receive_all(c, 20)), 0u);
}

// The figure: 100,000 delayed messages with random delays (scaled by
// SHMQ_TEST_SCALE), received while they come due: none early, each once.
TEST_F(DelayDiskTest, aHundredThousandRandomDelaysComeEachOnceAndNeverEarly) {
    const uint64_t n = test::scaled(100'000, 2000);
    test::TempQueue q("delay-100k", delay_options(static_cast<uint32_t>(n)));
    shmqd.start("--queue " + q.name);
    auto c = q->consumer("g");
    {
        auto p = q->producer();
        std::mt19937_64 rng(19);
        for (uint64_t i = 0; i < n; ++i) {
            const auto delay = Millis(1 + rng() % 1500);
            const uint64_t due = sys::unix_ns() + static_cast<uint64_t>(delay.count()) * 1'000'000;
            ASSERT_TRUE(p.send(payload(i, due), {.key = "k" + std::to_string(i % 64), .delay = delay}).ok()) << i;
        }
    }
    const auto seen = receive_all(c, n);
    EXPECT_EQ(seen.size(), n);
    EXPECT_EQ(duplicates(seen), 0u);
    EXPECT_EQ(c.receive(50ms).code(), Errc::timeout);
}

// shmqd is killed (SIGKILL) while it moves, then started again: every
// message comes; a kill between a publish and its entry's release gives one
// duplicate at most (at-least-once).
TEST_F(DelayDiskTest, aSigkilledShmqdLosesNoDelayedMessage) {
    const uint64_t n = test::scaled(5000, 1000);
    test::TempQueue q("delay-kill-d", delay_options(static_cast<uint32_t>(n)));
    test::Worker* d = &shmqd.start("--queue " + q.name);
    auto c = q->consumer("g");
    {
        auto p = q->producer();
        std::mt19937_64 rng(3);
        for (uint64_t i = 0; i < n; ++i) {
            const auto delay = Millis(1 + rng() % 1200);
            const uint64_t due = sys::unix_ns() + static_cast<uint64_t>(delay.count()) * 1'000'000;
            ASSERT_TRUE(p.send(payload(i, due), {.delay = delay}).ok()) << i;
        }
    }
    const auto start = std::chrono::steady_clock::now();
    int kills = 0;
    const auto seen = receive_all(c, n, [&] {
        if (kills < 2 && std::chrono::steady_clock::now() - start > 300ms * (kills + 1)) {
            workers.kill(*d);  // mid-way: some moved, most still waiting
            ++kills;
            d = &shmqd.start("--queue " + q.name);
        }
    });
    EXPECT_EQ(kills, 2);
    EXPECT_EQ(seen.size(), n);
    EXPECT_LE(duplicates(seen), static_cast<uint64_t>(kills));
}

// A producer is killed (SIGKILL) in the middle of a stream of delayed sends,
// possibly holding the store's lock: every send it was told succeeded is
// delivered, and the store goes on working for the next sender.
TEST_F(DelayDiskTest, aSigkilledProducerLosesNoDelayedMessageItWasToldWasSent) {
    const uint32_t cap = 200'000;
    test::TempQueue q("delay-kill-p", delay_options(cap));
    shmqd.start("--queue " + q.name);
    auto c = q->consumer("g");
    auto* sent = static_cast<std::atomic<uint64_t>*>(
        ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(sent, MAP_FAILED);
    new (sent) std::atomic<uint64_t>(0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        try {
            auto p = Queue::open(q.name).producer();
            std::mt19937_64 rng(11);
            for (uint64_t i = 0; i < cap; ++i) {
                const auto delay = Millis(1 + rng() % 300);
                const uint64_t due = sys::unix_ns() + static_cast<uint64_t>(delay.count()) * 1'000'000;
                if (!p.send(payload(i, due), {.key = "k" + std::to_string(i % 16), .delay = delay}).ok()) ::_exit(2);
                sent->store(i + 1, std::memory_order_release);
            }
        } catch (...) {
            ::_exit(3);
        }
        ::pause();
        ::_exit(0);
    }
    ASSERT_TRUE(eventually([&] { return sent->load() > 2000; }, 10s));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the producer stopped by itself: " << status;
    const uint64_t told = sent->load();
    ::munmap(sent, sizeof(std::atomic<uint64_t>));

    // One more sender after it: the lock it may have held is broken.
    auto p = q->producer();
    ASSERT_TRUE(p.send(payload(told + 1, sys::unix_ns()), {.delay = 1ms}).ok());
    std::map<uint64_t, uint32_t> seen;
    while (true) {
        bool all = seen.count(told + 1) != 0;
        for (uint64_t i = 0; all && i < told; ++i) all = seen.count(i) != 0;
        if (all) break;
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "after " << seen.size() << " (told " << told << "): " << to_string(m.code());
        ++seen[std::stoull(std::string(m->text().substr(0, m->text().find(' '))))];
        ASSERT_TRUE(m->ack().ok());
    }
    // The send it was killed in (index told) may or may not have made it.
    EXPECT_LE(seen.size(), told + 2);
    EXPECT_LE(duplicates(seen), 1u);
}

// `shmq delete --region-only` (a reboot, as far as the region knows):
// shmqd recreates the journaled queue with its delayed messages, from its
// snapshot of the store (DATA/journal/<queue>/delayed).
TEST_F(DelayDiskTest, delayedMessagesSurviveARestoreFromTheJournal) {
    QueueOptions o = test::journaled(2, 64);
    o.delay_capacity = 64;
    test::TempQueue q("delay-restore", o);
    shmqd.start("--queue " + q.name);
    { auto c = q->consumer("g"); }
    const int n = 20;
    {
        auto p = q->producer();
        for (int i = 0; i < n; ++i) {
            const auto delay = Millis(1500 + 10 * i);
            ASSERT_TRUE(p.send(payload(i, sys::unix_ns() + static_cast<uint64_t>(delay.count()) * 1'000'000),
                               {.key = "k" + std::to_string(i % 3), .delay = delay})
                            .ok());
        }
    }
    const auto file = std::filesystem::path(shmqd.data_dir()) / "journal" / q.name / "delayed";
    ASSERT_TRUE(eventually([&] {
        std::error_code ec;
        return std::filesystem::file_size(file, ec) > 20 * 40;  // every record is in it
    })) << shmqd.log_text();
    detail::Region::remove(q.name, /*keep_journal=*/true);
    ASSERT_TRUE(eventually([&] { return Queue::exists(q.name); }, 15s)) << shmqd.log_text();
    Queue restored = Queue::open(q.name);
    EXPECT_EQ(restored.options().delay_capacity, 64u);
    auto c = restored.consumer("g");
    const auto seen = receive_all(c, n);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(duplicates(seen), 0u);
}

}  // namespace
}  // namespace shmq
