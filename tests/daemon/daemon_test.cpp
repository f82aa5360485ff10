// shmqd and the repairs it drives: one instance per host, signals, prompt
// reaping of a dead producer's claim, poison to the DLQ and back, pid reuse,
// and a stopped consumer whose lease was handed on.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/dlq_admin.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/reaper.hpp"
#include "support/processes.hpp"
#include "support/shmqd_process.hpp"
#include "support/temp_queue.hpp"
#include "shmq/internal/process.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::Worker;

class DaemonTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    Worker& start_daemon(const std::string& args = "", const std::string& log = "shmqd.log") {
        return shmqd.start(args, "", log);
    }
    std::string log_text(const std::string& log = "shmqd.log") { return shmqd.log_text(log); }
    bool wait_for_log(const std::string& needle, const std::string& log = "shmqd.log", std::chrono::milliseconds t = 5s) {
        return shmqd.wait_for_log(needle, log, t);
    }
    int wait_exit(Worker& w, std::chrono::milliseconds t = 5s) { return shmqd.wait_exit(w, t); }

    test::TempDir dir{"shmqd"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(DaemonTest, oneInstancePerHostAndSigtermExitsZero) {
    Worker& first = start_daemon();
    Worker& second = workers.start_program("shmqd 2", SHMQD_PATH,
                                           {"--lock-file", dir.file("shmqd.lock").string(), "--data-dir",
                                            dir.file("data").string()});
    EXPECT_EQ(wait_exit(second), 1) << "a second shmqd must refuse to run";
    ::kill(first.pid, SIGHUP);
    EXPECT_TRUE(wait_for_log("configuration reloaded")) << log_text();
    ::kill(first.pid, SIGTERM);
    EXPECT_EQ(wait_exit(first), 0);
    EXPECT_NE(log_text().find("stopping"), std::string::npos);
}

TEST_F(DaemonTest, readsAConfigFileAndRefusesBadOptions) {
    {
        std::ofstream cfg(dir.file("shmqd.toml"));
        cfg << "tick-ms = 7\nlog-level = \"debug\"\n";
    }
    // Only the config file sets the tick (a command-line flag would win over it).
    const std::string cmd = std::string("exec '") + SHMQD_PATH + "' --queue shmq-test-no-queue --config " + dir.file("shmqd.toml").string() +
                            " --lock-file " + dir.file("shmqd.lock").string() + " --data-dir " +
                            dir.file("data").string() + " 2>>" + dir.file("shmqd.log").string();
    Worker& d = workers.start_program("shmqd", "/bin/sh", {"-c", cmd});
    EXPECT_TRUE(wait_for_log("started (tick 7 ms")) << log_text();
    ::kill(d.pid, SIGTERM);
    EXPECT_EQ(wait_exit(d), 0);
    Worker& bad = workers.start_program("bad shmqd", SHMQD_PATH, {"--tick-ms", "0"});
    EXPECT_EQ(wait_exit(bad), 2);
    Worker& bad_queue = workers.start_program("bad shmqd", SHMQD_PATH, {"--queue", "no/slash"});
    EXPECT_EQ(wait_exit(bad_queue), 2);
}

// CPU time (user + system, in clock ticks) a process has used so far, from /proc/PID/stat.
long cpu_ticks(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after the command name: field 3 on
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    return utime + stime;
}

// A shmqd with nothing to serve sleeps between ticks: the integrity
// check's deadline (which stays in the past while there is no queue) must
// not make its loop spin. Spinning costs a whole core; sleeping, almost nothing.
TEST_F(DaemonTest, aShmqdServingNoQueueSleepsInsteadOfSpinning) {
    Worker& d = start_daemon();  // --queue shmq-test-no-queue: a queue nobody makes
    const long before = cpu_ticks(d.pid);
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(2s);
    const long used = cpu_ticks(d.pid) - before;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    std::cout << "[ shmqd ] idle, no queue: " << used << " CPU ticks in " << seconds << " s (" << ticks_per_second << "/s)\n";
    EXPECT_LT(static_cast<double>(used), 0.25 * seconds * static_cast<double>(ticks_per_second))
        << "an idle shmqd used more than a quarter of a core";
    ::kill(d.pid, SIGTERM);
    EXPECT_EQ(wait_exit(d), 0);
}

// Forks a child that claims a slot of `name` and stops (SIGSTOP) before committing.
pid_t fork_stopped_claimer(const std::string& name) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        auto q = Queue::open(name);
        auto p = q.producer();
        auto claim = p.claim(7);
        ::raise(SIGSTOP);
        ::_exit(claim ? 0 : 3);
    }
    int status = 0;
    ::waitpid(pid, &status, WUNTRACED);
    return pid;
}

