// `shmq transform` end to end: the real binary with real filters (sh, sed),
// queues filled and read back through the library.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::sh;
using test::TempQueue;

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// The lines of `err` that the tool wrote (COMMAND's own stderr passes through).
std::vector<std::string> tool_lines(const std::string& err) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < err.size()) {
        std::size_t end = err.find('\n', start);
        if (end == std::string::npos) end = err.size();
        const std::string line = err.substr(start, end - start);
        if (line.rfind("shmq", 0) == 0) lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

// `shmq transform ...` as a child process; stderr to a file.
class Transform {
public:
    explicit Transform(const std::vector<std::string>& args) {
        err_path_ = "/tmp/shmq-transform-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".err";
        std::vector<std::string> argv_s{SHMQ_TOOL, "transform"};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(fd, STDERR_FILENO);
            const int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(fd);
    }
    ~Transform() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::unlink(err_path_.c_str());
    }
    void signal(int sig) { ::kill(pid_, sig); }
    // Waits up to `timeout` for it to exit; -1 if it did not (then SIGKILLed).
    int wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        for (;;) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                reaped_ = true;
                return -1;
            }
            std::this_thread::sleep_for(5ms);
        }
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::string err() const {
        std::ifstream f(err_path_);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

private:
    static inline int counter_ = 0;
    std::string err_path_;
    pid_t pid_ = -1;
    bool reaped_ = false;
};

QueueOptions opts(uint32_t partitions = 4, uint32_t max_deliveries = 5) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 1024;
    o.max_deliveries = max_deliveries;
    return o;
}

struct Read {
    std::string payload, key;
};

// Reads (and ACKs) from `group` until `n` messages came or `within` passed without one.
std::vector<Read> read_some(Queue& q, const std::string& group, std::size_t n, std::chrono::milliseconds within,
                            GroupKind kind = GroupKind::shared) {
    auto c = q.consumer(group, {.kind = kind});
    std::vector<Read> got;
    while (got.size() < n) {
        auto m = c.receive(within);
        if (!m) break;
        got.push_back({std::string(m->text()), std::string(m->key())});
        EXPECT_TRUE(m->ack().ok());
    }
    return got;
}

const char* kUpper = "while IFS= read -r l; do printf '%s\\n' \"$l\" | tr a-z A-Z; done";

