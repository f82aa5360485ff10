// Three `shmq transform` stages in a chain, q0 -> q1 -> q2 -> q3, each
// `cat`, SIGKILLed at random and restarted at once. Without shmqd the
// restarted stage and the next stage's consumers resolve what a dead one
// left (its open transaction aborted, or finished past its commit point);
// with one, shmqd's reaper races them. q3 must hold every input of q0
// exactly once, in order per key.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.hpp"
#include "support/scale.hpp"
#include "support/shmqd_process.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kKeys = 16;
constexpr int kStages = 3;
// The chain moves 100,000 messages in well under a second on a 2-core
// machine (a kill every 50-500 ms hits it once or twice): further rounds of
// n go through the running chain until it was killed kMinKills times
// (or kRoundsBudget passed).
constexpr int kMinKills = 40;
constexpr int kMaxRounds = 100;
constexpr auto kRoundsBudget = std::chrono::seconds(60);

QueueOptions chain_queue(uint32_t capacity) {
    QueueOptions o;
    o.partitions = 4;
    o.capacity = capacity;
    o.max_message = 64;
    o.lease_ms = 2000;          // also the transactions' timeout
    o.max_deliveries = 1000;    // every abort counts as a failed delivery: never the DLQ here
    o.max_participants = 64;
    return o;
}

// One stage: `shmq transform q<i> --group s<i> --to q<i+1> -- cat`, stderr appended to a file.
struct Stage {
    std::vector<std::string> args;
    std::string err_path;
    pid_t pid = -1;

    void start() {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        const pid_t parent = ::getpid();
        pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::dup2(fd, STDERR_FILENO);
            const int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(fd);
    }
    void kill() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
    }
    // SIGTERM; the exit status (-1: had to be SIGKILLed after `timeout`).
    int stop(std::chrono::milliseconds timeout) {
        ::kill(pid, SIGTERM);
        const auto deadline = Clock::now() + timeout;
        int status = 0;
        while (::waitpid(pid, &status, WNOHANG) != pid) {
            if (Clock::now() >= deadline) {
                kill();
                return -1;
            }
            std::this_thread::sleep_for(5ms);
        }
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    bool exited_early() {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) != pid) return false;
        pid = -1;
        return true;
    }
    ~Stage() {
        if (pid > 0) kill();
    }
};

std::string last_lines(const std::string& path, std::size_t max_bytes = 2000) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return {};
    std::string s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

std::string batch_arg() {
    const char* b = std::getenv("SHMQ_CHAIN_BATCH");
    return b ? b : "64";
}

class TransformChainKillTest : public testing::TestWithParam<bool> {};  // with shmqd?

