#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>

#include "disk_fixture.hpp"
#include "support/scale.hpp"

namespace shmq::disk::test {
namespace {

class SegmentWriterPolicyTest : public ::testing::TestWithParam<Fsync> {};

TEST_P(SegmentWriterPolicyTest, writesRecordsThatReadBackExactly) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    WriterOptions o;
    o.fsync = GetParam();
    o.buffer_bytes = 16 << 10;
    const uint64_t n = GetParam() == Fsync::always ? 300 : shmq::test::scaled(20000);
    const auto recs = make_recs(0, n);
    auto w = open_writer(dir.fd.get(), o);
    ASSERT_EQ(write_all(*w, recs), WriteStatus::ok) << w->error();
    EXPECT_EQ(w->durable_offset(), n);
    EXPECT_EQ(w->next_offset(), n);
    w.reset();
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_EQ(r.recs, recs);
    EXPECT_EQ(r.report.next_offset, n);
    EXPECT_EQ(r.report.corrupt, 0u);
    EXPECT_EQ(r.report.truncated_bytes, 0u);
    EXPECT_TRUE(r.log.empty()) << r.log.front();
}

TEST_P(SegmentWriterPolicyTest, pollAloneMakesEveryRecordDurable) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    WriterOptions o;
    o.fsync = GetParam();
    auto w = open_writer(dir.fd.get(), o);
    const auto recs = make_recs(10, 200);
    for (const Rec& r : recs) {
        WriteStatus s;
        while ((s = w->append(r.offset, bytes_of(r.key), bytes_of(r.payload), r.publish_unix_ns, r.flags)) ==
               WriteStatus::busy)
            w->poll();
        ASSERT_EQ(s, WriteStatus::ok);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (w->durable_offset() < 210 && std::chrono::steady_clock::now() < deadline) w->poll();
    EXPECT_EQ(w->durable_offset(), 210u);
    EXPECT_EQ(w->batches_in_flight(), 0u);
    w.reset();
    EXPECT_EQ(recover(dir.fd.get(), false).recs, recs);
}

INSTANTIATE_TEST_SUITE_P(EachFsync, SegmentWriterPolicyTest,
                         ::testing::Values(Fsync::never, Fsync::batch, Fsync::always),
                         [](const ::testing::TestParamInfo<Fsync>& p) { return std::string(to_string(p.param)); });

TEST(SegmentWriterTest, rollsToANewSegmentAtTheSizeLimit) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    WriterOptions o;
    o.segment_bytes = 4096;
    o.buffer_bytes = 1024;
    auto w = open_writer(dir.fd.get(), o);
    const auto recs = make_recs(0, 1000);
    ASSERT_EQ(write_all(*w, recs), WriteStatus::ok) << w->error();
    const uint64_t created = w->segments_created();
    w.reset();
    const auto files = list_segments(dir.fd.get(), nullptr);
    EXPECT_GT(created, 20u);
    ASSERT_EQ(files.size(), created);
    for (const SegmentFile& f : files) EXPECT_LE(f.bytes, 4096u) << f.name;
    EXPECT_EQ(files.front().first_offset, 0u);
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_EQ(r.recs, recs);
    // Each file is named after its first record.
    for (const SegmentFile& f : files) {
        const auto it = std::find_if(r.recs.begin(), r.recs.end(), [&](const Rec& x) { return x.offset == f.first_offset; });
        EXPECT_NE(it, r.recs.end()) << f.name;
    }
}

TEST(SegmentWriterTest, aRecordLargerThanTheBufferOrSegmentStillGoesInWhole) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    WriterOptions o;
    o.segment_bytes = 1000;
    o.buffer_bytes = 512;
    auto w = open_writer(dir.fd.get(), o);
    std::vector<Rec> recs = make_recs(0, 3);
    recs[1].payload.assign(10000, 'x');
    ASSERT_EQ(write_all(*w, recs), WriteStatus::ok) << w->error();
    w.reset();
    EXPECT_EQ(recover(dir.fd.get(), true).recs, recs);
}

TEST(SegmentWriterTest, acceptsGapsButNeverAnOffsetGoingBack) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    auto w = open_writer(dir.fd.get(), {}, 5);
    std::vector<Rec> recs = {make_rec(5), make_rec(9), make_rec(100)};
    ASSERT_EQ(write_all(*w, recs), WriteStatus::ok);
    const Rec old = make_rec(100);
    EXPECT_EQ(w->append(100, bytes_of(old.key), bytes_of(old.payload), 0), WriteStatus::bad_argument);
    EXPECT_EQ(w->append(4, bytes_of(old.key), bytes_of(old.payload), 0), WriteStatus::bad_argument);
    EXPECT_EQ(w->append(UINT64_MAX, bytes_of(old.key), bytes_of(old.payload), 0), WriteStatus::bad_argument);
    EXPECT_EQ(w->status(), WriteStatus::ok) << "a refused argument is not an I/O error";
    w.reset();
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_EQ(r.recs, recs);
    EXPECT_EQ(r.report.next_offset, 101u);
}

TEST(SegmentWriterTest, resumesAfterRecoveryInANewSegment) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    auto recs = make_recs(0, 50);
    {
        auto w = open_writer(dir.fd.get(), {});
        ASSERT_EQ(write_all(*w, recs), WriteStatus::ok);
    }
    const Recovered first = recover(dir.fd.get(), true);
    auto more = make_recs(first.report.next_offset, 50);
    {
        auto w = open_writer(dir.fd.get(), {}, first.report.next_offset);
        ASSERT_EQ(write_all(*w, more), WriteStatus::ok) << w->error();
    }
    recs.insert(recs.end(), more.begin(), more.end());
    EXPECT_EQ(recover(dir.fd.get(), true).recs, recs);
    EXPECT_EQ(list_segments(dir.fd.get(), nullptr).size(), 2u);
}

