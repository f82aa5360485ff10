#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>

#include "crc32c.hpp"
#include "disk_fixture.hpp"
#include "record_dedup.hpp"
#include "retention.hpp"

namespace shmq::disk::test {
namespace {

// Writes `n` records from offset 0 with the given segment size.
void populate(const PartitionDir& dir, uint64_t n, uint64_t segment_bytes = 64ull << 20) {
    WriterOptions o;
    o.fsync = Fsync::never;
    o.segment_bytes = segment_bytes;
    auto w = open_writer(dir.fd.get(), o);
    ASSERT_EQ(write_all(*w, make_recs(0, n)), WriteStatus::ok) << w->error();
}

TEST(RecoveryTest, anEmptyOrMissingDirectoryRecoversNothing) {
    PartitionDir dir;
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_TRUE(r.recs.empty());
    EXPECT_EQ(r.report.next_offset, 0u);
}

TEST(RecoveryTest, cutAtEveryByteOfTheLastRecordKeepsExactlyTheCompleteOnes) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 20);
    const std::string path = dir.file(0);
    const std::string whole = read_file(path);
    const uint64_t last = record_size(make_rec(19).key.size(), make_rec(19).payload.size());
    const uint64_t last_start = whole.size() - last;
    for (uint64_t cut = last_start; cut < whole.size(); ++cut) {
        write_file(path, whole.substr(0, cut));
        const Recovered r = recover(dir.fd.get(), true);
        ASSERT_EQ(r.recs, make_recs(0, 19)) << "cut at " << cut;
        EXPECT_EQ(r.report.next_offset, 19u);
        EXPECT_EQ(file_size(path), last_start) << "cut at " << cut;
        EXPECT_EQ(r.report.truncated_bytes, cut - last_start);
        EXPECT_EQ(r.report.corrupt, 0u) << "a torn tail is repaired, not corruption";
    }
    // And a second recovery finds nothing more to do.
    const Recovered again = recover(dir.fd.get(), true);
    EXPECT_EQ(again.recs.size(), 19u);
    EXPECT_TRUE(again.log.empty());
}

TEST(RecoveryTest, aSegmentCutInsideItsHeaderIsRemovedWhenLast) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 100, 2048);
    auto files = list_segments(dir.fd.get(), nullptr);
    ASSERT_GE(files.size(), 2u);
    const std::string last = dir.path + "/" + files.back().name;
    const uint64_t last_first = files.back().first_offset;
    for (uint64_t cut : {0, 1, 30, 63, 64}) {
        // The last segment as a crash during its creation leaves it: a header cut at `cut`.
        const SegmentHeader h = make_segment_header(0, 0, last_first);
        write_file(last, std::string(reinterpret_cast<const char*>(&h), sizeof h).substr(0, cut));
        const Recovered r = recover(dir.fd.get(), true);
        EXPECT_EQ(r.recs, make_recs(0, last_first)) << cut;
        EXPECT_FALSE(std::filesystem::exists(last)) << cut;
        EXPECT_EQ(r.report.next_offset, last_first) << cut;
    }
}

TEST(RecoveryTest, aFlippedBitLosesAtMostItsRecordAndIsReported) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 200);
    const std::string path = dir.file(0);
    const std::string whole = read_file(path);
    const auto all = make_recs(0, 200);
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 300; ++trial) {
        std::string bad = whole;
        const std::size_t pos = sizeof(SegmentHeader) + rng() % (whole.size() - sizeof(SegmentHeader));
        bad[pos] = static_cast<char>(bad[pos] ^ (1 << (rng() % 8)));
        write_file(path, bad);
        const Recovered r = recover(dir.fd.get(), false);
        ASSERT_GE(r.recs.size(), all.size() - 1) << "flip at " << pos;
        for (const Rec& x : r.recs) ASSERT_EQ(x, all[x.offset]) << "flip at " << pos;
        if (r.recs.size() < all.size()) {
            EXPECT_GE(r.report.corrupt, 1u) << "flip at " << pos;
            EXPECT_FALSE(r.log.empty());
        }
    }
}

TEST(RecoveryTest, aCorruptRecordInTheMiddleIsSkippedAndTheRestRecovered) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 50);
    const std::string path = dir.file(0);
    std::string bytes = read_file(path);
    // Find record 10 and smash its length so it points past the file end.
    uint64_t pos = sizeof(SegmentHeader);
    for (uint64_t i = 0; i < 10; ++i) pos += record_size(make_rec(i).key.size(), make_rec(i).payload.size());
    bytes[pos + offsetof(RecordHeader, length) + 2] = '\x7f';
    write_file(path, bytes);
    const Recovered r = recover(dir.fd.get(), true);
    auto expect = make_recs(0, 50);
    expect.erase(expect.begin() + 10);
    EXPECT_EQ(r.recs, expect);
    EXPECT_EQ(r.report.corrupt, 1u);
    ASSERT_EQ(r.log.size(), 1u);
    EXPECT_NE(r.log[0].find("corrupt record at byte " + std::to_string(pos)), std::string::npos) << r.log[0];
    EXPECT_EQ(file_size(path), bytes.size()) << "only a tail is truncated";
    EXPECT_EQ(r.report.next_offset, 50u);
}

