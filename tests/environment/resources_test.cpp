// Resources running out: /dev/shm too small, shmqd's data dir full, the
// lease table, the group table, file descriptors. Each gives one clear line
// (what ran out, the limit, what to do) and an Errc, at the moment it runs
// out; nothing is lost or corrupted, and things flow again once there is room.
// Tiny filesystems are tmpfs mounts inside a private mount namespace
// (`unshare --mount`), so nothing is left mounted on the host.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "environment/environment.hpp"
#include "shmq/internal/names.hpp"
#include "support/processes.hpp"
#include "support/shell.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// `create` with a /dev/shm of 64 KiB (a private tmpfs in a new mount
// namespace): it fails at once (posix_fallocate), with one line saying that
// /dev/shm has no room, how much was needed and what to do, and leaves nothing.
TEST(ResourcesTest, aTinyDevShmFailsCreateWithOneClearLine) {
    if (auto why = test::cannot_mount_tmpfs()) GTEST_SKIP() << *why;
    const std::string name = test::unique_queue_name("tinyshm");
    const auto r = test::sh("exec unshare --mount sh -c 'mount -t tmpfs -o size=64k tmpfs /dev/shm || exit 90; "
                            "\"$0\" create " + name + " --capacity 65536; rc=$?; ls -A /dev/shm >&2; exit $rc' \"$SHMQ\"");
    ASSERT_NE(r.exit_code, 90) << "mount failed: " << r.err;
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1u) << "one line, and nothing left in the tiny /dev/shm:\n" << r.err;
    EXPECT_EQ(r.err.rfind("shmq: no room in /dev/shm for queue '" + name + "': it needs ", 0), 0u) << r.err;
    EXPECT_TRUE(test::contains(r.err, "KiB free")) << r.err;
    EXPECT_TRUE(test::contains(r.err, "enlarge /dev/shm")) << r.err;
    EXPECT_TRUE(test::contains(r.err, "--capacity")) << r.err;
    EXPECT_FALSE(Queue::exists(name));
}

// A payload that says which message it is all the way through, so a torn or
// mixed-up message cannot pass for another.
std::string payload_of(uint64_t i) {
    std::string s = std::to_string(i) + ":";
    while (s.size() < 56) s += static_cast<char>('a' + (i + s.size()) % 26);
    return s;
}

// shmqd's data dir is a 256 KiB tmpfs (in shmqd's own mount namespace),
// nearly filled by a filler file. A spilling queue: once the disk is full
// and staging is too, sends answer `overloaded` at once and shmqd says to
// free space; after the filler is removed (through /proc/PID/root) the same
// shmqd writes again, sends succeed, and every accepted message arrives
// once, intact, in order.
TEST(ResourcesTest, aFullDataDirAnswersOverloadedThenFlowsAgainWithNothingLost) {
    if (auto why = test::cannot_mount_tmpfs()) GTEST_SKIP() << *why;
    test::TempDir dir("fulldata");
    test::Workers workers;
    test::ShmqdProcess shmqd(dir, workers);
    const fs::path data = shmqd.data_dir();
    fs::create_directories(data);
    QueueOptions o;
    o.capacity = 16;
    o.spill_buffer = 64;
    o.max_message = 64;
    o.on_full = OnFull::spill;
    test::TempQueue q("fulldata", o);
    auto consumer = q->consumer("g", {.kind = GroupKind::exclusive});  // the group holds every message

    const std::string mount = "exec unshare --mount sh -c 'mount -t tmpfs -o size=256k,mode=0700 tmpfs " +
                              data.string() + " && head -c 200k /dev/zero >" + data.string() +
                              "/filler && shift && exec \"$@\"' sh ";
    test::Worker& d = shmqd.start("--queue " + q.name, mount);
    const fs::path filler = fs::path("/proc") / std::to_string(d.pid) / "root" / data.relative_path() / "filler";
    ASSERT_TRUE(fs::exists(filler)) << "the filler is not visible through " << filler;

    auto p = q->producer();
    SendOptions so;
    so.timeout = Millis(3000);
    uint64_t sent = 0;
    Status st;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        st = p.send(payload_of(sent), so);
        if (!st) break;
        ++sent;
    }
    ASSERT_EQ(st.code(), Errc::overloaded) << "after " << sent << " sends: " << st.message();
    EXPECT_GT(sent, 16u + 64u) << "the ring, staging and some disk took messages first";
    EXPECT_EQ(test::snapshot_of(q.name).partitions[0].spill_status, "disk full");
    EXPECT_TRUE(shmqd.wait_for_log("free space in the data dir")) << shmqd.log_text();

    // Room again: the same shmqd retries (every second) and writes on;
    // meanwhile a send may still be refused (and is then sent again).
    fs::remove(filler);
    const uint64_t accepted_before = sent;
    const auto flowing_by = std::chrono::steady_clock::now() + 15s;
    uint32_t refused = 0;
    while (sent < accepted_before + 100) {
        st = p.send(payload_of(sent), so);
        if (st.ok()) {
            ++sent;
            continue;
        }
        ASSERT_EQ(st.code(), Errc::overloaded) << st.message();
        ASSERT_LT(std::chrono::steady_clock::now(), flowing_by)
            << "still refused " << refused << " times after the data dir had room again\n" << shmqd.log_text();
        ++refused;
        std::this_thread::sleep_for(20ms);
    }
    for (uint64_t i = 0; i < sent; ++i) {
        auto m = consumer.receive(10000ms);
        ASSERT_TRUE(m) << "message " << i << " of " << sent << " (" << accepted_before
                       << " before the disk had room again): " << to_string(m.code()) << "\n" << shmqd.log_text();
        ASSERT_EQ(m->text(), payload_of(i)) << "at offset " << m->offset();
        ASSERT_TRUE(m->ack().ok());
    }
    auto extra = consumer.receive(200ms);
    EXPECT_FALSE(extra) << "a duplicate or unknown message: " << extra->text();
    EXPECT_EQ(workers.running(d), true) << "shmqd died";
}

