// Permissions: regions are owner-only unless created for a group; a process
// without rights gets one "permission denied: ..." line (library and tool),
// never a crash; nothing in /dev/shm or shmqd's data dir is followed through
// a symlink; shmqd serves only regions its own user (or a configured one) owns.
// Other users are played by forked children that setuid to 65534 (nobody).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "environment/environment.hpp"
#include "shmq/internal/inspect.hpp"
#include "shmq/internal/names.hpp"
#include "record_codec.hpp"
#include "support/processes.hpp"
#include "support/shell.hpp"
#include "support/shmqd_process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
    return st;
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// A queue made with the tool (so --mode/--group go through its parsing), removed at the end.
struct ToolQueue {
    std::string name = test::unique_queue_name("perm");
    ~ToolQueue() { test::sh("$SHMQ delete " + name + " >/dev/null 2>&1"); }
};

// A symlink /dev/shm/shmq.<name> that is removed at the end.
struct ShmSymlink {
    std::string name = test::unique_queue_name("link");
    std::string path = detail::region_path(name);
    explicit ShmSymlink(const fs::path& target) { EXPECT_EQ(::symlink(target.c_str(), path.c_str()), 0); }
    ~ShmSymlink() { ::unlink(path.c_str()); }
};

class PermissionsTest : public testing::Test {
protected:
    void SetUp() override {
        if (auto why = test::cannot_switch_user()) GTEST_SKIP() << *why;
    }
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // The tool run as uid:gid 65534 (setpriv, util-linux).
    static test::ShellRun as_nobody(const std::string& args) {
        return test::sh("setpriv --reuid=65534 --regid=65534 --clear-groups $SHMQ " + args);
    }

    test::TempDir dir{"perm"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(PermissionsTest, regionsAreOwnerOnlyByDefault) {
    test::TempQueue lib_made("perm");
    EXPECT_EQ(lstat_of(detail::region_path(lib_made.name)).st_mode & 07777, 0600u);
    ToolQueue tool_made;
    ASSERT_EQ(test::sh("$SHMQ create " + tool_made.name).exit_code, 0);
    EXPECT_EQ(lstat_of(detail::region_path(tool_made.name)).st_mode & 07777, 0600u);
}

// Library: Errc::permission_denied (SHMQ_ERR_PERMISSION_DENIED in the C API)
// and one line naming the path, its owner and the fix.
TEST_F(PermissionsTest, anotherUserGetsOnePermissionDeniedLineFromTheLibrary) {
    test::TempQueue q("perm");
    const std::string path = detail::region_path(q.name);
    const auto r = test::in_child([&](int fd) {
        if (!test::become(test::kNobody, test::kNogroup)) return 2;
        test::write_text(fd, test::describe_error([&] { (void)Queue::open(q.name); }) + "\n");
        test::write_text(fd, test::describe_error([&] { Queue::remove(q.name); }) + "\n");
        return 0;
    });
    ASSERT_EQ(r.exit_code, 0) << r.text;
    const std::string open_line = r.text.substr(0, r.text.find('\n'));
    const std::string denied = std::string(to_string(Errc::permission_denied)) + "|permission denied: ";
    EXPECT_EQ(open_line.rfind(denied, 0), 0u) << open_line;
    EXPECT_TRUE(test::contains(open_line, path)) << open_line;
    EXPECT_TRUE(test::contains(open_line, "mode 0600")) << open_line;
    EXPECT_TRUE(test::contains(open_line, "--mode 0660 --group")) << open_line;
    const std::string remove_line = r.text.substr(r.text.find('\n') + 1);
    EXPECT_EQ(remove_line.rfind(denied + "cannot remove " + path, 0), 0u) << remove_line;
    EXPECT_TRUE(Queue::exists(q.name)) << "a refused remove must change nothing";
}

TEST_F(PermissionsTest, anotherUserGetsOnePermissionDeniedLineFromTheTool) {
    test::TempQueue q("perm");
    for (const std::string& verb : {"stat " + q.name, "produce " + q.name + " </dev/null",
                                   "consume " + q.name + " --group g --timeout-ms 10", "delete " + q.name}) {
        const auto r = as_nobody(verb);
        EXPECT_EQ(r.exit_code, 1) << verb << ": " << r.err;
        EXPECT_EQ(test::count_lines(r.err), 1u) << verb << ": " << r.err;
        EXPECT_EQ(r.err.rfind("shmq: permission denied: ", 0), 0u) << verb << ": " << r.err;
        EXPECT_TRUE(test::contains(r.err, detail::region_path(q.name))) << verb << ": " << r.err;
    }
    EXPECT_TRUE(Queue::exists(q.name));
}

// A team: `create --mode 0660 --group G`; a member of G (another uid)
// produces, we consume; a non-member is still refused.
TEST_F(PermissionsTest, createWithModeAndGroupLetsTheGroupIn) {
    ToolQueue q;
    const auto created = test::sh("$SHMQ create " + q.name + " --mode 0660 --group " + std::to_string(test::kNogroup));
    ASSERT_EQ(created.exit_code, 0) << created.err;
    EXPECT_TRUE(test::contains(created.out, "mode 0660, group")) << created.out;
    const auto st = lstat_of(detail::region_path(q.name));
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    EXPECT_EQ(st.st_gid, test::kNogroup);
    EXPECT_EQ(st.st_uid, ::geteuid());

    const auto member = test::in_child([&](int fd) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(test::kNogroup) != 0 || ::setuid(12345) != 0) return 2;
        try {
            auto queue = Queue::open(q.name);
            auto p = queue.producer();
            return p.send("from the team").ok() ? 0 : 3;
        } catch (const Error& e) {
            test::write_text(fd, e.what());
            return 4;
        }
    });
    ASSERT_EQ(member.exit_code, 0) << member.text;
    auto queue = Queue::open(q.name);
    auto c = queue.consumer("g");
    auto m = c.receive(2000ms);
    ASSERT_TRUE(m) << to_string(m.code());
    EXPECT_EQ(m->text(), "from the team");
    EXPECT_TRUE(m->ack().ok());

