// The automatic writer token (WriterMode::automatic, writer_token.hpp
// (9)-(14)) in real processes: a producer alone holds every partition's
// writer role (the writer word names it, the tail's bit is set: its sends
// are plain stores); a second producer takes a partition back while the
// first streams, and both streams arrive whole, in order, once; the holder
// killed (SIGKILL) at random instants around a handover loses nothing it
// published and stalls nobody; a holder stopped inside a claim holds the
// contender back until it dies; and the role comes back once the holder is
// alone again. The ordering itself is model-checked
// (tests/model/writer_token_model.cpp).
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/writer_token.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

// The writer word of each partition, read from the region.
std::vector<uint64_t> writer_words(const std::string& queue) {
    auto r = detail::Region::open(queue, detail::Access::read_only);
    std::vector<uint64_t> out;
    for (uint32_t p = 0; p < r->partitions(); ++p) out.push_back(r->partition(p).writer.load(std::memory_order_acquire));
    return out;
}
bool tail_bit(const std::string& queue, uint32_t p) {
    auto r = detail::Region::open(queue, detail::Access::read_only);
    return ring::tail_exclusive(r->partition(p).tail.load(std::memory_order_acquire));
}
bool holds(uint64_t writer, uint32_t id) {
    return ring::writer_is_auto(writer) && !ring::writer_in_handover(writer) &&
           (ring::writer_token(writer) & 0xffff) == id;
}

// Waits for a child for at most `limit`; SIGKILLs it after that (-1).
int wait_child(pid_t pid, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        const pid_t got = ::waitpid(pid, &status, WNOHANG);
        if (got == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return -1;
        }
        std::this_thread::sleep_for(1ms);
    }
}

// A counter shared with forked children (MAP_SHARED before the fork).
struct Shared {
    std::atomic<uint64_t> a_sent{0};  // A's sends that returned ok
    std::atomic<uint64_t> b_started{0};
};
Shared* make_shared_page() {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return new (p) Shared;
}

// Each producer's stream ("A:i", "B:i") must arrive in order, gapless,
// once: `a` and `b` are the next index expected of each.
struct Streams {
    uint64_t a = 0, b = 0;
    bool ok = true;
    std::string why;
    void take(std::string_view t) {
        const bool is_a = t.starts_with("A:");
        uint64_t& n = is_a ? a : b;
        if (t != (is_a ? "A:" : "B:") + std::to_string(n)) {
            if (ok) why = "got " + std::string(t) + " where " + (is_a ? "A:" : "B:") + std::to_string(n) + " was due";
            ok = false;
        }
        ++n;
    }
};
// Reads from `c` into `s` until `idle` passes with nothing.
void drain(Consumer& c, std::chrono::milliseconds idle, Streams& s) {
    for (;;) {
        auto m = c.receive(idle);
        if (!m) break;
        s.take(m->text());
        (void)m->ack();
    }
}

TEST(AutoWriterTest, aLoneProducerHoldsEveryPartitionAndGivesBackToASecondWriter) {
    QueueOptions o;
    o.partitions = 2;
    test::TempQueue q("auto-alone", o);
    auto c = q->consumer("g");
    auto p = q->producer();
    Streams s;
    for (uint64_t w : writer_words(q.name)) EXPECT_TRUE(holds(w, p.participant_id())) << std::hex << w;
    EXPECT_TRUE(tail_bit(q.name, 0) && tail_bit(q.name, 1));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send("A:" + std::to_string(i), {.partition = 0}).ok());
    {
        // A forced-shared producer (the opt-out) sends to partition 0: the
        // holder gives it back there, keeps partition 1.
        auto shared = q->producer({.writer = WriterMode::shared});
        ASSERT_TRUE(shared.send("B:0", {.partition = 0}).ok());
        EXPECT_EQ(writer_words(q.name)[0], 0u);
        EXPECT_FALSE(tail_bit(q.name, 0));
        EXPECT_TRUE(holds(writer_words(q.name)[1], p.participant_id()));
        ASSERT_TRUE(p.send("A:10", {.partition = 0}).ok());  // the holder goes on, shared
        ASSERT_TRUE(shared.send("B:1", {.partition = 0}).ok());
        EXPECT_EQ(writer_words(q.name)[0], 0u) << "nobody takes the role while two producers are attached";
    }
    // Alone again: the role comes back within 4096 sends.
    for (int i = 11; i < 11 + 4200; ++i) {
        ASSERT_TRUE(p.send("A:" + std::to_string(i), {.partition = 0}).ok());
        if (i % 512 == 0) drain(c, 0ms, s);
    }
    for (uint64_t w : writer_words(q.name)) EXPECT_TRUE(holds(w, p.participant_id())) << std::hex << w;
    drain(c, 200ms, s);
    EXPECT_TRUE(s.ok) << s.why;
    EXPECT_EQ(s.a, 11u + 4200u);
    EXPECT_EQ(s.b, 2u);
}