// The lease table (max_participants entries): the next attacher gets
// no_resources naming the limit and the fix; the tool says the same line.
TEST(ResourcesTest, aFullLeaseTableGivesOneClearError) {
    QueueOptions o;
    o.max_participants = 3;
    test::TempQueue q("leases", o);
    std::vector<Producer> held;
    for (int i = 0; i < 3; ++i) held.push_back(q->producer());
    const std::string err = test::describe_error([&] { (void)q->producer(); });
    EXPECT_EQ(err.rfind(std::string(to_string(Errc::no_resources)) + "|", 0), 0u) << err;
    EXPECT_TRUE(test::contains(err, "all 3 participant entries")) << err;
    // The refused attach must leave our three entries alive (it once freed
    // the OFD lock of entry 0, and the tool below then reaped a live producer).
    EXPECT_TRUE(test::contains(err, "--max-participants")) << err;
    const auto r = test::sh("echo x | $SHMQ produce " + q.name);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
    EXPECT_TRUE(test::contains(r.err, "--max-participants")) << r.err;
    held.pop_back();
    EXPECT_EQ(test::describe_error([&] { (void)q->producer(); }), "ok") << "a freed entry is taken again";
}

// The group table (max_groups entries).
TEST(ResourcesTest, aFullGroupTableGivesOneClearError) {
    QueueOptions o;
    o.max_groups = 2;
    test::TempQueue q("groups", o);
    auto a = q->consumer("a");
    auto b = q->consumer("b");
    const std::string err = test::describe_error([&] { (void)q->consumer("c"); });
    EXPECT_EQ(err.rfind(std::string(to_string(Errc::no_resources)) + "|", 0), 0u) << err;
    EXPECT_TRUE(test::contains(err, "already has 2 groups")) << err;
    EXPECT_TRUE(test::contains(err, "--max-groups")) << err;
    const auto r = test::sh("$SHMQ consume " + q.name + " --group d --timeout-ms 10");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
    EXPECT_TRUE(test::contains(r.err, "--max-groups")) << r.err;
    EXPECT_EQ(test::describe_error([&] { (void)q->consumer("a"); }), "ok") << "an existing group can still be joined";
}

// RLIMIT_NOFILE set, in a forked child, to leave 0, 1, 2, ... descriptors
// free: opening the queue and attaching either works or fails with
// no_resources and a line naming RLIMIT_NOFILE; never a crash, never a
// participant that peers would take for dead.
TEST(ResourcesTest, runningOutOfDescriptorsGivesOneClearError) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan (built with ASan in the asan preset) opens a pipe to check a
    // vptr: without descriptors it reports a false "invalid vptr" and halts.
    GTEST_SKIP() << "the ASan+UBSan runtimes need descriptors of their own; tested in the release and TSan builds";
#endif
    test::TempQueue q("nofile");
    std::vector<std::string> results;
    for (int spare = 0; spare <= 5; ++spare) {
        const auto r = test::in_child([&](int fd) {
            const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free descriptor
            if (probe < 0) return 2;
            ::close(probe);
            struct rlimit rl {};
            ::getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = static_cast<rlim_t>(probe + spare);
            if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return 3;
            test::write_text(fd, test::describe_error([&] {
                auto queue = Queue::open(q.name);
                auto p = queue.producer();
                if (!p.send("fd").ok()) throw Error(Errc::invalid_argument, "send failed");
            }));
            return 0;
        });
        ASSERT_EQ(r.exit_code, 0) << "spare " << spare << ": exit " << r.exit_code << " signal " << r.signal << " "
                                  << r.text;
        results.push_back(r.text);
        if (r.text == "ok") continue;
        EXPECT_EQ(r.text.rfind(std::string(to_string(Errc::no_resources)) + "|too many open files: ", 0), 0u)
            << "spare " << spare << ": " << r.text;
        EXPECT_TRUE(test::contains(r.text, "RLIMIT_NOFILE ")) << r.text;
        EXPECT_TRUE(test::contains(r.text, "ulimit -n")) << r.text;
    }
    EXPECT_NE(results.front(), "ok") << "no descriptor to spare cannot work";
    EXPECT_EQ(results.back(), "ok") << "five to spare are enough";
    // The tool, with one descriptor to spare (stdin, stdout, stderr and one):
    // one line, exit 1. (A sanitizer runtime may need that descriptor itself.)
    const auto r = test::sh("ulimit -n 4 && exec \"$SHMQ\" stat " + q.name);
    if (!test::contains(r.err, "error while loading") && !test::contains(r.err, "Sanitizer")) {
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
        EXPECT_TRUE(test::contains(r.err, "shmq: too many open files: ")) << r.err;
        EXPECT_TRUE(test::contains(r.err, "RLIMIT_NOFILE 4")) << r.err;
    }
}

}  // namespace
}  // namespace shmq