TEST(SegmentWriterTest, saysBusyWhenEveryBufferIsInFlightAndNeverBlocks) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    WriterOptions o;
    o.fsync = Fsync::always;  // each append seals and submits its batch
    o.max_batches_in_flight = 1;
    auto w = open_writer(dir.fd.get(), o);
    const Rec a = make_rec(0), b = make_rec(1);
    ASSERT_EQ(w->append(0, bytes_of(a.key), bytes_of(a.payload), a.publish_unix_ns, a.flags), WriteStatus::ok);
    EXPECT_EQ(w->durable_offset(), 0u) << "nothing is durable before its completion is reaped";
    EXPECT_EQ(w->batches_in_flight(), 1u);
    // Completions are reaped only by poll(): the one buffer stays taken.
    EXPECT_EQ(w->append(1, bytes_of(b.key), bytes_of(b.payload), b.publish_unix_ns, b.flags), WriteStatus::busy);
    EXPECT_EQ(w->next_offset(), 1u) << "a busy append changes nothing";
    while (w->batches_in_flight() > 0) w->poll();
    EXPECT_EQ(w->durable_offset(), 1u);
    ASSERT_EQ(w->append(1, bytes_of(b.key), bytes_of(b.payload), b.publish_unix_ns, b.flags), WriteStatus::ok);
    ASSERT_EQ(w->flush(), WriteStatus::ok);
    EXPECT_EQ(w->poll(), 0) << "idle";
    w.reset();
    EXPECT_EQ(recover(dir.fd.get(), false).recs, make_recs(0, 2));
}

TEST(SegmentWriterTest, createsFilesMode0600AndDirectoriesMode0700) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    auto w = open_writer(dir.fd.get(), {});
    ASSERT_EQ(write_all(*w, make_recs(0, 1)), WriteStatus::ok);
    namespace fs = std::filesystem;
    EXPECT_EQ(fs::status(dir.file(0)).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(dir.path).permissions() & fs::perms::all, fs::perms::owner_all);
    EXPECT_EQ(fs::status(dir.tmp.path() + "/data/q").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST(SegmentWriterTest, neverWritesThroughASymlinkWhereItsSegmentWouldGo) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    const std::string target = dir.tmp.path() + "/victim";
    write_file(target, "precious");
    std::filesystem::create_symlink(target, dir.file(0));
    auto w = open_writer(dir.fd.get(), {});
    const Rec r = make_rec(0);
    EXPECT_EQ(w->append(0, bytes_of(r.key), bytes_of(r.payload), 0), WriteStatus::io_error);
    EXPECT_FALSE(w->error().empty());
    EXPECT_EQ(read_file(target), "precious");
}

TEST(SegmentWriterTest, refusesAPartitionDirThatIsASymlink) {
    TempDir tmp;
    std::filesystem::create_directories(tmp.path() + "/data/q");
    std::filesystem::create_directories(tmp.path() + "/elsewhere");
    std::filesystem::create_directory_symlink(tmp.path() + "/elsewhere", tmp.path() + "/data/q/p0");
    std::string err;
    EXPECT_FALSE(open_partition_dir(tmp.path() + "/data", "q", 0, true, err).valid());
    EXPECT_NE(err.find("symlink"), std::string::npos) << err;
    EXPECT_FALSE(open_partition_dir(tmp.path() + "/data", "../q", 0, true, err).valid());
}

// RLIMIT_FSIZE with SIGXFSZ ignored makes writes past the limit fail with
// EFBIG: the same "disk full" status as ENOSPC, never a crash.
TEST(SegmentWriterTest, reportsAFullDiskAsOverloadedAndKeepsWhatWasWritten) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = 64 << 10;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    WriterOptions o;
    o.buffer_bytes = 4096;
    WriteStatus s = WriteStatus::ok;
    uint64_t durable = 0;
    {
        auto w = open_writer(dir.fd.get(), o);
        for (uint64_t i = 0; i < 100000 && s == WriteStatus::ok; ++i) {
            const Rec r = make_rec(i);
            while ((s = w->append(i, bytes_of(r.key), bytes_of(r.payload), r.publish_unix_ns, r.flags)) ==
                   WriteStatus::busy)
                w->poll();
        }
        if (s == WriteStatus::ok) s = w->flush();
        EXPECT_EQ(w->flush(), WriteStatus::disk_full);
        EXPECT_EQ(w->error().rfind("overloaded: data dir full", 0), 0u) << w->error();
        const Rec r = make_rec(999999);
        EXPECT_EQ(w->append(999999, bytes_of(r.key), bytes_of(r.payload), 0), WriteStatus::disk_full) << "sticky";
        durable = w->durable_offset();
    }
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_EQ(s, WriteStatus::disk_full);
    // What was reported durable is there, contiguous from 0; a torn tail is cut.
    const Recovered r = recover(dir.fd.get(), true);
    ASSERT_GE(r.recs.size(), durable);
    EXPECT_GT(durable, 0u);
    EXPECT_EQ(r.recs, make_recs(0, r.recs.size()));
    EXPECT_LE(file_size(dir.file(0)), uint64_t{64 << 10});
}

}  // namespace
}  // namespace shmq::disk::test
