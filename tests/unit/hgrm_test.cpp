// `shmq bench latency --hgrm`'s writer (tools/shmq/bench/hgrm.cpp): known
// samples give HdrHistogram's rows, percentile ticks and footer, to the byte.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hgrm.hpp"
#include "support/hgrm_parse.hpp"

namespace shmq::cli::bench {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) out.push_back(text.substr(at, nl - at));
    EXPECT_EQ(at, text.size()) << "the text must end with a newline";
    return out;
}

TEST(HgrmTest, tenExactSamplesGiveHdrHistogramsRowsAndFooter) {
    Histogram h;
    for (uint64_t v = 1; v <= 10; ++v) h.record(v);
    const auto lines = lines_of(hgrm_text(h, 1.0));
    // Worked by hand with PercentileIterator's rules: 5 ticks per half
    // distance (10% steps below 50%, 5% to 75%, 2.5% to 87.5%, ...); each row
    // is the first bucket whose cumulative count reaches the tick.
    const std::vector<std::string> head = {
        "       Value     Percentile TotalCount 1/(1-Percentile)",
        "",
        "       1.000 0.000000000000          1           1.00",
        "       1.000 0.100000000000          1           1.11",
        "       2.000 0.200000000000          2           1.25",
        "       3.000 0.300000000000          3           1.43",
        "       4.000 0.400000000000          4           1.67",
        "       5.000 0.500000000000          5           2.00",
        "       6.000 0.550000000000          6           2.22",
        "       6.000 0.600000000000          6           2.50",
        "       7.000 0.650000000000          7           2.86",
        "       7.000 0.700000000000          7           3.33",
        "       8.000 0.750000000000          8           4.00",
        "       8.000 0.775000000000          8           4.44",
        "       8.000 0.800000000000          8           5.00",
        "       9.000 0.825000000000          9           5.71",
        "       9.000 0.850000000000          9           6.67",
        "       9.000 0.875000000000          9           8.00",
    };
    ASSERT_GT(lines.size(), head.size() + 4);
    for (std::size_t i = 0; i < head.size(); ++i) EXPECT_EQ(lines[i], head[i]) << "line " << i;
    // Then ticks above 87.5% while 9 is the answer, the row that reaches the
    // last record, and HdrHistogram's extra step to 100%.
    const std::size_t n = lines.size();
    EXPECT_EQ(lines[n - 5].substr(0, 12), "      10.000");
    EXPECT_EQ(lines[n - 5].substr(27, 11), "         10");
    EXPECT_EQ(lines[n - 4], "      10.000 1.000000000000         10");
    EXPECT_EQ(lines[n - 3], "#[Mean    =        5.500, StdDeviation   =        2.872]");
    EXPECT_EQ(lines[n - 2], "#[Max     =       10.000, Total count    =           10]");
    EXPECT_EQ(lines[n - 1], "#[Buckets =           30, SubBuckets     =         2048]");
    for (std::size_t i = head.size(); i + 5 < n; ++i) EXPECT_EQ(lines[i].substr(0, 12), "       9.000") << lines[i];
}

TEST(HgrmTest, oneSampleIsTheZeroRowAndTheHundredRowInMicroseconds) {
    Histogram h;
    h.record(1500);  // ns; written in microseconds by default
    EXPECT_EQ(hgrm_text(h),
              "       Value     Percentile TotalCount 1/(1-Percentile)\n"
              "\n"
              "       1.500 0.000000000000          1           1.00\n"
              "       1.500 1.000000000000          1\n"
              "#[Mean    =        1.500, StdDeviation   =        0.000]\n"
              "#[Max     =        1.500, Total count    =            1]\n"
              "#[Buckets =           30, SubBuckets     =         2048]\n");
}

TEST(HgrmTest, anEmptyHistogramIsTheHeaderAndAZeroFooter) {
    std::string why;
    const auto parsed = test::parse_hgrm(hgrm_text(Histogram{}), why);
    ASSERT_TRUE(parsed) << why;
    EXPECT_TRUE(parsed->rows.empty());
    EXPECT_EQ(parsed->total, 0u);
    EXPECT_EQ(parsed->mean, 0.0);
}