TEST_F(DaemonTest, aProducerKilledBetweenClaimAndCommitStallsNothingForMoreThanFiveTicks) {
    QueueOptions o;
    o.lease_ms = 60000;  // consumers scan only every 250 ms: the daemon must be faster
    test::TempQueue q("shmqd-claim", o);
    auto c = q->consumer("g");
    EXPECT_EQ(c.receive(10ms).code(), Errc::timeout);  // it scanned while waiting: its next scan is 250 ms away
    start_daemon("--queue " + q.name);
    ASSERT_TRUE(wait_for_log("watching queue " + q.name));
    const pid_t claimer = fork_stopped_claimer(q.name);
    auto p = q->producer();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send("later " + std::to_string(i)).ok());
    std::this_thread::sleep_for(50ms);  // let the daemon see the claimer attach
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(claimer, SIGKILL);
    ::waitpid(claimer, nullptr, 0);
    for (int i = 0; i < 10; ++i) {
        auto m = c.receive(2000ms);
        ASSERT_TRUE(m) << to_string(m.code());
        EXPECT_EQ(m->text(), "later " + std::to_string(i));
        EXPECT_TRUE(m->ack().ok());
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::cout << "[ shmqd ] partition resumed " << waited.count() << " ms after the producer's SIGKILL (tick 20 ms)\n";
    EXPECT_LT(waited, 100ms) << "more than 5 ticks";
    EXPECT_TRUE(wait_for_log("open claim(s) aborted")) << log_text();
}

TEST_F(DaemonTest, aDeadSharedConsumersLeasesComeBackWithinMilliseconds) {
    QueueOptions o;
    o.lease_ms = 60000;
    test::TempQueue q("shmqd-lease", o);
    start_daemon("--queue " + q.name);
    ASSERT_TRUE(wait_for_log("watching queue " + q.name));
    auto p = q->producer();
    ASSERT_TRUE(p.send("held").ok());
    const pid_t child = ::fork();
    if (child == 0) {
        auto c = Queue::open(q.name).consumer("g");
        auto m = c.receive(2000ms);
        ::raise(SIGSTOP);  // holds the lease
        ::_exit(m ? 0 : 3);
    }
    int status = 0;
    ::waitpid(child, &status, WUNTRACED);
    ASSERT_TRUE(WIFSTOPPED(status));
    auto c = q->consumer("g");
    EXPECT_EQ(c.receive(100ms).code(), Errc::timeout);  // leased to the stopped child
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    auto m = c.receive(5000ms);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "held");
    EXPECT_EQ(m->deliveries(), 2u);
    EXPECT_TRUE(m->ack().ok());
    std::cout << "[ shmqd ] lease of a SIGKILLed consumer redelivered after " << waited.count()
              << " ms (lease 60 s)\n";
    EXPECT_LT(waited, 1000ms);
    EXPECT_TRUE(wait_for_log("1 lease(s) returned for redelivery")) << log_text();
}

// Message TTL (shmq/internal/expiry.hpp): with no consumer running, shmqd's
// expiry looks move what was not consumed within the TTL to the DLQ.
TEST_F(DaemonTest, messagesNotConsumedWithinTheirTtlReachTheDlqWithReasonTtlWithoutAnyConsumer) {
    QueueOptions o;
    o.partitions = 2;
    o.message_ttl_ms = 200;
    test::TempQueue q("shmqd-ttl", o);
    { auto c = q->consumer("g"); }  // the group stays; no consumer of it runs from here on
    start_daemon("--queue " + q.name);
    ASSERT_TRUE(wait_for_log("watching queue " + q.name)) << log_text();
    auto p = q->producer();
    const auto sent = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.key = "k" + std::to_string(i)}).ok());
    auto region = detail::Region::open(q.name, detail::Access::read_only);
    std::vector<dlq::DeadLetter> letters;
    while (letters.size() < 20 && std::chrono::steady_clock::now() - sent < 5s) {
        std::this_thread::sleep_for(10ms);
        letters = dlq::list(*region, 100);
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
    ASSERT_EQ(letters.size(), 20u) << log_text();
    for (const auto& l : letters) {
        EXPECT_EQ(l.reason, "ttl");
        EXPECT_EQ(l.deliveries, 0u);
        EXPECT_GE(l.dead_unix_ns - l.publish_unix_ns, 200'000'000u) << "never before its TTL";
    }
    std::cout << "[ shmqd ] 20 messages with a 200 ms TTL all in the DLQ " << waited.count() << " ms after the send\n";
    const auto stats = inspect::snapshot(*region);
    EXPECT_EQ(stats.dlq.expired_ttl, 20u);
    for (const auto& gp : stats.groups.at(0).partitions) EXPECT_EQ(gp.lag, 0u) << "the group moved past them";
}