TEST(AutoWriterTest, anExclusiveProducerTakesTheRoleFromAnAutomaticHolder) {
    test::TempQueue q("auto-excl");
    auto c = q->consumer("g");
    auto a = q->producer();
    ASSERT_TRUE(a.send("A:0").ok());
    EXPECT_TRUE(holds(writer_words(q.name)[0], a.participant_id()));
    {
        auto x = q->producer({.exclusive = true});  // asks the automatic holder, then takes
        EXPECT_EQ(writer_words(q.name)[0] & 0xffff, x.participant_id());
        EXPECT_EQ(a.send("nope").code(), Errc::writer_busy);  // as any producer beside an exclusive one
        ASSERT_TRUE(x.send("B:0").ok());
    }
    ASSERT_TRUE(a.send("A:1").ok());
    Streams s;
    drain(c, 200ms, s);
    EXPECT_TRUE(s.ok) << s.why;
    EXPECT_EQ(s.a, 2u);
    EXPECT_EQ(s.b, 1u);
}

// A child streaming "<tag>:0", "<tag>:1", ... (`batch` > 1: send_batch),
// counting A's successful sends in `shared`.
pid_t fork_streamer(const std::string& name, char tag, uint64_t n, int batch, Shared* shared) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    try {
        auto q = Queue::open(name);
        auto p = q.producer();
        if (tag == 'B') shared->b_started.store(1);
        std::vector<std::string> texts;
        std::vector<std::span<const std::byte>> spans;
        for (uint64_t i = 0; i < n;) {
            if (batch <= 1) {
                if (!p.send(std::string(1, tag) + ":" + std::to_string(i), {.timeout = 20'000ms}).ok()) ::_exit(3);
                ++i;
            } else {
                texts.clear();
                spans.clear();
                for (int k = 0; k < batch && i + texts.size() < n; ++k)
                    texts.push_back(std::string(1, tag) + ":" + std::to_string(i + texts.size()));
                for (const auto& t : texts) spans.push_back(std::as_bytes(std::span(t.data(), t.size())));
                const BatchResult r = p.send_batch(spans, {.timeout = 20'000ms});
                if (!r.ok()) ::_exit(3);
                i += r.count;
            }
            if (tag == 'A') shared->a_sent.store(i, std::memory_order_release);
        }
        ::_exit(0);
    } catch (...) {
        ::_exit(5);
    }
}

TEST(AutoWriterTest, aSecondProducerAttachingMidStreamLosesAndRepeatsNothing) {
    QueueOptions o;
    o.capacity = 256;  // backpressure: both wait for room now and then
    test::TempQueue q("auto-two", o);
    Shared* shared = make_shared_page();
    ASSERT_NE(shared, nullptr);
    auto c = q->consumer("g");
    constexpr uint64_t kA = 30000, kB = 20000;
    const pid_t a = fork_streamer(q.name, 'A', kA, 1, shared);
    Streams s;
    // Let A take the role and stream a while, then B joins (with batches).
    while (s.a < 2000 && s.ok) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m);
        s.take(m->text());
        (void)m->ack();
    }
    EXPECT_TRUE(ring::writer_is_auto(writer_words(q.name)[0])) << "A, alone, must hold the role";
    const pid_t b = fork_streamer(q.name, 'B', kB, 7, shared);
    drain(c, 1000ms, s);
    EXPECT_EQ(wait_child(a, 60s), 0);
    EXPECT_EQ(wait_child(b, 60s), 0);
    drain(c, 200ms, s);
    EXPECT_TRUE(s.ok) << s.why;
    EXPECT_EQ(s.a, kA);
    EXPECT_EQ(s.b, kB);
    ::munmap(shared, 4096);
}

// (c) The holder killed at a random instant while a second producer takes
// the role back: B completes, A's stream is a gapless prefix holding at
// least every send A saw succeed, nothing twice.
class AutoWriterCrash : public testing::TestWithParam<int> {};

TEST_P(AutoWriterCrash, holderKilledAroundAHandoverLosesNothingAndStallsNobody) {
    QueueOptions o;
    o.capacity = 128;
    o.lease_ms = 200;  // consumers scan every 50 ms: they find a dead claim at their cursor
    test::TempQueue q("auto-kill", o);
    Shared* shared = make_shared_page();
    ASSERT_NE(shared, nullptr);
    auto c = q->consumer("g");
    std::mt19937 rng(static_cast<unsigned>(GetParam()));
    const pid_t a = fork_streamer(q.name, 'A', UINT64_MAX / 2, 1 + static_cast<int>(rng() % 2) * 4, shared);
    Streams s;
    while (s.a < 300 && s.ok) {  // A holds the role and streams
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m);
        s.take(m->text());
        (void)m->ack();
    }
    EXPECT_TRUE(ring::writer_is_auto(writer_words(q.name)[0])) << "A, alone, must hold the role";
    const pid_t b = fork_streamer(q.name, 'B', 3000, 1 + static_cast<int>(rng() % 2) * 6, shared);
    // Keep consuming meanwhile (the ring is small): on another thread.
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop.load()) {
            auto m = c.receive(20ms);
            if (!m) continue;
            s.take(m->text());
            (void)m->ack();
        }
    });
    while (shared->b_started.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    ::kill(a, SIGKILL);
    ::waitpid(a, nullptr, 0);
    const uint64_t a_sent = shared->a_sent.load();
    EXPECT_EQ(wait_child(b, 30s), 0) << "the contender must finish after the holder's death";
    std::this_thread::sleep_for(500ms);  // the dead holder's open claim is reaped at a consumer scan
    stop = true;
    reader.join();
    drain(c, 300ms, s);
    EXPECT_TRUE(s.ok) << s.why;
    EXPECT_GE(s.a, a_sent) << "a message A published was lost";
    EXPECT_EQ(s.b, 3000u);
    // The partition goes on: a new producer sends after everything.
    auto p = q->producer();
    ASSERT_TRUE(p.send("B:3000").ok());
    auto m = c.receive(2000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text(), "B:3000");
    ::munmap(shared, 4096);
}

