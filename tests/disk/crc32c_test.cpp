#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crc32c.hpp"

namespace shmq::disk {
namespace {

TEST(Crc32cTest, matchesTheStandardCheckValue) {
    const char* s = "123456789";
    EXPECT_EQ(crc32c_portable(s, 9), 0xE3069283u);
    EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
}

// RFC 3720 (iSCSI) appendix B.4 vectors.
TEST(Crc32cTest, matchesTheIscsiVectors) {
    std::vector<unsigned char> b(32, 0);
    EXPECT_EQ(crc32c_portable(b.data(), b.size()), 0x8A9136AAu);
    std::fill(b.begin(), b.end(), 0xFF);
    EXPECT_EQ(crc32c_portable(b.data(), b.size()), 0x62A8AB43u);
    for (std::size_t i = 0; i < 32; ++i) b[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(crc32c_portable(b.data(), b.size()), 0x46DD794Eu);
    for (std::size_t i = 0; i < 32; ++i) b[i] = static_cast<unsigned char>(31 - i);
    EXPECT_EQ(crc32c_portable(b.data(), b.size()), 0x113FDB5Cu);
    EXPECT_EQ(crc32c_portable(nullptr, 0), 0u);
}

TEST(Crc32cTest, hardwareAndPortablePathsAgreeAtEveryLengthAndAlignment) {
    std::mt19937_64 rng(42);
    std::vector<unsigned char> buf(4096 + 16);
    for (auto& c : buf) c = static_cast<unsigned char>(rng());
    for (std::size_t align = 0; align < 8; ++align)
        for (std::size_t n = 0; n < 300; ++n)
            ASSERT_EQ(crc32c_hw(buf.data() + align, n), crc32c_portable(buf.data() + align, n)) << n;
    EXPECT_EQ(crc32c_hw(buf.data(), 4096), crc32c_portable(buf.data(), 4096));
    if (!crc32c_hw_available()) GTEST_SKIP() << "no SSE4.2: the hardware path fell back to portable";
}

TEST(Crc32cTest, extendsAcrossSplits) {
    const std::string s = "The quick brown fox jumps over the lazy dog, twice or more";
    const uint32_t whole = crc32c_portable(s.data(), s.size());
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
        EXPECT_EQ(crc32c_portable(s.data() + cut, s.size() - cut, crc32c_portable(s.data(), cut)), whole);
        EXPECT_EQ(crc32c(s.data() + cut, s.size() - cut, crc32c(s.data(), cut)), whole);
    }
}

}  // namespace
}  // namespace shmq::disk