TEST_F(DaemonTest, nackingConsumerSendsEachMessageToTheDlqAfterExactlyMaxDeliveriesAndRedriveRestoresThem) {
    QueueOptions o;
    o.max_deliveries = 3;
    test::TempQueue q("shmqd-dlq", o);
    start_daemon("--queue " + q.name);
    auto p = q->producer();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.key = "k" + std::to_string(i % 2)}).ok());
    std::map<std::string, int> deliveries;
    {
        auto c = q->consumer("g");
        while (auto m = c.receive(300ms)) {
            ++deliveries[std::string(m->text())];
            ASSERT_TRUE(m->nack().ok());
        }
    }
    ASSERT_EQ(deliveries.size(), 10u);
    for (auto& [text, n] : deliveries) EXPECT_EQ(n, 3) << "message " << text;
    auto region = detail::Region::open(q.name);
    auto letters = dlq::list(*region, 100);
    ASSERT_EQ(letters.size(), 10u);
    for (const auto& l : letters) {
        EXPECT_EQ(l.deliveries, 3u);
        EXPECT_EQ(l.reason, "nacked");
        EXPECT_EQ(l.group, "g");
        EXPECT_EQ(l.key, "k" + std::string(1, static_cast<char>('0' + std::stoi(l.payload) % 2)));
        EXPECT_GT(l.last_delivery_unix_ns, 0u);
        EXPECT_GE(l.dead_unix_ns, l.first_delivery_unix_ns);
    }
    // Redrive: back to the same partitions, in order, delivery count reset.
    struct Redrive : dlq::Handler {
        Producer producer;
        explicit Redrive(Producer pr) : producer(std::move(pr)) {}
        Status handle(const dlq::DeadLetter& l) override {
            return producer.send(l.payload, {.key = l.key, .partition = l.partition});
        }
    } handler(q->producer());
    {
        detail::ScopedParticipant me(*region, layout::Role::admin);
        EXPECT_EQ(dlq::consume(*region, me.get(), UINT64_MAX, &handler), 10u);
    }
    EXPECT_TRUE(dlq::list(*region, 100).empty());
    auto c = q->consumer("g");
    std::vector<std::string> again;
    while (auto m = c.receive(300ms)) {
        EXPECT_EQ(m->deliveries(), 1u);
        again.emplace_back(m->text());
        ASSERT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(again, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
}

TEST_F(DaemonTest, poisonReachesTheDlqEvenWithNoConsumerLeft) {
    QueueOptions o;
    o.max_deliveries = 2;
    o.lease_ms = 100;
    test::TempQueue q("shmqd-orphan", o);
    start_daemon("--queue " + q.name);
    auto p = q->producer();
    ASSERT_TRUE(p.send("stuck").ok());
    {
        auto c = q->consumer("g");
        for (uint32_t i = 1; i <= 2; ++i) {
            auto m = c.receive(1000ms);
            ASSERT_TRUE(m);
            EXPECT_EQ(m->deliveries(), i);
            std::this_thread::sleep_for(300ms);  // past the lease: the daemon revokes it
            EXPECT_FALSE(m->lease_held());
            EXPECT_EQ(m->ack().code(), Errc::lease_lost);
        }
    }  // no consumer is left
    // The second lease expired too: with deliveries == max, the daemon moves it.
    EXPECT_TRUE(wait_for_log("dead-lettered after 2 deliveries")) << log_text();
    auto region = detail::Region::open(q.name);
    auto letters = dlq::list(*region, 10);
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0].reason, "lease_expired");
}