TEST(TransformCliTest, upperCasesEveryMessageKeepingItsKeyAndStopsCleanlyOnSigterm) {
    TempQueue in("tx-in", opts()), out("tx-out", opts());
    constexpr int kN = 300;
    {
        auto p = in->producer();
        for (int i = 0; i < kN; ++i)
            ASSERT_TRUE(p.send("msg-" + std::to_string(i), {.key = "key-" + std::to_string(i % 13)}).ok());
    }
    Transform t({in.name, "--group", "up", "--to", out.name, "--batch", "16", "--", "sh", "-c", kUpper});
    const auto got = read_some(out.queue, "check", kN, 10'000ms);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kN)) << t.err();
    std::map<std::string, std::string> key_of;
    for (const auto& r : got) EXPECT_TRUE(key_of.emplace(r.payload, r.key).second) << "twice: " << r.payload;
    for (int i = 0; i < kN; ++i) {
        const auto it = key_of.find("MSG-" + std::to_string(i));
        ASSERT_NE(it, key_of.end()) << i;
        EXPECT_EQ(it->second, "key-" + std::to_string(i % 13));
    }
    // Per key, in order (an exclusive group, one partition per key).
    std::map<std::string, int> last;
    for (const auto& r : got) {
        const int seq = std::stoi(r.payload.substr(4));
        auto [it, fresh] = last.emplace(r.key, seq);
        if (!fresh) {
            EXPECT_GT(seq, it->second) << r.key;
            it->second = seq;
        }
    }
    t.signal(SIGTERM);
    EXPECT_EQ(t.wait_exit(10'000ms), 0) << t.err();
    const auto lines = tool_lines(t.err());
    ASSERT_EQ(lines.size(), 1u) << t.err();
    EXPECT_NE(lines[0].find(std::to_string(kN) + " inputs, " + std::to_string(kN) + " outputs"), std::string::npos)
        << lines[0];
    EXPECT_TRUE(read_some(in.queue, "up", 1, 300ms, GroupKind::exclusive).empty()) << "IN's group still holds input";
}

TEST(TransformCliTest, anEmptyReplyLineSendsNothing) {
    TempQueue in("tx-in", opts(2)), out("tx-out", opts(2));
    {
        auto p = in->producer();
        for (int i = 0; i < 50; ++i)
            ASSERT_TRUE(p.send((i % 3 == 0 ? "skip-" : "keep-") + std::to_string(i), {.key = std::to_string(i % 5)}).ok());
    }
    Transform t({in.name, "--group", "f", "--kind", "shared", "--to", out.name, "--", "sh", "-c",
                 "while IFS= read -r l; do case $l in *skip*) echo;; *) echo \"$l\";; esac; done"});
    std::set<std::string> want;
    for (int i = 0; i < 50; ++i)
        if (i % 3 != 0) want.insert("keep-" + std::to_string(i));
    auto got = read_some(out.queue, "check", want.size(), 5'000ms);
    for (auto& extra : read_some(out.queue, "check", 50, 200ms)) got.push_back(extra);
    std::set<std::string> payloads;
    for (const auto& r : got) payloads.insert(r.payload);
    EXPECT_EQ(payloads, want);
    EXPECT_EQ(got.size(), want.size());
    t.signal(SIGINT);
    EXPECT_EQ(t.wait_exit(10'000ms), 0) << t.err();
    EXPECT_NE(t.err().find("50 inputs, " + std::to_string(want.size()) + " outputs"), std::string::npos) << t.err();
    EXPECT_TRUE(read_some(in.queue, "f", 1, 300ms).empty());
}

// Every input is in OUT (committed) or still in IN's group, never both, never neither.
void expect_each_input_exactly_once(Queue& in, const std::string& group, Queue& out, int n,
                                    std::size_t expect_out) {
    const auto outs = read_some(out, "check", static_cast<std::size_t>(n), 500ms);
    const auto rest = read_some(in, group, static_cast<std::size_t>(n), 500ms, GroupKind::exclusive);
    EXPECT_EQ(outs.size(), expect_out);
    std::map<std::string, int> seen;
    for (const auto& r : outs) ++seen[r.payload];
    for (const auto& r : rest) ++seen[r.payload];
    for (int i = 0; i < n; ++i) EXPECT_EQ(seen["m" + std::to_string(i)], 1) << "m" << i;
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
}

TEST(TransformCliTest, aCommandThatExitsEndsTransformAndLeavesTheUncommittedInputsInTheQueue) {
    TempQueue in("tx-in", opts(1, 100)), out("tx-out", opts(1));
    constexpr int kN = 10;
    {
        auto p = in->producer();
        for (int i = 0; i < kN; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());
    }
    // --batch 1: the first two answers are committed one by one; the third input finds COMMAND gone.
    Transform t({in.name, "--group", "g", "--to", out.name, "--batch", "1", "--", "sh", "-c",
                 "read -r a; echo \"$a\"; read -r b; echo \"$b\"; exit 3"});
    EXPECT_EQ(t.wait_exit(10'000ms), 1) << t.err();
    const auto lines = tool_lines(t.err());
    ASSERT_EQ(lines.size(), 1u) << t.err();
    EXPECT_NE(lines[0].find("shmq transform: COMMAND exited (status 3) after 2 messages; the open transaction was aborted"),
              std::string::npos)
        << lines[0];
    expect_each_input_exactly_once(in.queue, "g", out.queue, kN, 2);
}

TEST(TransformCliTest, aCommandThatExitsMidBatchCommitsNothingOfThatBatch) {
    TempQueue in("tx-in", opts(1, 100)), out("tx-out", opts(1));
    constexpr int kN = 40;
    {
        auto p = in->producer();
        for (int i = 0; i < kN; ++i) ASSERT_TRUE(p.send("m" + std::to_string(i)).ok());
    }
    Transform t({in.name, "--group", "g", "--to", out.name, "--", "sh", "-c",
                 "read -r a; echo \"$a\"; read -r b; echo \"$b\"; exit 3"});
    EXPECT_EQ(t.wait_exit(10'000ms), 1) << t.err();
    const auto lines = tool_lines(t.err());
    ASSERT_EQ(lines.size(), 1u) << t.err();
    // All 40 are ready at once: one batch, of which COMMAND answers 2 and exits: nothing committed
    // (were the batch split, what was committed before it is in OUT, and nothing else).
    const std::string head = "COMMAND exited (status 3) after ";
    const auto at = lines[0].find(head);
    ASSERT_NE(at, std::string::npos) << lines[0];
    const auto committed = std::stoul(lines[0].substr(at + head.size()));
    EXPECT_LE(committed, 2u) << lines[0];
    expect_each_input_exactly_once(in.queue, "g", out.queue, kN, committed);
}

TEST(TransformCliTest, aPayloadWithANewlineIsNackedToTheDlqAndTheRestFlows) {
    TempQueue in("tx-in", opts(1, 2)), out("tx-out", opts(1));
    {
        auto p = in->producer();
        for (const char* s : {"a", "b\nc", "d"}) ASSERT_TRUE(p.send(std::string_view(s)).ok());
    }
    Transform t({in.name, "--group", "g", "--to", out.name, "--", "sed", "-u", "s/^/x/"});
    const auto got = read_some(out.queue, "check", 2, 3'000ms);
    ASSERT_EQ(got.size(), 2u) << t.err();
    EXPECT_EQ(got[0].payload, "xa");
    EXPECT_EQ(got[1].payload, "xd");
    std::this_thread::sleep_for(300ms);  // the second delivery of "b\nc" (max-deliveries 2)
    t.signal(SIGTERM);
    EXPECT_EQ(t.wait_exit(10'000ms), 0) << t.err();
    const auto lines = tool_lines(t.err());
    ASSERT_EQ(lines.size(), 3u) << t.err();  // two NACKs, the summary
    EXPECT_NE(lines[0].find("has a newline in its payload"), std::string::npos) << lines[0];
    EXPECT_NE(lines[2].find("2 inputs, 2 outputs"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("2 multi-line inputs NACKed"), std::string::npos) << lines[2];
    const auto r = sh("$SHMQ stat " + in.name + " --json");
    EXPECT_NE(r.out.find("\"dead_lettered\":1"), std::string::npos) << r.out;
}

TEST(TransformCliTest, usageErrorsExit2WithOneLine) {
    TempQueue in("tx-in", opts(1)), out("tx-out", opts(1));
    auto expect_usage = [](const test::ShellRun& r, const std::string& needle) {
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_EQ(count_lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    };
    expect_usage(sh("$SHMQ transform " + in.name + " --group g -- cat"), "--to");
    expect_usage(sh("$SHMQ transform " + in.name + " --group g --to " + out.name + " --kind sometimes -- cat"),
                 "--kind 'sometimes'");
    expect_usage(sh("$SHMQ transform " + in.name + " --group g --to " + out.name + " --batch 0 -- cat"), "--batch");
    expect_usage(sh("$SHMQ transform " + in.name + " --group g --to " + out.name), "no COMMAND");
    expect_usage(sh("$SHMQ transform " + in.name + " --to " + out.name + " -- cat"), "--group");
    // Not usage errors: exit 1, one line.
    auto r = sh("$SHMQ transform no-such-queue-xyz --group g --to " + out.name + " -- cat");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    r = sh("$SHMQ transform " + in.name + " --group g --to " + out.name + " -- /no/such/filter");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("cannot run COMMAND"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shmq
