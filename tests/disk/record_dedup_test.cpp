// shmqd's dedup ids in records (record_dedup.hpp): key ++ id with the id's
// length in flags; every inconsistent flags/length pair is refused.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "record_codec.hpp"
#include "record_dedup.hpp"

namespace shmq::disk {
namespace {

// A string_view: literals stay valid after the call (split_key returns spans into them).
std::span<const std::byte> b(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string text(std::span<const std::byte> s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

TEST(RecordDedupTest, aKeyAndItsIdRoundTripThroughARecord) {
    std::array<std::byte, 64 + 128> joined;
    const std::string id(128, 'i');
    const auto key = join_key(joined, b("key"), b(id));
    const uint16_t flags = dedup_flags(id.size());
    EXPECT_EQ(flags, kRecordDedupId | 128);
    std::vector<std::byte> buf(record_size(key.size(), 5));
    encode_record(buf, 9, 1, flags, key, b("hello"));
    RecordView v;
    ASSERT_EQ(check_record(buf, kDefaultMaxRecordBytes, v), RecordCheck::ok);
    const auto split = split_key(v.flags, v.key);
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(text(split->key), "key");
    EXPECT_EQ(text(split->id), id);
}

TEST(RecordDedupTest, theRedriveCountRidesInFlagsSaturated) {
    const std::string bytes = "keyabc";  // outlives the spans split_key returns
    const auto split = split_key(dedup_flags(3, 5), b(bytes));
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(text(split->key), "key");
    EXPECT_EQ(text(split->id), "abc");
    EXPECT_EQ(split->redrives, 5u);
    EXPECT_EQ(split_key(dedup_flags(3, 1000), b(bytes))->redrives, kMaxRecordRedrives);
    EXPECT_EQ(dedup_flags(0, 5), 0u) << "no id, no redrive count";
}

TEST(RecordDedupTest, aRecordWithoutTheFlagIsAPlainKey) {
    EXPECT_EQ(dedup_flags(0), 0u);
    const auto split = split_key(0, b("key"));
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(text(split->key), "key");
    EXPECT_TRUE(split->id.empty());
    const auto id_only = split_key(dedup_flags(2), b("id"));
    ASSERT_TRUE(id_only.has_value());
    EXPECT_TRUE(id_only->key.empty());
    EXPECT_EQ(text(id_only->id), "id");
}

TEST(RecordDedupTest, inconsistentLengthsAreRefused) {
    EXPECT_FALSE(split_key(kRecordDedupId, b("key")).has_value()) << "an id of 0 bytes";
    EXPECT_FALSE(split_key(kRecordDedupId | 129, b(std::string(200, 'x'))).has_value()) << "above 128";
    EXPECT_FALSE(split_key(kRecordDedupId | 0xff, b(std::string(300, 'x'))).has_value()) << "above 128";
    EXPECT_FALSE(split_key(dedup_flags(4), b("key")).has_value()) << "longer than the key bytes";
}

TEST(RecordDedupTest, theAttributesBitStandsBesideAnIdOrAlone) {
    EXPECT_EQ(record_flags(0, 0, true), kRecordAttributes);
    EXPECT_EQ(record_flags(0, 9, false), 0u);
    const uint16_t both = record_flags(3, 1000, true);
    EXPECT_NE(both & kRecordAttributes, 0);
    const std::string bytes = "keyabc";
    const auto split = split_key(both, b(bytes));
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(text(split->id), "abc");
    EXPECT_EQ(split->redrives, kMaxRecordRedrives) << "saturated below the attributes bit";
    const auto alone = split_key(kRecordAttributes, b(bytes));
    ASSERT_TRUE(alone.has_value());
    EXPECT_EQ(text(alone->key), "keyabc");
    EXPECT_TRUE(alone->id.empty());
}

TEST(RecordDedupTest, versionOneFlagsReadInVersionTwosTerms) {
    EXPECT_EQ(flags_of_version(1, 0), 0u);
    EXPECT_EQ(flags_of_version(1, kRecordAttributes), 0u) << "version 1 had no attributes";
    EXPECT_EQ(flags_of_version(1, dedup_flags(4, 20)), dedup_flags(4, 20));
    EXPECT_EQ(flags_of_version(1, static_cast<uint16_t>(127u << kRecordRedrivesShift | kRecordDedupId | 4)),
              dedup_flags(4, kMaxRecordRedrives));
    EXPECT_EQ(flags_of_version(2, record_flags(4, 20, true)), record_flags(4, 20, true));
}

TEST(RecordDedupTest, theLargestMessageWithKeyAndIdFitsTheRecordLimit) {
    EXPECT_GE(kDefaultMaxRecordBytes, (16u << 20) + 64 + kMaxRecordDedupIdBytes);
}

}  // namespace
}  // namespace shmq::disk