TEST(RecoveryTest, garbageAppendedToTheLastSegmentIsTruncated) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 30);
    const std::string path = dir.file(0);
    const std::string whole = read_file(path);
    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 50; ++trial) {
        std::string junk(1 + rng() % 5000, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        write_file(path, whole + junk);
        const Recovered r = recover(dir.fd.get(), true);
        ASSERT_EQ(r.recs, make_recs(0, 30));
        EXPECT_EQ(file_size(path), whole.size());
    }
}

TEST(RecoveryTest, garbageInsideAnEarlierSegmentIsReportedAndLaterSegmentsRead) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 300, 4096);
    auto files = list_segments(dir.fd.get(), nullptr);
    ASSERT_GE(files.size(), 3u);
    const std::string first = dir.path + "/" + files.front().name;
    write_file(first, read_file(first) + std::string(777, '\x5a'));
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_EQ(r.recs, make_recs(0, 300));
    EXPECT_EQ(r.report.corrupt, 1u);
}

TEST(RecoveryTest, filesOfRandomBytesNeverCrashAndYieldNothingInvalid) {
    PartitionDir dir;
    std::mt19937_64 rng(11);
    for (int trial = 0; trial < 200; ++trial) {
        std::string junk(rng() % 8192, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        if (trial % 2) {  // half of them behind a valid header
            const SegmentHeader h = make_segment_header(0, 0, 0);
            junk = std::string(reinterpret_cast<const char*>(&h), sizeof h) + junk;
        }
        write_file(dir.file(0), junk);
        const Recovered r = recover(dir.fd.get(), trial % 3 == 0);
        EXPECT_TRUE(r.recs.empty());
        std::filesystem::remove(dir.file(0));
    }
}

TEST(RecoveryTest, refusesASymlinkedSegmentWithoutTouchingItsTarget) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    TempDir other;
    std::string err;
    DirFd odir = open_partition_dir(other.path(), "q", 0, true, err);
    ASSERT_TRUE(odir.valid()) << err;
    {
        auto w = open_writer(odir.get(), {});
        ASSERT_EQ(write_all(*w, make_recs(0, 10)), WriteStatus::ok);
    }
    const std::string target = other.path() + "/q/p0/" + segment_file_name(0);
    const std::string before = read_file(target) + "torn";
    write_file(target, before);
    std::filesystem::create_symlink(target, dir.file(0));
    const Recovered r = recover(dir.fd.get(), true);
    EXPECT_TRUE(r.recs.empty());
    EXPECT_EQ(r.report.refused_segments, 1u);
    ASSERT_FALSE(r.log.empty());
    EXPECT_NE(r.log[0].find("refused"), std::string::npos) << r.log[0];
    EXPECT_EQ(read_file(target), before) << "never truncated through the link";
}

TEST(RecoveryTest, refusesSegmentsOfAnotherPartitionOrEpoch) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    {
        WriterOptions o;
        o.partition = 1;
        o.queue_epoch = 5;
        auto w = open_writer(dir.fd.get(), o);
        ASSERT_EQ(write_all(*w, make_recs(0, 10)), WriteStatus::ok);
    }
    EXPECT_EQ(recover(dir.fd.get(), false, 0).report.refused_segments, 1u);
    RecoveryOptions o;
    o.partition = 1;
    o.queue_epoch = 6;
    o.repair = false;
    EXPECT_EQ(recover_partition(dir.fd.get(), o, [](const RecordView&) {}).refused_segments, 1u);
    o.queue_epoch = 5;
    EXPECT_EQ(recover_partition(dir.fd.get(), o, [](const RecordView&) {}).records, 10u);
}

TEST(RecoveryTest, aDuplicatedSegmentNeverYieldsARecordTwice) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 40);
    // A copy of segment 0 under a later name: its header's first offset disagrees.
    std::filesystem::copy_file(dir.file(0), dir.file(10));
    Recovered r = recover(dir.fd.get(), false);
    EXPECT_EQ(r.recs, make_recs(0, 40));
    EXPECT_EQ(r.report.refused_segments, 1u);
    // The same records behind a header that agrees with the name: offsets do not rise.
    std::string bytes = read_file(dir.file(0));
    const SegmentHeader h = make_segment_header(0, 0, 10);
    bytes.replace(0, sizeof h, std::string(reinterpret_cast<const char*>(&h), sizeof h));
    write_file(dir.file(10), bytes);
    r = recover(dir.fd.get(), false);
    EXPECT_EQ(r.recs, make_recs(0, 40));
}