TEST_P(TransformChainKillTest, threeStagesKilledAtRandomDeliverEveryMessageOnceInOrderPerKey) {
    const bool with_shmqd = GetParam();
    const int n = static_cast<int>(test::scaled(100'000, 10'000));
    std::vector<std::unique_ptr<test::TempQueue>> qs;
    qs.push_back(std::make_unique<test::TempQueue>("chain0", chain_queue(32768)));  // holds a whole round
    for (int i = 1; i <= kStages; ++i) qs.push_back(std::make_unique<test::TempQueue>("chain", chain_queue(4096)));
    test::TempDir dir("transform-chain");
    test::Workers workers;
    test::ShmqdProcess shmqd(dir, workers);
    if (with_shmqd) {
        std::string queues;
        for (auto& q : qs) queues += " --queue " + q->name;
        shmqd.start(queues);
    }
    auto input = qs[0]->queue.producer();
    // Round r: seqs [r n, (r + 1) n), key k<seq % 16>.
    auto write_round = [&](int r) {
        for (int i = r * n; i < (r + 1) * n; ++i) {
            const int k = i % kKeys;
            if (!input.send("k" + std::to_string(k) + " " + std::to_string(i), {.key = "k" + std::to_string(k)}).ok())
                return false;
        }
        return true;
    };
    ASSERT_TRUE(write_round(0));
    std::array<Stage, kStages> stages;
    for (int i = 0; i < kStages; ++i) {
        stages[i].args = {SHMQ_TOOL, "transform", qs[i]->name,      "--group", "s" + std::to_string(i),
                          "--kind",  "exclusive", "--to",           qs[i + 1]->name, "--batch", batch_arg(), "--",  "cat"};
        stages[i].err_path = "/tmp/shmq-chain-" + std::to_string(::getpid()) + "-stage" + std::to_string(i) + ".err";
        ::unlink(stages[i].err_path.c_str());
    }

    // The checker: reads q3 in order per partition (an exclusive group of one).
    std::atomic<int> received{0};
    std::atomic<bool> checker_stop{false};
    std::vector<uint8_t> seen(static_cast<std::size_t>(n) * kMaxRounds, 0);
    std::array<int, kKeys> last_seq;
    last_seq.fill(-1);
    std::atomic<int> duplicates{0}, out_of_order{0}, malformed{0};
    std::string first_problem;
    std::thread checker([&] {
        auto c = qs[kStages]->queue.consumer("check", {.kind = GroupKind::exclusive});
        std::vector<Message> batch(64);
        while (!checker_stop.load()) {
            auto r = c.receive_batch(batch, 100ms);
            if (!r) continue;
            for (std::size_t j = 0; j < r.count; ++j) {
                const std::string text(batch[j].text());
                int k = -1, seq = -1;
                if (std::sscanf(text.c_str(), "k%d %d", &k, &seq) != 2 || k < 0 || k >= kKeys || seq < 0 || seq >= n * kMaxRounds ||
                    seq % kKeys != k || batch[j].key() != "k" + std::to_string(k)) {
                    if (malformed++ == 0 && first_problem.empty()) first_problem = "malformed: '" + text + "'";
                } else {
                    if (seen[static_cast<std::size_t>(seq)]++ != 0 && duplicates++ == 0 && first_problem.empty())
                        first_problem = "duplicate: '" + text + "'";
                    if (seq <= last_seq[static_cast<std::size_t>(k)] && out_of_order++ == 0 && first_problem.empty())
                        first_problem = "out of order: '" + text + "' after seq " +
                                        std::to_string(last_seq[static_cast<std::size_t>(k)]);
                    last_seq[static_cast<std::size_t>(k)] = std::max(last_seq[static_cast<std::size_t>(k)], seq);
                }
                (void)batch[j].ack();
                received.fetch_add(1);
            }
        }
    });

    const auto t0 = Clock::now();
    for (auto& s : stages) s.start();
    const unsigned seed = std::random_device{}();
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pause_ms(50, 500);
    std::uniform_int_distribution<int> which(0, kStages - 1);
    std::array<int, kStages> kills{};
    const auto deadline = t0 + 240s;
    bool early_exit = false;
    int rounds = 1;
    auto total_kills = [&] { return kills[0] + kills[1] + kills[2]; };
    // The killer keeps its own clock: a kill every 50-500 ms, whatever round is under way.
    auto next_kill = Clock::now() + std::chrono::milliseconds(pause_ms(rng));
    while (Clock::now() < deadline) {
        if (received.load() >= rounds * n) {
            // Round done. The chain outran the killer: another round through the running (and dying) chain.
            if (total_kills() >= kMinKills || Clock::now() - t0 >= kRoundsBudget || rounds == kMaxRounds) break;
            ASSERT_TRUE(write_round(rounds++));
        }
        std::this_thread::sleep_for(2ms);
        if (Clock::now() < next_kill) continue;
        next_kill = Clock::now() + std::chrono::milliseconds(pause_ms(rng));
        for (auto& s : stages)
            if (s.exited_early()) {
                early_exit = true;
                s.start();
            }
        const int i = which(rng);
        stages[static_cast<std::size_t>(i)].kill();
        ++kills[static_cast<std::size_t>(i)];
        stages[static_cast<std::size_t>(i)].start();
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    // Anything beyond n (a duplicate) would arrive now.
    std::this_thread::sleep_for(500ms);
    std::array<int, kStages> exit_codes{};
    for (int i = 0; i < kStages; ++i) exit_codes[static_cast<std::size_t>(i)] = stages[static_cast<std::size_t>(i)].stop(10s);
    std::this_thread::sleep_for(200ms);
    checker_stop.store(true);
    checker.join();

    std::cout << "transform chain" << (with_shmqd ? " (with shmqd)" : " (no shmqd)") << ": " << rounds << " round(s) of " << n << " messages through " << kStages
              << " stages in " << took.count() << " ms with " << total_kills() << " SIGKILLs (stage 0: " << kills[0] << ", 1: " << kills[1]
              << ", 2: " << kills[2] << "); seed " << seed << "\n";
    std::string errs;
    for (int i = 0; i < kStages; ++i) {
        auto& s = stages[static_cast<std::size_t>(i)];
        const std::string tail = last_lines(s.err_path);
        errs += "--- " + s.err_path + " (tail):\n" + tail + "\n";
        // The last run's summary (a SIGKILLed run writes none).
        const auto from = tail.rfind("shmq transform: ", tail.size() >= 2 ? tail.size() - 2 : 0);
        if (from != std::string::npos) std::cout << "  stage " << i << ", last run: " << tail.substr(from);
        ::unlink(s.err_path.c_str());
    }
    EXPECT_FALSE(early_exit) << "a stage exited by itself; seed " << seed << "\n" << errs;
    const int total = rounds * n;
    EXPECT_EQ(received.load(), total) << "seed " << seed << "; " << first_problem << "\n" << errs;
    int missing = 0;
    for (int i = 0; i < total; ++i) missing += seen[static_cast<std::size_t>(i)] == 0;
    EXPECT_EQ(missing, 0) << "seed " << seed;
    EXPECT_EQ(duplicates.load(), 0) << first_problem << "; seed " << seed;
    EXPECT_EQ(out_of_order.load(), 0) << first_problem << "; seed " << seed;
    EXPECT_EQ(malformed.load(), 0) << first_problem << "; seed " << seed;
    for (int i = 0; i < kStages; ++i) EXPECT_EQ(exit_codes[static_cast<std::size_t>(i)], 0) << "stage " << i << "\n" << errs;
    for (int i = 0; i < kStages; ++i) {
        const auto r = test::sh("$SHMQ stat " + qs[static_cast<std::size_t>(i)]->name + " --json");
        EXPECT_NE(r.out.find("\"dead_lettered\":0"), std::string::npos) << "q" << i << ": " << r.out.substr(0, 2000);
    }
}

INSTANTIATE_TEST_SUITE_P(Recovery, TransformChainKillTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& p) { return p.param ? "withShmqd" : "peersOnly"; });

}  // namespace
}  // namespace shmq
