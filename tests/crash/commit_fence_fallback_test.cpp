// The commit barrier's fallback in real processes (commit_barrier.hpp): a
// participant the kernel refuses membarrier to turns RegionHeader::commit_fence
// on for every process of the region, and messages then flow between sleeping
// consumers and storing producers with a fence on both sides. The refusal is
// a seccomp filter (membarrier -> ENOSYS), installed in a child either before
// it attaches (registration fails) or after (its first sleep's membarrier
// fails: the "switching" case). The ordering itself is model-checked
// (tests/model/commit_barrier_model.cpp, modes fence and switching); this
// checks that the code paths connect across processes.
#include <gtest/gtest.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <thread>

#include "shmq/internal/region.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

// From here on, membarrier(2) fails with ENOSYS in this process.
bool deny_membarrier() {
#if defined(__x86_64__)
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
    return false;
#endif
}

uint32_t commit_fence(const std::string& queue) {
    auto region = detail::Region::open(queue, detail::Access::read_only);
    return region->header().commit_fence.load(std::memory_order_seq_cst);
}

int wait_child(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Skips the test where this kernel already refuses membarrier to everyone
// (the fence is then on from the first attach, and the tests below would
// not tell the two paths apart).
#define REQUIRE_MEMBARRIER(q)                                                              \
    do {                                                                                   \
        auto probe = (q)->producer();                                                      \
        if (commit_fence((q).name) != 0) GTEST_SKIP() << "membarrier is refused here";     \
    } while (0)

TEST(CommitFenceFallbackTest, anAttacherWithoutMembarrierTurnsTheFenceOnForAll) {
    test::TempQueue q("fence-attach");
    REQUIRE_MEMBARRIER(q);
    const pid_t child = ::fork();
    if (child == 0) {
        if (!deny_membarrier()) ::_exit(10);
        if (::syscall(SYS_membarrier, 0, 0, 0) != -1 || errno != ENOSYS) ::_exit(11);  // the filter holds
        try {
            auto p = Queue::open(q.name).producer();  // attaching registers: refused
            ::_exit(p.send("from the fenced child").ok() ? 0 : 12);
        } catch (...) {
            ::_exit(13);
        }
    }
    ASSERT_EQ(wait_child(child), 0);
    EXPECT_EQ(commit_fence(q.name), 1u) << "the refused registration must make every committer fence";
    auto c = q->consumer("g");
    auto m = c.receive(5000ms);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text(), "from the fenced child");
}

// An automatic writer holder that stays idle once fences are on must not
// hold back another writer: the contender, refused membarrier, takes the
// role after a fence and a wait for store buffers (writer_token.hpp (14)),
// well within its send's timeout.
TEST(CommitFenceFallbackTest, anIdleAutomaticHolderDoesNotStallAWriterRefusedMembarrier) {
    test::TempQueue q("fence-holder");
    REQUIRE_MEMBARRIER(q);
    auto holder = q->producer();  // alone: takes every partition's writer role
    ASSERT_TRUE(holder.send("h1").ok());
    ASSERT_NE(detail::Region::open(q.name, detail::Access::read_only)->partition(0).writer.load(), 0u);
    const pid_t child = ::fork();
    if (child == 0) {
        if (!deny_membarrier()) ::_exit(10);
        try {
            auto p = Queue::open(q.name).producer();  // attaching turns the fences on
            SendOptions o;
            o.timeout = 2000ms;
            o.partition = 0;  // the holder's partition
            ::_exit(p.send("c1", o).ok() ? 0 : 12);
        } catch (...) {
            ::_exit(13);
        }
    }
    ASSERT_EQ(wait_child(child), 0) << "the refused writer's send did not get past the idle holder";
    EXPECT_EQ(commit_fence(q.name), 1u);
    ASSERT_TRUE(holder.send("h2").ok());  // the holder now sends through the shared protocol
    auto c = q->consumer("g");
    std::multiset<std::string> got;
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m) << i << ": " << to_string(m.code());
        got.insert(std::string(m->text()));
        EXPECT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(got, (std::multiset<std::string>{"c1", "h1", "h2"}));
}

// A child that attached with membarrier, then loses it: its first sleep
// switches the region to fences; then ping-pong with the parent, each side
// going to sleep between messages (the parent pauses longer than the
// consumer's spin before each ping), so every message is a publish to a
// sleeper: 300 rounds, in order, none missing.
TEST(CommitFenceFallbackTest, aSleeperRefusedMembarrierSwitchesToFencesAndWakeUpsStillArrive) {
    QueueOptions o;
    o.capacity = 16;
    test::TempQueue ping("fence-ping", o);
    test::TempQueue pong("fence-pong", o);
    REQUIRE_MEMBARRIER(ping);
    constexpr int kRounds = 300;
    { auto group = ping->consumer("g"); }  // the group starts at offset 0; the child is its member
    const pid_t child = ::fork();
    if (child == 0) {
        try {
            auto in = Queue::open(ping.name).consumer("g");
            auto out = Queue::open(pong.name).producer();
            if (!deny_membarrier()) ::_exit(10);
            for (int i = 0; i < kRounds; ++i) {
                auto m = in.receive(20'000ms);
                if (!m) ::_exit(11);
                if (m->text() != std::to_string(i)) ::_exit(12);
                if (!m->ack().ok() || !out.send(m->text()).ok()) ::_exit(13);
            }
            ::_exit(0);
        } catch (...) {
            ::_exit(14);
        }
    }
    auto back = pong->consumer("g");
    auto out = ping->producer();
    bool flowed = true;
    for (int i = 0; i < kRounds && flowed; ++i) {
        std::this_thread::sleep_for(1ms);  // longer than the child's spin: it sleeps on the doorbell
        ASSERT_TRUE(out.send(std::to_string(i)).ok());
        auto m = back.receive(20'000ms);
        flowed = m && m->text() == std::to_string(i);
        EXPECT_TRUE(flowed) << "round " << i << ": " << (m ? m->text() : "nothing in 20 s");
        if (m) {
            EXPECT_TRUE(m->ack().ok());
        }
    }
    if (!flowed) ::kill(child, SIGKILL);
    EXPECT_EQ(wait_child(child), 0);
    EXPECT_EQ(commit_fence(ping.name), 1u) << "the child's failed membarrier must switch the region to fences";
    // The parent, ping's only producer, held its writer role automatically
    // until the switch; with fences in use it gave it back (writer_token.hpp (14)).
    EXPECT_EQ(detail::Region::open(ping.name, detail::Access::read_only)->partition(0).writer.load(), 0u);
    EXPECT_EQ(commit_fence(pong.name), 0u) << "no sleeper of the pong queue was refused membarrier";
}

}  // namespace
}  // namespace shmq
