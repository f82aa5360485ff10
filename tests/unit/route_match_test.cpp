// Matching one binding against one message, per exchange type (route_match.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shmq/internal/route_match.hpp"

namespace shmq::detail {
namespace {

using xlayout::HeaderMatch;

struct TopicCase {
    const char* binding;
    const char* key;
    bool matches;
};

TEST(RouteMatchTest, directMatchesOnlyEqualKeys) {
    EXPECT_TRUE(direct_matches("orders", "orders"));
    EXPECT_TRUE(direct_matches("", ""));
    EXPECT_FALSE(direct_matches("orders", "orders.eu"));
    EXPECT_FALSE(direct_matches("orders", "Orders"));
    EXPECT_FALSE(direct_matches("*", "orders"));
}

TEST(RouteMatchTest, topicFollowsRabbitMqWordSemantics) {
    const std::vector<TopicCase> cases = {
        {"a.b.c", "a.b.c", true},
        {"a.b.c", "a.b", false},
        {"a.*.c", "a.b.c", true},
        {"a.*.c", "a.c", false},          // * never matches zero words
        {"a.*", "a", false},
        {"*", "", false},                 // the empty key has no words
        {"#", "", true},                  // # matches zero words
        {"#", "a.b.c", true},
        {"a.#", "a", true},               // # matching zero words at the end
        {"#.a", "a", true},               // ... and at the start
        {"a.#.b", "a.b", true},           // ... and in the middle
        {"a.#.b", "a.x.y.b", true},
        {"a.#.b", "a.x.y.c", false},
        {"#.#", "", true},
        {"#.*", "", false},
        {"#.*", "a", true},
        {"*.#.*", "a", false},
        {"*.#.*", "a.b", true},
        {"a..b", "a..b", true},           // empty words are words
        {"a.*.b", "a..b", true},          // * matches the empty word
        {"a.b", "a..b", false},
        {"a.#", "a..", true},
        {"a.*", "a.", true},              // "a." is two words, the second empty
        {"a", "a.", false},
        {"", "", true},
        {"", "a", false},
        {"a#", "ab", false},              // # inside a word is a literal
        {"a#", "a#", true},
        {"#.b.#", "x.b.y", true},
        {"#.b.#", "b", true},
        {"#.b.#", "x.y", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(topic_matches(c.binding, c.key), c.matches) << "binding '" << c.binding << "' key '" << c.key << "'";
}

TEST(RouteMatchTest, topicKeysAreLimitedTo255Bytes) {
    const std::string key255(255, 'a');
    const std::string key256(256, 'a');
    EXPECT_TRUE(topic_matches("#", key255));
    EXPECT_TRUE(topic_matches(key255, key255));
    EXPECT_FALSE(topic_matches("#", key256));
    EXPECT_FALSE(topic_matches(key256, key256));
    EXPECT_FALSE(check_key(key255, "the routing key").has_value());
    ASSERT_TRUE(check_key(key256, "the routing key").has_value());
    EXPECT_NE(check_key(key256, "the routing key")->find("256 bytes; at most 255"), std::string::npos);
}

TEST(RouteMatchTest, topicWithManyHashesStaysFast) {
    // 128 words of '#' against 128 words: exponential backtracking would never finish.
    std::string pattern, key;
    for (int i = 0; i < 127; ++i) pattern += "#.";
    pattern += "#";
    for (int i = 0; i < 127; ++i) key += "a.";
    key += "b";
    ASSERT_LE(pattern.size(), 255u);
    ASSERT_LE(key.size(), 255u);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(topic_matches(pattern, key));
    std::string hashes_then_c;
    for (int i = 0; i < 126; ++i) hashes_then_c += "#.";
    hashes_then_c += "c";
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(topic_matches(hashes_then_c, key));
}

TEST(RouteMatchTest, headersAllNeedsEveryPairAndAnyNeedsOne) {
    const std::vector<HeaderKV> binding = {{"format", "pdf"}, {"type", "report"}};
    const std::vector<HeaderKV> both = {{"type", "report"}, {"format", "pdf"}, {"lang", "en"}};
    const std::vector<HeaderKV> one = {{"format", "pdf"}};
    const std::vector<HeaderKV> wrong_value = {{"format", "png"}, {"type", "log"}};
    const std::vector<HeaderKV> none;
    EXPECT_TRUE(headers_match(HeaderMatch::all, binding, both));
    EXPECT_FALSE(headers_match(HeaderMatch::all, binding, one));
    EXPECT_FALSE(headers_match(HeaderMatch::all, binding, wrong_value));
    EXPECT_TRUE(headers_match(HeaderMatch::any, binding, both));
    EXPECT_TRUE(headers_match(HeaderMatch::any, binding, one));
    EXPECT_FALSE(headers_match(HeaderMatch::any, binding, wrong_value));
    EXPECT_FALSE(headers_match(HeaderMatch::any, binding, none));
    // RabbitMQ: an empty "all" binding takes everything, an empty "any" nothing; x- keys are ignored.
    EXPECT_TRUE(headers_match(HeaderMatch::all, {}, none));
    EXPECT_FALSE(headers_match(HeaderMatch::any, {}, both));
    const std::vector<HeaderKV> with_x = {{"x-note", "z"}, {"format", "pdf"}};
    EXPECT_TRUE(headers_match(HeaderMatch::all, with_x, one));
    EXPECT_FALSE(headers_match(HeaderMatch::any, std::vector<HeaderKV>{{"x-note", "z"}}, std::vector<HeaderKV>{{"x-note", "z"}}));
    EXPECT_FALSE(headers_match(HeaderMatch::none, binding, both));
}

TEST(RouteMatchTest, headerPairsAreBounded) {
    std::vector<HeaderKV> nine;
    for (int i = 0; i < 9; ++i) nine.push_back({"k" + std::to_string(i), "v"});
    EXPECT_TRUE(check_headers(nine, "the binding").has_value());
    nine.pop_back();
    EXPECT_FALSE(check_headers(nine, "the binding").has_value());
    EXPECT_TRUE(check_headers(std::vector<HeaderKV>{{"", "v"}}, "the binding").has_value());
    EXPECT_TRUE(check_headers(std::vector<HeaderKV>{{std::string(33, 'k'), "v"}}, "the binding").has_value());
    EXPECT_TRUE(check_headers(std::vector<HeaderKV>{{"k", std::string(65, 'v')}}, "the binding").has_value());
    EXPECT_FALSE(check_headers(std::vector<HeaderKV>{{std::string(32, 'k'), std::string(64, 'v')}}, "b").has_value());
}

}  // namespace
}  // namespace shmq::detail