TEST(HgrmTest, aRowGivesTheHighestValueOfItsBucketButNeverMoreThanTheMax) {
    Histogram h;
    h.record(1'000'000);  // 2^19 <= v < 2^20: a bucket 512 ns wide
    h.record(2'000'000);
    std::string why;
    const auto parsed = test::parse_hgrm(hgrm_text(h), why);
    ASSERT_TRUE(parsed) << why;
    ASSERT_GE(parsed->rows.size(), 2u);
    const double first = parsed->rows.front().value;
    EXPECT_EQ(first, static_cast<double>(Histogram::highest_of(Histogram::index_of(1'000'000))) / 1000.0);
    EXPECT_GE(first, 1000.0);
    EXPECT_LT(first, 1000.512 + 1e-9);
    EXPECT_EQ(parsed->rows.back().value, 2000.0) << "the 100% row is the exact max";
    EXPECT_EQ(parsed->max, 2000.0);
}

// A large run: the ticks are HdrHistogram's (the same sequence its Java and C
// versions print: 0.5, 0.55, ... 0.875, 0.8875, 0.9, 0.9125, ...), every row
// reaches its tick, and nothing goes backwards.
TEST(HgrmTest, aLargeRunFollowsTheTicksAndNeverGoesBackwards) {
    Histogram h;
    uint64_t x = 12345;
    for (int i = 0; i < 100'000; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        h.record(200 + (x >> 33) % 5000 + ((x >> 20) % 1000 == 0 ? 100'000 : 0));  // a tail of rare slow ones
    }
    std::string why;
    const auto parsed = test::parse_hgrm(hgrm_text(h), why);
    ASSERT_TRUE(parsed) << why;
    const auto& rows = parsed->rows;
    const double expected[] = {0.0,   0.1,   0.2,   0.3,    0.4,   0.5,    0.55,  0.6,  0.65,
                               0.7,   0.75,  0.775, 0.8,    0.825, 0.85,   0.875, 0.8875, 0.9,
                               0.9125, 0.925, 0.9375, 0.94375, 0.95, 0.95625, 0.9625, 0.96875};
    ASSERT_GT(rows.size(), std::size(expected) + 10);
    for (std::size_t i = 0; i < std::size(expected); ++i) EXPECT_NEAR(rows[i].percentile, expected[i], 1e-12) << "row " << i;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        if (i > 0) {
            EXPECT_GT(r.percentile, rows[i - 1].percentile) << "row " << i;
            EXPECT_GE(r.value, rows[i - 1].value) << "row " << i;
            EXPECT_GE(r.total_count, rows[i - 1].total_count) << "row " << i;
        }
        EXPECT_GE(static_cast<double>(r.total_count) / 100'000.0 + 1e-12, r.percentile) << "row " << i << " does not reach its tick";
        if (r.inverse) {
            EXPECT_NEAR(*r.inverse, 1.0 / (1.0 - r.percentile), 0.006) << "row " << i;
        }
    }
    EXPECT_FALSE(rows.back().inverse);
    EXPECT_EQ(rows.back().percentile, 1.0);
    EXPECT_EQ(rows.back().total_count, 100'000u);
    EXPECT_EQ(rows.back().value, static_cast<double>(h.max()) / 1000.0);
    EXPECT_EQ(parsed->total, 100'000u);
    EXPECT_NEAR(parsed->mean, h.mean() / 1000.0, 0.0005);
    EXPECT_GT(parsed->stddev, 0.0);
}

TEST(HgrmTest, aBaselinesFileNamesItsTransportBeforeTheExtension) {
    EXPECT_EQ(hgrm_path_for("lat.hgrm", "bare"), "lat.bare.hgrm");
    EXPECT_EQ(hgrm_path_for("/tmp/run.1/lat.hgrm", "pipe"), "/tmp/run.1/lat.pipe.hgrm");
    EXPECT_EQ(hgrm_path_for("/tmp/run.1/lat", "pipe"), "/tmp/run.1/lat.pipe");
    EXPECT_EQ(hgrm_path_for(".hgrm", "bare"), ".hgrm.bare");
}

}  // namespace
}  // namespace shmq::cli::bench