// A segment of version 1 (before kRecordAttributes, record_dedup.hpp) still
// reads, its flags given in today's terms: no attributes, the redrive count
// (bits 9-15 there) clamped to 63. Versions above today's are refused.
TEST(RecoveryTest, aVersionOneSegmentStillReadsWithItsFlagsInTodaysTerms) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    std::vector<Rec> recs = make_recs(0, 3);
    recs[0].flags = 0;
    recs[1].key = "keyabc";  // key "key", id "abc", redriven 100 times: bit 15 set in version 1
    recs[1].flags = static_cast<uint16_t>(100u << kRecordRedrivesShift | kRecordDedupId | 3);
    recs[2].flags = dedup_flags(3, 5);
    recs[2].key = "keyxyz";
    {
        auto w = open_writer(dir.fd.get(), WriterOptions{});
        ASSERT_EQ(write_all(*w, recs), WriteStatus::ok) << w->error();
    }
    auto with_version = [&](uint32_t version) {
        SegmentHeader h = make_segment_header(0, 0, 0);
        h.version = version;
        h.crc = crc32c(&h, offsetof(SegmentHeader, crc));
        std::string bytes = read_file(dir.file(0));
        bytes.replace(0, sizeof h, std::string(reinterpret_cast<const char*>(&h), sizeof h));
        write_file(dir.file(0), bytes);
    };
    Recovered as_v2 = recover(dir.fd.get(), false);
    ASSERT_EQ(as_v2.recs.size(), 3u);
    EXPECT_NE(as_v2.recs[1].flags & kRecordAttributes, 0) << "read as version 2, bit 15 is the attributes'";
    with_version(1);
    Recovered r = recover(dir.fd.get(), false);
    ASSERT_EQ(r.recs.size(), 3u);
    EXPECT_EQ(r.report.corrupt, 0u);
    EXPECT_EQ(r.recs[0].flags, 0u);
    EXPECT_EQ(r.recs[1].flags, dedup_flags(3, kMaxRecordRedrives)) << "no attributes; redrives clamped";
    const auto split = split_key(r.recs[1].flags, bytes_of(r.recs[1].key));
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(split->redrives, kMaxRecordRedrives);
    EXPECT_EQ(split->id.size(), 3u);
    EXPECT_EQ(r.recs[2].flags, dedup_flags(3, 5));
    EXPECT_EQ(r.recs[2].payload, recs[2].payload);
    with_version(3);
    SegmentHeader h{};
    const auto bad = check_segment_header(bytes_of(read_file(dir.file(0))), h);
    ASSERT_TRUE(bad.has_value());
    EXPECT_NE(bad->find("segment version 3, expected 1..2"), std::string::npos) << *bad;
}

TEST(RetentionTest, removesWholeOldSegmentsBySizeNeverTheNewest) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 500, 4096);
    auto before = list_segments(dir.fd.get(), nullptr);
    ASSERT_GE(before.size(), 5u);
    const RetentionResult r = apply_retention(dir.fd.get(), 3 * 4096, 0, 0, nullptr);
    EXPECT_GT(r.segments_removed, 0u);
    EXPECT_LE(r.bytes_kept, 3u * 4096);
    auto after = list_segments(dir.fd.get(), nullptr);
    EXPECT_EQ(after.size() + r.segments_removed, before.size());
    EXPECT_EQ(after.back().name, before.back().name);
    // What remains is a contiguous tail of the offsets.
    const Recovered rec = recover(dir.fd.get(), false);
    EXPECT_EQ(rec.recs, make_recs(after.front().first_offset, 500 - after.front().first_offset));
    // A size limit of one byte still keeps the newest segment.
    apply_retention(dir.fd.get(), 1, 0, 0, nullptr);
    EXPECT_EQ(list_segments(dir.fd.get(), nullptr).size(), 1u);
}

TEST(RetentionTest, removesSegmentsLastWrittenBeforeTheAgeLimit) {
    SHMQ_REQUIRE_IO_URING();
    PartitionDir dir;
    populate(dir, 300, 4096);
    auto files = list_segments(dir.fd.get(), nullptr);
    ASSERT_GE(files.size(), 4u);
    // Age the first two files to t=1000 s; the rest to t=5000 s.
    for (std::size_t i = 0; i < files.size(); ++i) {
        const timespec t[2] = {{i < 2 ? 1000 : 5000, 0}, {i < 2 ? 1000 : 5000, 0}};
        ASSERT_EQ(::utimensat(dir.fd.get(), files[i].name.c_str(), t, 0), 0);
    }
    const int64_t now = 6000LL * 1'000'000'000;
    EXPECT_EQ(apply_retention(dir.fd.get(), 0, 5'500'000, now, nullptr).segments_removed, 0u) << "the oldest is 5000 s old";
    EXPECT_EQ(apply_retention(dir.fd.get(), 0, 2'000'000, now, nullptr).segments_removed, 2u);
    EXPECT_EQ(list_segments(dir.fd.get(), nullptr).front().name, files[2].name);
    EXPECT_EQ(apply_retention(dir.fd.get(), 0, 1, now, nullptr).segments_removed, files.size() - 3);
    EXPECT_EQ(list_segments(dir.fd.get(), nullptr).size(), 1u);
}

}  // namespace
}  // namespace shmq::disk::test
