// Participants in another pid namespace: shmqd cannot see their pids, so it
// judges them by the OFD lock on their lease-table entry alone
// (docs/ARCHITECTURE.md, "Liveness"). A consumer holding messages in a new
// pid namespace (`unshare --pid --fork`) is SIGKILLed: shmqd, outside, must
// redeliver at once, not after the lease; a producer killed mid-claim in a
// pid namespace must not stall its partition.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>

#include "environment/environment.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/shmqd_process.hpp"
#include "support/temp_queue.hpp"
#include "shmq/internal/process.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

// Participants of `queue` whose pid namespace is not ours (read from the lease table).
std::vector<detail::ParticipantView> foreign_participants(const std::string& queue) {
    std::vector<detail::ParticipantView> out;
    auto r = detail::Region::open(queue, detail::Access::read_only);
    const uint64_t ours = sys::pid_namespace_inode();
    for (uint32_t i = 0; i < r->max_participants(); ++i) {
        detail::ParticipantView v{};
        if (detail::read_participant(*r, i, v) && v.pid_ns != ours) out.push_back(v);
    }
    return out;
}

// The first child of process `pid` (unshare --fork's child), or -1.
pid_t first_child(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    long child = -1;
    return (f >> child) ? static_cast<pid_t>(child) : -1;
}

class PidNamespaceTest : public testing::Test {
protected:
    void SetUp() override {
        if (auto why = test::cannot_unshare("--pid --fork")) GTEST_SKIP() << *why;
    }
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] records and shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    test::TempDir dir{"pidns"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(PidNamespaceTest, aKilledConsumerInAnotherPidNamespaceIsRedeliveredPromptly) {
    constexpr uint64_t kMessages = 40;
    QueueOptions o;
    o.lease_ms = 60000;  // without shmqd nothing would come back for a minute
    test::TempQueue q("pidns", o);
    shmqd.start("--queue " + q.name);
    auto p = q->producer();
    for (uint64_t i = 0; i < kMessages; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());

    // The worker writes a batch's records, then holds it (unACKed) for a minute.
    const auto records = dir.file("held.rec");
    test::Worker& holder = workers.start_program(
        "consumer in a pid namespace", "/usr/bin/unshare",
        {"--pid", "--fork", "--kill-child", test::worker_path(), "consume", q.name, "--group", "g", "--kind", "shared",
         "--out", records.string(), "--batch", "16", "--ack-delay-ms", "60000", "--idle-ms", "60000"});
    ASSERT_TRUE(test::wait_for_file_size(records, 1, 10s)) << "the consumer in the pid namespace took nothing";
    const auto foreign = foreign_participants(q.name);
    ASSERT_EQ(foreign.size(), 1u) << "the consumer should be the only participant in another pid namespace";
    EXPECT_EQ(foreign[0].pid, 1u) << "it is pid 1 of its namespace, a pid shmqd cannot use";

    const pid_t inner = first_child(holder.pid);
    ASSERT_GT(inner, 0) << "cannot find unshare's child";
    ::kill(inner, SIGKILL);
    const auto killed_at = std::chrono::steady_clock::now();

    auto c = q->consumer("g");
    std::set<std::string> seen;
    uint32_t redelivered = 0;
    while (seen.size() < kMessages) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m) << "got " << seen.size() << " of " << kMessages << ": " << to_string(m.code()) << "\n"
                       << shmqd.log_text();
        redelivered += m->deliveries() > 1;
        seen.insert(std::string(m->text()));
        ASSERT_TRUE(m->ack().ok());
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
    EXPECT_GE(redelivered, 1u) << "the killed consumer held messages";
    EXPECT_LT(waited, 5s) << "redelivery waited for something other than shmqd's OFD-lock probe";
    std::cout << "redelivered " << redelivered << " message(s) " << waited.count() << " ms after the kill\n";
    // The reaper frees the entry after returning its leases: give it a moment.
    const auto freed_by = std::chrono::steady_clock::now() + 2s;
    while (!foreign_participants(q.name).empty() && std::chrono::steady_clock::now() < freed_by)
        std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(foreign_participants(q.name).empty()) << "the dead participant's entry was not freed";
}

