// shmqd under systemd: the notify protocol through a fake NOTIFY_SOCKET
// (READY, STATUS, WATCHDOG, RELOADING + MONOTONIC_USEC, STOPPING), the
// watchdog's owner, a socket nobody listens on, and `systemd-analyze
// verify` of packaging/shmqd.service where systemd-analyze exists.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/processes.hpp"
#include "support/shmqd_process.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t monotonic_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// The receiving end systemd would hold: a datagram socket bound at a path
// (or, for '@name', in the abstract namespace), each datagram kept with the
// time it was read.
class FakeNotifySocket {
public:
    struct Message {
        std::string text;
        Clock::time_point at;
    };

    explicit FakeNotifySocket(const std::string& address) : address_(address) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, address.data(), address.size());
        if (address[0] == '@') sa.sun_path[0] = '\0';
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '@' ? 0 : 1));
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), len) != 0)
            throw std::runtime_error("bind " + address + ": " + std::strerror(errno));
    }
    ~FakeNotifySocket() { ::close(fd_); }
    const std::string& address() const { return address_; }

    // The next datagram, or nullopt once `timeout` passed without one.
    std::optional<Message> next(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left < 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) continue;
            Message m{std::string(buf, static_cast<std::size_t>(n)), Clock::now()};
            seen_.push_back(m);
            return m;
        }
    }
    // Reads until a datagram containing the line `line` (other datagrams are kept in seen()).
    std::optional<Message> wait_for(const std::string& line, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            auto m = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
            if (m && has_line(m->text, line)) return m;
        }
        return std::nullopt;
    }
    // Everything read until `for_how_long` has passed.
    std::vector<Message> collect(std::chrono::milliseconds for_how_long) {
        std::vector<Message> out;
        const auto until = Clock::now() + for_how_long;
        while (Clock::now() < until)
            if (auto m = next(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()))) out.push_back(*m);
        return out;
    }
    const std::vector<Message>& seen() const { return seen_; }
    std::string transcript() const {
        std::string s;
        for (const auto& m : seen_) s += "  [" + m.text + "]\n";
        return s.empty() ? "  (nothing)\n" : s;
    }

    static bool has_line(const std::string& text, const std::string& line) {
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);)
            if (l == line) return true;
        return false;
    }
    static std::optional<std::string> value_of(const std::string& text, const std::string& key) {
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);)
            if (l.rfind(key + "=", 0) == 0) return l.substr(key.size() + 1);
        return std::nullopt;
    }

private:
    std::string address_;
    int fd_ = -1;
    std::vector<Message> seen_;
};

class SystemdTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // The environment systemd gives a Type=notify service with WatchdogSec=.
    static std::string notify_env(const std::string& socket, const std::string& watchdog_usec,
                                  const std::string& watchdog_pid = "") {
        std::string env = "export NOTIFY_SOCKET='" + socket + "'; ";
        env += watchdog_usec.empty() ? "unset WATCHDOG_USEC; " : "export WATCHDOG_USEC=" + watchdog_usec + "; ";
        env += watchdog_pid.empty() ? "unset WATCHDOG_PID; " : "export WATCHDOG_PID=" + watchdog_pid + "; ";
        return env;
    }

    test::TempDir dir{"systemd"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(SystemdTest, tellsSystemdReadyStatusWatchdogReloadingAndStopping) {
    test::TempQueue first("sd-first");
    const std::string second = test::unique_queue_name("sd-second");
    FakeNotifySocket sock(dir.file("notify").string());
    test::Worker& d = shmqd.start("--queue " + first.name + " --queue " + second, notify_env(sock.address(), "200000"));

    const auto ready = sock.wait_for("READY=1");
    ASSERT_TRUE(ready) << "no READY=1 within 10 s; received:\n" << sock.transcript() << shmqd.log_text();
    // The status came with or before READY: it names the one queue that exists.
    bool status_one = false;
    for (const auto& m : sock.seen()) status_one |= FakeNotifySocket::value_of(m.text, "STATUS") == "serving 1 queue";
    EXPECT_TRUE(status_one) << sock.transcript();

    // The watchdog is fed every half of WATCHDOG_USEC (100 ms), from the loop.
    // Judged by the mean gap over the window (span / gaps), after draining
    // what queued up before it: a test stalled by a loaded machine reads a
    // burst later, which bends single gaps but neither the span nor the count.
    while (sock.next(0ms)) {
    }
    const auto window = sock.collect(1500ms);
    std::vector<Clock::time_point> feeds;
    for (const auto& m : window)
        if (FakeNotifySocket::has_line(m.text, "WATCHDOG=1")) feeds.push_back(m.at);
    ASSERT_GE(feeds.size(), 5u) << "WATCHDOG=1 every 100 ms makes 15 in 1.5 s; received:\n" << sock.transcript();
    const double mean_gap_ms =
        std::chrono::duration<double, std::milli>(feeds.back() - feeds.front()).count() / static_cast<double>(feeds.size() - 1);
    std::cout << "[ systemd ] " << feeds.size() << " WATCHDOG=1 in 1.5 s, " << mean_gap_ms << " ms apart on average (half of 200 ms)\n";
    EXPECT_GE(mean_gap_ms, 50.0) << "fed far more often than every half interval";
    EXPECT_LE(mean_gap_ms, 200.0) << "fed less often than the watchdog interval: systemd would have killed it";
    // No STATUS repeated while nothing changed.
    for (const auto& m : window) EXPECT_FALSE(FakeNotifySocket::value_of(m.text, "STATUS")) << m.text;

    // A second named queue appears: the status follows, once.
    const Queue later = Queue::create(second);
    struct RemoveLater {
        std::string name;
        ~RemoveLater() {
            try {
                Queue::remove(name);
            } catch (...) {
            }
        }
    } remove_later{second};
    const auto status_two = sock.wait_for("STATUS=serving 2 queues");
    EXPECT_TRUE(status_two) << sock.transcript() << shmqd.log_text();

    // SIGHUP: RELOADING=1 with the monotonic time it began, then READY=1.
    const uint64_t before_us = monotonic_us();
    ASSERT_EQ(::kill(d.pid, SIGHUP), 0);
    const auto reloading = sock.wait_for("RELOADING=1");
    const uint64_t after_us = monotonic_us();
    ASSERT_TRUE(reloading) << sock.transcript();
    const auto usec = FakeNotifySocket::value_of(reloading->text, "MONOTONIC_USEC");
    ASSERT_TRUE(usec) << "RELOADING=1 without MONOTONIC_USEC: " << reloading->text;
    const uint64_t at = std::stoull(*usec);
    EXPECT_GE(at, before_us) << "MONOTONIC_USEC is before the SIGHUP was sent";
    EXPECT_LE(at, after_us) << "MONOTONIC_USEC is after it was received";
    EXPECT_TRUE(sock.wait_for("READY=1")) << "no READY=1 after the reload:\n" << sock.transcript();

    // SIGTERM: STOPPING=1, then exit 0.
    ASSERT_EQ(::kill(d.pid, SIGTERM), 0);
    EXPECT_TRUE(sock.wait_for("STOPPING=1")) << sock.transcript();
    EXPECT_EQ(shmqd.wait_exit(d, 10s), 0) << shmqd.log_text();
}

TEST_F(SystemdTest, leavesTheWatchdogAloneWhenWatchdogPidNamesAnotherProcess) {
    FakeNotifySocket sock(dir.file("notify").string());
    // Our own pid: certainly alive, certainly not shmqd's.
    test::Worker& d = shmqd.start("", notify_env(sock.address(), "200000", std::to_string(::getpid())));
    ASSERT_TRUE(sock.wait_for("READY=1")) << sock.transcript() << shmqd.log_text();
    for (const auto& m : sock.collect(1000ms))
        EXPECT_FALSE(FakeNotifySocket::has_line(m.text, "WATCHDOG=1")) << "fed another process's watchdog";
    ::kill(d.pid, SIGTERM);
    EXPECT_EQ(shmqd.wait_exit(d, 10s), 0) << shmqd.log_text();
}

TEST_F(SystemdTest, notifiesThroughAnAbstractSocket) {
    FakeNotifySocket sock("@shmq-test-notify-" + std::to_string(::getpid()));
    test::Worker& d = shmqd.start("", notify_env(sock.address(), ""));
    ASSERT_TRUE(sock.wait_for("READY=1")) << sock.transcript() << shmqd.log_text();
    ::kill(d.pid, SIGTERM);
    EXPECT_TRUE(sock.wait_for("STOPPING=1")) << sock.transcript();
    EXPECT_EQ(shmqd.wait_exit(d, 10s), 0) << shmqd.log_text();
    for (const auto& m : sock.seen()) EXPECT_FALSE(FakeNotifySocket::has_line(m.text, "WATCHDOG=1")) << "no WATCHDOG_USEC given";
}

TEST_F(SystemdTest, aSocketNobodyListensOnIsLoggedOnceAndChangesNothing) {
    const std::string nobody = dir.file("nobody-listens").string();
    test::Worker& d = shmqd.start("", notify_env(nobody, "100000"));
    // 100 ms watchdog: ~20 failed feeds in the next second, one log line.
    ASSERT_TRUE(shmqd.wait_for_log("cannot notify systemd", "shmqd.log", 10s)) << shmqd.log_text();
    const auto until = Clock::now() + 1s;
    while (Clock::now() < until) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(workers.running(d)) << "a notify failure must not stop shmqd";
    EXPECT_EQ(shmqd.count("shmqd.log", "cannot notify systemd"), 1u) << shmqd.log_text();
    ::kill(d.pid, SIGTERM);
    EXPECT_EQ(shmqd.wait_exit(d, 10s), 0) << shmqd.log_text();
}

TEST_F(SystemdTest, aMalformedNotifySocketIsRefusedWithOneLine) {
    test::Worker& d = shmqd.start("", notify_env("relative/path", "200000"));
    EXPECT_TRUE(shmqd.wait_for_log("neither an absolute path nor '@abstract'")) << shmqd.log_text();
    ::kill(d.pid, SIGTERM);
    EXPECT_EQ(shmqd.wait_exit(d, 10s), 0) << shmqd.log_text();
}

// --- The unit ------------------------------------------------------------------

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string unit_path() { return std::string(SHMQ_SOURCE_DIR) + "/packaging/shmqd.service"; }

TEST(SystemdUnitTest, isTypeNotifyWithAWatchdogAndNeverRemovesIpc) {
    const std::string unit = read_text(unit_path());
    ASSERT_FALSE(unit.empty()) << "cannot read " << unit_path();
    for (const char* line : {"Type=notify", "NotifyAccess=main", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                             "ProtectSystem=strict", "ProtectHome=yes"})
        EXPECT_TRUE(FakeNotifySocket::has_line(unit, line)) << "missing: " << line;
    EXPECT_TRUE(FakeNotifySocket::value_of(unit, "WatchdogSec")) << "no WatchdogSec=";
    const auto rw = FakeNotifySocket::value_of(unit, "ReadWritePaths");
    ASSERT_TRUE(rw);
    EXPECT_NE(rw->find("/dev/shm"), std::string::npos);
    EXPECT_NE(rw->find("/var/lib/shmq"), std::string::npos);
    // Both delete the service user's files in /dev/shm, i.e. the queues.
    EXPECT_FALSE(FakeNotifySocket::value_of(unit, "DynamicUser"));
    EXPECT_FALSE(FakeNotifySocket::value_of(unit, "RemoveIPC"));
}

// systemd-analyze verify on a copy whose ExecStart is the shmqd just built
// (the installed path does not exist here). Only lines naming our unit fail
// the test: the host's own units (or no systemd running) may add noise.
TEST(SystemdUnitTest, passesSystemdAnalyzeVerify) {
    if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "systemd-analyze is not installed (Debian: systemd); the unit was not verified";
    test::TempDir dir("unit");
    const std::string copy = dir.file("shmqd.service").string();
    std::string unit = read_text(unit_path());
    const std::string from = "ExecStart=/usr/local/sbin/shmqd";
    const auto at = unit.find(from);
    ASSERT_NE(at, std::string::npos) << "ExecStart is no longer " << from << "; update this test";
    unit.replace(at, from.size(), std::string("ExecStart=") + SHMQD_PATH);
    std::ofstream(copy) << unit;
    const std::string out_file = dir.file("verify.out").string();
    const int rc = std::system(("systemd-analyze verify '" + copy + "' >'" + out_file + "' 2>&1").c_str());
    const std::string out = read_text(out_file);
    std::istringstream lines(out);
    std::string ours, noise;
    for (std::string l; std::getline(lines, l);) (l.find("shmqd.service") != std::string::npos ? ours : noise) += l + "\n";
    if (!noise.empty()) std::cout << "[ systemd ] systemd-analyze's words about the host, ignored:\n" << noise;
    EXPECT_TRUE(ours.empty()) << "systemd-analyze verify on packaging/shmqd.service:\n" << ours;
    if (rc != 0 && ours.empty())
        std::cout << "[ systemd ] systemd-analyze exited " << rc << " without a word about our unit (host environment)\n";
}

}  // namespace
}  // namespace shmq