TEST_F(DaemonTest, aReusedPidWithAnotherStartTimeIsDead) {
    // The check itself: a live pid whose recorded start time differs is dead.
    const auto mine = sys::process_start_ticks(::getpid());
    ASSERT_TRUE(mine.has_value());
    const uint64_t ns = sys::pid_namespace_inode();
    EXPECT_EQ(sys::check_pid(::getpid(), *mine, ns), sys::PidCheck::alive);
    EXPECT_EQ(sys::check_pid(::getpid(), *mine + 1, ns), sys::PidCheck::dead);
    EXPECT_EQ(sys::check_pid(::getpid(), *mine, ns + 1), sys::PidCheck::unknown);  // another namespace: no guess

    // A real reuse: a participant dies, another process gets its pid.
    test::TempQueue q("pidreuse");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t victim = ::fork();
    if (victim == 0) {
        auto c = Queue::open(q.name).consumer("g");
        char byte = 1;
        (void)!::write(ready[1], &byte, 1);
        ::pause();
        ::_exit(0);
    }
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    // Start times are in clock ticks (10 ms): let the reuser start in a later tick.
    std::this_thread::sleep_for(30ms);
    ::kill(victim, SIGKILL);
    ::waitpid(victim, nullptr, 0);
    // Ask the kernel for the same pid next (needs CAP_SYS_ADMIN in this pid namespace).
    const int fd = ::open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
    const std::string last = std::to_string(victim - 1);
    const bool forced = fd >= 0 && ::write(fd, last.data(), last.size()) == static_cast<ssize_t>(last.size());
    if (fd >= 0) ::close(fd);
    const pid_t reuser = forced ? ::fork() : -1;
    if (reuser == 0) {
        ::pause();
        ::_exit(0);
    }
    auto region = detail::Region::open(q.name);
    uint32_t entry = UINT32_MAX;
    for (uint32_t i = 0; i < region->max_participants(); ++i)
        if (region->participant(i).pid.load() == static_cast<uint32_t>(victim)) entry = i;
    ASSERT_NE(entry, UINT32_MAX);
    if (reuser == victim) {
        std::cout << "[ shmqd ] pid " << victim << " reused by a new process\n";
        EXPECT_EQ(sys::check_pid(victim, region->participant(entry).start_ticks.load(),
                                 region->participant(entry).pid_ns.load()),
                  sys::PidCheck::dead);
    } else {
        std::cout << "[ shmqd ] could not force pid reuse here (ns_last_pid not writable or raced); checked the rest\n";
    }
    EXPECT_EQ(detail::entry_liveness(*region, entry), detail::Liveness::dead);
    EXPECT_TRUE(detail::reap_participant(*region, entry, 0).reaped);
    if (reuser > 0) {
        ::kill(reuser, SIGKILL);
        ::waitpid(reuser, nullptr, 0);
    }
}

TEST_F(DaemonTest, aConsumerStoppedPastItsLeaseGetsLeaseLostAndTheMessageRanAtMostTwice) {
    QueueOptions o;
    o.lease_ms = 150;
    test::TempQueue q("shmqd-stop", o);
    start_daemon("--queue " + q.name);
    ASSERT_TRUE(q->producer().send("job").ok());
    const pid_t child = ::fork();
    if (child == 0) {
        auto c = Queue::open(q.name).consumer("g");
        auto m = c.receive(2000ms);
        if (!m) ::_exit(3);
        ::raise(SIGSTOP);  // a long pause, past the lease
        ::_exit(m->ack().code() == Errc::lease_lost ? 0 : 4);
    }
    int status = 0;
    ::waitpid(child, &status, WUNTRACED);
    ASSERT_TRUE(WIFSTOPPED(status));
    auto c = q->consumer("g");
    auto m = c.receive(3000ms);  // after the lease expired: handed on
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->deliveries(), 2u);
    EXPECT_TRUE(m->ack().ok());
    ::kill(child, SIGCONT);
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the stopped consumer's late ACK did not return lease_lost";
    EXPECT_EQ(c.receive(300ms).code(), Errc::timeout) << "processed more than twice";
}

}  // namespace
}  // namespace shmq