INSTANTIATE_TEST_SUITE_P(Seeds, AutoWriterCrash, testing::Range(1, 9));

// A holder stopped inside a claim (SIGSTOP at its claim-word store,
// writer_sending = 1) holds a contender back; once it is killed, the
// contender reaps it and sends; the stopped message is aborted, not lost
// or delivered.
TEST(AutoWriterTest, aHolderStoppedInsideAClaimHoldsTheContenderUntilItDies) {
    QueueOptions o;
    o.lease_ms = 200;
    test::TempQueue q("auto-stop", o);
    auto c = q->consumer("g");
    const pid_t a = ::fork();
    if (a == 0) {
        try {
            auto cq = Queue::open(q.name);
            auto p = cq.producer();
            for (int i = 0; i < 5; ++i)
                if (!p.send("A:" + std::to_string(i)).ok()) ::_exit(3);
            detail::crash_hook = [](detail::CrashPoint here) {
                if (here == detail::CrashPoint::after_claim_word) ::raise(SIGSTOP);
            };
            (void)p.send("unpublished");
            ::_exit(4);
        } catch (...) {
            ::_exit(5);
        }
    }
    int status = 0;
    ::waitpid(a, &status, WUNTRACED);
    ASSERT_TRUE(WIFSTOPPED(status));
    EXPECT_EQ(detail::Region::open(q.name, detail::Access::read_only)->partition(0).writer_sending.load(), 1u)
        << "A stopped inside its claim";
    Shared* shared = make_shared_page();
    ASSERT_NE(shared, nullptr);
    const pid_t b = fork_streamer(q.name, 'B', 10, 1, shared);
    std::this_thread::sleep_for(200ms);
    int b_status = 0;
    EXPECT_EQ(::waitpid(b, &b_status, WNOHANG), 0) << "the contender went on while the holder was inside a claim";
    ::kill(a, SIGKILL);
    ::waitpid(a, nullptr, 0);
    EXPECT_EQ(wait_child(b, 30s), 0);
    Streams s;
    drain(c, 500ms, s);
    EXPECT_TRUE(s.ok) << s.why;
    EXPECT_EQ(s.a, 5u);
    EXPECT_EQ(s.b, 10u);
    ::munmap(shared, 4096);
}

}  // namespace
}  // namespace shmq
