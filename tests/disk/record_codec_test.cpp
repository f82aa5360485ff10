#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "record_codec.hpp"

namespace shmq::disk {
namespace {

std::span<const std::byte> b(const char* s) { return std::as_bytes(std::span(s, std::strlen(s))); }

TEST(RecordCodecTest, roundTripsAndPadsToEightBytes) {
    std::vector<std::byte> buf(record_size(3, 5), std::byte{0x55});
    ASSERT_EQ(encode_record(buf, 42, 7, 2, b("key"), b("hello")), 40u);
    RecordView v;
    ASSERT_EQ(check_record(buf, kDefaultMaxRecordBytes, v), RecordCheck::ok);
    EXPECT_EQ(v.offset, 42u);
    EXPECT_EQ(v.publish_unix_ns, 7u);
    EXPECT_EQ(v.flags, 2u);
    EXPECT_EQ(v.size, 40u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.key.data()), v.key.size()), "key");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.payload.data()), v.payload.size()), "hello");
    for (std::size_t i = 32 + 8; i < 40; ++i) EXPECT_EQ(buf[i], std::byte{0}) << "padding is zero";
}

TEST(RecordCodecTest, reportsTruncationAtEveryShorterLength) {
    std::vector<std::byte> buf(record_size(3, 5));
    encode_record(buf, 1, 0, 0, b("key"), b("hello"));
    RecordView v;
    for (std::size_t n = 0; n < buf.size(); ++n)
        EXPECT_NE(check_record(std::span(buf).first(n), kDefaultMaxRecordBytes, v), RecordCheck::ok) << n;
}

TEST(RecordCodecTest, rejectsLengthsAboveTheLimitBeforeReadingThem) {
    std::vector<std::byte> buf(record_size(0, 100));
    encode_record(buf, 1, 0, 0, {}, std::span(buf).first(0));
    uint32_t huge = 0xFFFFFFF0u;
    std::memcpy(buf.data() + offsetof(RecordHeader, length), &huge, 4);
    RecordView v;
    EXPECT_EQ(check_record(buf, 1 << 20, v), RecordCheck::bad_length);
}

TEST(RecordCodecTest, detectsEverySingleBitFlipInTheCoveredBytes) {
    std::vector<std::byte> buf(record_size(3, 5));
    encode_record(buf, 9, 9, 9, b("key"), b("hello"));
    for (std::size_t bit = 0; bit < (32 + 8) * 8; ++bit) {
        auto copy = buf;
        copy[bit / 8] ^= std::byte(1u << (bit % 8));
        RecordView v;
        EXPECT_NE(check_record(copy, kDefaultMaxRecordBytes, v), RecordCheck::ok) << bit;
    }
}

TEST(RecordCodecTest, segmentHeaderValidatesAndRejectsDamage) {
    const SegmentHeader h = make_segment_header(3, 77, 1000);
    std::vector<std::byte> buf(sizeof h);
    std::memcpy(buf.data(), &h, sizeof h);
    SegmentHeader out;
    EXPECT_FALSE(check_segment_header(buf, out));
    EXPECT_EQ(out.partition, 3u);
    EXPECT_EQ(out.queue_epoch, 77u);
    EXPECT_EQ(out.first_offset, 1000u);
    EXPECT_TRUE(check_segment_header(std::span(buf).first(63), out));
    buf[20] ^= std::byte{1};
    EXPECT_TRUE(check_segment_header(buf, out));
}

TEST(RecordCodecTest, segmentNamesAreTwentyDigits) {
    EXPECT_EQ(segment_file_name(42), "00000000000000000042.seg");
    EXPECT_EQ(segment_file_name(UINT64_MAX), "18446744073709551615.seg");
    uint64_t v = 0;
    EXPECT_TRUE(parse_segment_file_name("18446744073709551615.seg", v));
    EXPECT_EQ(v, UINT64_MAX);
    EXPECT_FALSE(parse_segment_file_name("18446744073709551616.seg", v));
    EXPECT_FALSE(parse_segment_file_name("0000000000000000042.seg", v));
    EXPECT_FALSE(parse_segment_file_name("0000000000000000004x.seg", v));
    EXPECT_FALSE(parse_segment_file_name("00000000000000000042.sex", v));
}

}  // namespace
}  // namespace shmq::disk
