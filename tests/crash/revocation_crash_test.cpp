// A revoker killed between its revocation round's start and its lease CASes
// (shmq/internal/fast_ack.hpp S5 and the barrier done, nothing taken yet:
// crash point after_revocation_begin). The round alone takes nothing away:
// the live holder's ACKs, which now go the CAS way, all succeed, none of
// those messages is delivered again, and the partition goes on.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "shmq/internal/crash_points.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using detail::CrashPoint;

constexpr int kHeld = 40;
const ConsumerOptions kExclusive{.kind = GroupKind::exclusive};

// Waits up to `limit` for `pid`; SIGKILLs it when the limit passes.
int wait_for(pid_t pid, std::chrono::milliseconds limit) {
    int status = 0;
    for (auto until = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < until;) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return status;
        ::usleep(5000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return status;
}

// The holder: owns both partitions, holds the 40 messages of partition 1
// unACKed, keeps taking part in handoffs (it hands partition 1 over after
// the grace period), and, when `go` is readable, ACKs them all and writes
// {ok, lease_lost} to `result`.
pid_t fork_holder(const std::string& name, int ready, int go, int result) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    try {
        auto c = Queue::open(name).consumer("g", kExclusive);
        std::vector<Message> held;
        while (held.size() < kHeld) {
            auto m = c.receive(5000ms);
            if (!m) ::_exit(10);
            held.push_back(std::move(m.value()));
        }
        if (::write(ready, "r", 1) != 1) ::_exit(11);
        char b = 0;
        while (::read(go, &b, 1) != 1)
            if (auto m = c.receive(20ms)) ::_exit(12);  // nothing else is in the queue
        int acked[2] = {0, 0};  // ok, lease_lost
        for (auto& m : held) ++acked[m.ack().ok() ? 0 : 1];
        if (::write(result, acked, sizeof acked) != sizeof acked) ::_exit(13);
        ::_exit(0);
    } catch (...) {
        ::_exit(14);
    }
}

// A queue of two partitions whose partition 1 holds kHeld messages, all
// received and held unACKed by a holder process (fork_holder).
class RevocationCrash : public testing::Test {
protected:
    void SetUp() override {
        QueueOptions o;
        o.partitions = 2;
        o.lease_ms = 60'000;  // no expiry: the handoff is the only revoker
        q_.emplace("revoke", o);
        {
            auto p = queue().producer();
            for (int i = 0; i < kHeld; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.partition = 1}).ok());
        }
        ASSERT_EQ(::pipe(ready_), 0);
        ASSERT_EQ(::pipe2(go_, O_NONBLOCK), 0);
        ASSERT_EQ(::pipe(result_), 0);
        holder_ = fork_holder(q_->name, ready_[1], go_[0], result_[1]);
        char b = 0;
        ASSERT_EQ(::read(ready_[0], &b, 1), 1) << "the holder did not receive its messages";
    }
    void TearDown() override {
        if (holder_ > 0) {
            const int hs = wait_for(holder_, 10s);
            EXPECT_TRUE(WIFEXITED(hs) && WEXITSTATUS(hs) == 0) << "holder status " << hs;
        }
        for (int fd : {ready_[0], ready_[1], go_[0], go_[1], result_[0], result_[1]})
            if (fd >= 0) ::close(fd);
    }
    Queue& queue() { return q_->queue; }
    const std::string& name() const { return q_->name; }
    // Tells the holder to ACK its messages; what they answered: {ok, lease_lost}.
    std::array<int, 2> holder_acks() {
        std::array<int, 2> acked{-1, -1};
        if (::write(go_[1], "g", 1) != 1) return acked;
        if (::read(result_[0], acked.data(), sizeof(int) * 2) != static_cast<ssize_t>(sizeof(int) * 2)) return {-1, -1};
        return acked;
    }

private:
    std::optional<test::TempQueue> q_;
    int ready_[2] = {-1, -1}, go_[2] = {-1, -1}, result_[2] = {-1, -1};
    pid_t holder_ = -1;
};

TEST_F(RevocationCrash, revokerKilledAfterItsRoundBeganTakesNothingFromTheLiveHolder) {
    // The revoker: joins, is assigned partition 1, and dies in take_over's
    // round before it revokes anything.
    const pid_t revoker = ::fork();
    if (revoker == 0) {
        try {
            detail::crash_hook = [](CrashPoint at) {
                if (at == CrashPoint::after_revocation_begin) ::raise(SIGKILL);
            };
            auto c = Queue::open(name()).consumer("g", kExclusive);
            for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;)
                if (auto m = c.receive(50ms)) ::_exit(20);  // delivered before its round: the handoff order is broken
            ::_exit(21);
        } catch (...) {
            ::_exit(22);
        }
    }
    const int rs = wait_for(revoker, 10s);
    ASSERT_TRUE(WIFSIGNALED(rs) && WTERMSIG(rs) == SIGKILL)
        << "the revoker did not die at its crash point (exit " << (WIFEXITED(rs) ? WEXITSTATUS(rs) : -1) << ")";

    const auto acked = holder_acks();
    EXPECT_EQ(acked[0], kHeld) << "ACKs that succeeded";
    EXPECT_EQ(acked[1], 0) << "ACKs that answered lease_lost";

    // Nothing ACKed comes again: the next message of partition 1 is the first delivered.
    auto c = queue().consumer("g", kExclusive);
    ASSERT_TRUE(queue().producer().send("after", {.partition = 1}).ok());
    auto m = c.receive(10'000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "after");
    EXPECT_EQ(m->offset(), static_cast<uint64_t>(kHeld));
    EXPECT_TRUE(m->ack().ok());
}

// The same handoff, not killed: the round completes, the new owner gets the
// 40 messages again in order, and the holder's late ACKs (which see the
// round and take the CAS) all answer lease_lost.
TEST_F(RevocationCrash, completedRoundMakesTheOldHoldersAcksLeaseLost) {
    auto c = queue().consumer("g", kExclusive);
    for (int i = 0; i < kHeld; ++i) {
        auto m = c.receive(10'000ms);
        ASSERT_TRUE(m) << i << ": " << to_string(m.code());
        EXPECT_EQ(m->text(), std::to_string(i));
        EXPECT_EQ(m->partition(), 1u);
        EXPECT_EQ(m->deliveries(), 2u);
        EXPECT_TRUE(m->ack().ok());
    }
    const auto acked = holder_acks();
    EXPECT_EQ(acked[0], 0) << "ACKs that succeeded";
    EXPECT_EQ(acked[1], kHeld) << "ACKs that answered lease_lost";
}

}  // namespace
}  // namespace shmq