    const auto stranger = test::in_child([&](int fd) {
        if (!test::become(12345, 12345)) return 2;
        test::write_text(fd, test::describe_error([&] { (void)Queue::open(q.name); }));
        return 0;
    });
    EXPECT_EQ(stranger.text.rfind(std::string(to_string(Errc::permission_denied)) + "|permission denied: ", 0), 0u)
        << stranger.text;

    // Read-only for the group (0640): monitoring works, producing does not.
    ToolQueue ro;
    ASSERT_EQ(test::sh("$SHMQ create " + ro.name + " --mode 0640 --group nogroup").exit_code, 0);
    EXPECT_EQ(as_nobody("stat " + ro.name).exit_code, 0);
    const auto produce = as_nobody("produce " + ro.name + " </dev/null");
    EXPECT_EQ(produce.exit_code, 1);
    EXPECT_TRUE(test::contains(produce.err, "permission denied: ")) << produce.err;
}

TEST_F(PermissionsTest, createForAGroupOneIsNotInIsRefusedAndLeavesNothing) {
    ToolQueue q;
    const auto r = as_nobody("create " + q.name + " --mode 0660 --group root");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("shmq: permission denied: cannot give " + detail::region_path(q.name) + " to group 0", 0), 0u)
        << r.err;
    EXPECT_FALSE(Queue::exists(q.name)) << "a failed create must leave nothing behind";
    // Usage errors: a group without access, an unknown group.
    EXPECT_EQ(test::sh("$SHMQ create " + q.name + " --group nogroup").exit_code, 2);
    EXPECT_EQ(test::sh("$SHMQ create " + q.name + " --mode 0660 --group no-such-group-here").exit_code, 2);
    EXPECT_FALSE(Queue::exists(q.name));
}

// A symlink named like a queue in /dev/shm (sticky and world-writable: any
// user can make one) is refused by the library, the tool and shmqd.
TEST_F(PermissionsTest, aSymlinkInDevShmIsNeverFollowed) {
    const fs::path target = dir.file("target");
    std::ofstream(target) << "not a region\n";
    ShmSymlink link(target);
    const std::string err = test::describe_error([&] { (void)Queue::open(link.name); });
    EXPECT_TRUE(test::contains(err, link.path + " is a symlink")) << err;
    const auto r = test::sh("$SHMQ stat " + link.name);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(test::contains(r.err, "is a symlink")) << r.err;

    shmqd.start("--queue " + link.name);
    EXPECT_TRUE(shmqd.wait_for_log("not serving queue " + link.name + ": " + link.path + " is a symlink"))
        << shmqd.log_text();
    EXPECT_EQ(read_file(target), "not a region\n");
}