// Forks a child that enters a new pid namespace and forks the claimer (pid 1
// there): it claims one slot, reports "claimed" with its pid as we see it,
// and waits to be killed. Returns that pid; -1 if the namespace cannot be made.
pid_t start_claimer_in_pid_namespace(const std::string& queue, pid_t& middle) {
    int pids[2], claims[2];
    if (::pipe(pids) != 0) return -1;
    if (::pipe(claims) != 0) return -1;
    middle = ::fork();
    if (middle == 0) {
        ::close(pids[0]);
        ::close(claims[0]);
        if (::unshare(CLONE_NEWPID) != 0) ::_exit(77);
        const pid_t claimer = ::fork();
        if (claimer == 0) {
            try {
                auto q = Queue::open(queue);
                auto prod = q.producer();
                auto claim = prod.claim(7);
                if (!claim) ::_exit(3);
                std::memcpy(claim->data().data(), "claimed", 7);
                const char ok = 'c';
                [[maybe_unused]] auto n = ::write(claims[1], &ok, 1);
                for (;;) ::pause();
            } catch (...) {
                ::_exit(5);
            }
        }
        [[maybe_unused]] auto n = ::write(pids[1], &claimer, sizeof claimer);
        ::close(pids[1]);
        ::close(claims[1]);
        int status = 0;
        ::waitpid(claimer, &status, 0);
        ::_exit(0);
    }
    ::close(pids[1]);
    ::close(claims[1]);
    pid_t claimer = -1;
    char claimed = 0;
    const bool ok = ::read(pids[0], &claimer, sizeof claimer) == static_cast<ssize_t>(sizeof claimer) &&
                    ::read(claims[0], &claimed, 1) == 1 && claimed == 'c';
    ::close(pids[0]);
    ::close(claims[0]);
    if (!ok && claimer > 0) ::kill(claimer, SIGKILL);
    return ok ? claimer : -1;
}

TEST_F(PidNamespaceTest, aProducerKilledMidClaimInAnotherPidNamespaceDoesNotStallThePartition) {
    QueueOptions o;
    o.lease_ms = 60000;
    test::TempQueue q("pidns", o);
    shmqd.start("--queue " + q.name);
    auto c = q->consumer("g");
    // Whatever happens, the claimer dies and the middle child is reaped.
    struct Claimer {
        pid_t middle = -1;
        pid_t pid = -1;
        int status = 0;
        void kill_and_reap() {
            if (pid > 0) ::kill(pid, SIGKILL);
            pid = -1;
            if (middle > 0) ::waitpid(middle, &status, 0);
            middle = -1;
        }
        ~Claimer() { kill_and_reap(); }
    } claimer;
    claimer.pid = start_claimer_in_pid_namespace(q.name, claimer.middle);
    if (claimer.pid < 0) {
        claimer.kill_and_reap();
        if (WIFEXITED(claimer.status) && WEXITSTATUS(claimer.status) == 77)
            GTEST_SKIP() << "unshare(CLONE_NEWPID) is not permitted here";
        FAIL() << "the claimer in a pid namespace did not claim (middle child's wait status " << claimer.status << ")";
    }
    const auto foreign = foreign_participants(q.name);
    ASSERT_EQ(foreign.size(), 1u) << "the claimer should be the only participant in another pid namespace";
    EXPECT_EQ(foreign[0].pid, 1u);
    auto p = q->producer();
    ASSERT_TRUE(p.send("after").ok());
    claimer.kill_and_reap();
    const auto t0 = std::chrono::steady_clock::now();
    auto m = c.receive(3000ms);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    ASSERT_TRUE(m) << "the partition stalled behind the dead claim: " << to_string(m.code()) << "\n" << shmqd.log_text();
    EXPECT_EQ(m->text(), "after");
    EXPECT_EQ(m->offset(), 1u) << "offset 0 was the aborted claim";
    EXPECT_TRUE(m->ack().ok());
    EXPECT_LT(waited, 1500ms);
    std::cout << "partition resumed " << waited.count() << " ms after the claimer's death\n";
}

}  // namespace
}  // namespace shmq