// shmqd serves only regions its own uid owns, plus --serve-uid ones.
TEST_F(PermissionsTest, shmqdSkipsARegionOfAnotherUserUnlessConfigured) {
    test::TempQueue q("perm");
    ASSERT_EQ(::chown(detail::region_path(q.name).c_str(), test::kNobody, test::kNogroup), 0);
    test::Worker& d = shmqd.start("--queue " + q.name);
    ASSERT_TRUE(shmqd.wait_for_log("not serving queue " + q.name + ": ")) << shmqd.log_text();
    EXPECT_TRUE(test::contains(shmqd.log_text(), "owned by uid 65534")) << shmqd.log_text();
    EXPECT_TRUE(test::contains(shmqd.log_text(), "--serve-uid 65534")) << shmqd.log_text();
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(test::snapshot_of(q.name).participants.empty()) << "shmqd attached to a region it must not serve";
    EXPECT_EQ(shmqd.count("shmqd.log", "not serving queue"), 1u) << "said once, not every retry";
    workers.kill(d);

    shmqd.start("--queue " + q.name + " --serve-uid nobody", "", "served.log");
    EXPECT_TRUE(shmqd.wait_for_log("watching queue " + q.name, "served.log")) << shmqd.log_text("served.log");
}

// shmqd's data dir: journal/ (or spill/) as a symlink, or a data dir others
// can write, stops shmqd at start with one line; a symlinked queue directory
// or segment below it is refused with a log line and never written through.
TEST_F(PermissionsTest, shmqdRefusesASymlinkedOrSharedDataDir) {
    const fs::path data = shmqd.data_dir();
    const fs::path elsewhere = dir.file("elsewhere");
    fs::create_directories(data);
    fs::create_directories(elsewhere);
    fs::permissions(data, fs::perms::owner_all, fs::perm_options::replace);
    fs::create_directory_symlink(elsewhere, data / "journal");
    test::Worker& d1 = shmqd.start("", "", "symlink.log", /*wait_started=*/false);
    EXPECT_EQ(shmqd.wait_exit(d1), 1);
    EXPECT_TRUE(test::contains(shmqd.log_text("symlink.log"), (data / "journal").string() + " is a symlink"))
        << shmqd.log_text("symlink.log");
    fs::remove(data / "journal");

    fs::permissions(data, fs::perms::owner_all | fs::perms::others_write, fs::perm_options::replace);
    test::Worker& d2 = shmqd.start("", "", "shared.log", /*wait_started=*/false);
    EXPECT_EQ(shmqd.wait_exit(d2), 1);
    EXPECT_TRUE(test::contains(shmqd.log_text("shared.log"), "others could plant symlinks")) << shmqd.log_text("shared.log");
    fs::permissions(data, fs::perms::owner_all, fs::perm_options::replace);
    EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(PermissionsTest, shmqdRefusesASymlinkedQueueDirAndSegment) {
    const fs::path data = shmqd.data_dir();
    const fs::path elsewhere = dir.file("elsewhere");
    fs::create_directories(data / "journal");
    fs::create_directories(elsewhere);
    fs::permissions(data, fs::perms::owner_all, fs::perm_options::replace);
    QueueOptions o;
    o.journal = true;
    o.capacity = 16;
    // Queue a: its journal directory is a symlink. Queue b: its first segment is.
    test::TempQueue a("perm", o);
    test::TempQueue b("perm", o);
    fs::create_directory_symlink(elsewhere, data / "journal" / a.name);
    fs::create_directories(data / "journal" / b.name / "p0");
    const fs::path decoy = dir.file("decoy.seg");
    std::ofstream(decoy) << "decoy";
    fs::create_symlink(decoy, data / "journal" / b.name / "p0" / disk::segment_file_name(0));

    shmqd.start("--queue " + a.name + " --queue " + b.name);
    EXPECT_TRUE(shmqd.wait_for_log((data / "journal" / a.name).string() + ": is a symlink or not a directory; refused"))
        << shmqd.log_text();
    EXPECT_TRUE(shmqd.wait_for_log("is not a regular file (symlink?); refused")) << shmqd.log_text();
    auto p = b->producer();
    ASSERT_TRUE(p.send("journaled").ok());
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(fs::is_empty(elsewhere)) << "shmqd wrote through a symlinked queue dir";
    EXPECT_EQ(read_file(decoy), "decoy") << "shmqd wrote through a symlinked segment";
}

}  // namespace
}  // namespace shmq
