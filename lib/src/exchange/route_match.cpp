#include "shmq/internal/route_match.hpp"

#include <algorithm>
#include <array>
#include <bitset>

namespace shmq::detail {

namespace {

// At most 128 words fit 255 bytes ('.' separators), so a word index fits a byte.
constexpr std::size_t kMaxWords = xlayout::kMaxKeyBytes / 2 + 1;

// Splits `key` at every '.'; returns the number of words. As in RabbitMQ the
// empty key has no words at all; any other key has one more than its dots.
std::size_t split_words(std::string_view key, std::array<std::string_view, kMaxWords>& words) noexcept {
    if (key.empty()) return 0;
    std::size_t n = 0;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = key.find('.', start);
        words[n++] = key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (dot == std::string_view::npos) return n;
        start = dot + 1;
    }
}

}  // namespace

std::optional<std::string> check_key(std::string_view key, const char* what) {
    if (key.size() > xlayout::kMaxKeyBytes)
        return std::string(what) + " is " + std::to_string(key.size()) + " bytes; at most " +
               std::to_string(xlayout::kMaxKeyBytes) + " are allowed";
    return std::nullopt;
}

std::optional<std::string> check_headers(std::span<const HeaderKV> headers, const char* what) {
    if (headers.size() > xlayout::kMaxHeaders)
        return std::string(what) + ": " + std::to_string(headers.size()) + " headers; at most " +
               std::to_string(xlayout::kMaxHeaders) + " are allowed";
    for (const auto& h : headers) {
        if (h.key.empty() || h.key.size() > xlayout::kHeaderKeyBytes)
            return std::string(what) + ": header key '" + h.key.substr(0, 64) + "' must be 1.." +
                   std::to_string(xlayout::kHeaderKeyBytes) + " bytes";
        if (h.value.size() > xlayout::kHeaderValueBytes)
            return std::string(what) + ": the value of header '" + h.key + "' is " + std::to_string(h.value.size()) +
                   " bytes; at most " + std::to_string(xlayout::kHeaderValueBytes) + " are allowed";
    }
    return std::nullopt;
}

bool direct_matches(std::string_view binding_key, std::string_view routing_key) noexcept {
    return binding_key == routing_key;
}

bool topic_matches(std::string_view binding_key, std::string_view routing_key) noexcept {
    if (binding_key.size() > xlayout::kMaxKeyBytes || routing_key.size() > xlayout::kMaxKeyBytes) return false;
    std::array<std::string_view, kMaxWords> pattern, words;
    const std::size_t np = split_words(binding_key, pattern);
    const std::size_t nw = split_words(routing_key, words);
    // reach[j]: the pattern's first i words can match the key's first j words.
    // One row per pattern word: a Glob-style DP, never backtracking.
    std::bitset<kMaxWords + 1> reach;
    reach[0] = true;
    for (std::size_t i = 0; i < np; ++i) {
        std::bitset<kMaxWords + 1> next;
        if (pattern[i] == "#") {
            // zero or more words: reachable at j if reachable at some j' <= j
            bool seen = false;
            for (std::size_t j = 0; j <= nw; ++j) {
                seen = seen || reach[j];
                next[j] = seen;
            }
        } else {
            const bool star = pattern[i] == "*";
            for (std::size_t j = 0; j < nw; ++j)
                if (reach[j] && (star || pattern[i] == words[j])) next[j + 1] = true;
        }
        reach = next;
        if (reach.none()) return false;
    }
    return reach[nw];
}

bool headers_match(xlayout::HeaderMatch match, std::span<const HeaderKV> binding,
                   std::span<const HeaderKV> message) noexcept {
    auto present = [&](const HeaderKV& want) {
        return std::any_of(message.begin(), message.end(), [&](const HeaderKV& m) { return m == want; });
    };
    auto counted = [](const HeaderKV& b) { return b.key.rfind("x-", 0) != 0; };
    switch (match) {
        case xlayout::HeaderMatch::all:
            return std::all_of(binding.begin(), binding.end(), [&](const HeaderKV& b) { return !counted(b) || present(b); });
        case xlayout::HeaderMatch::any:
            return std::any_of(binding.begin(), binding.end(), [&](const HeaderKV& b) { return counted(b) && present(b); });
        case xlayout::HeaderMatch::none:
            return false;
    }
    return false;
}

}  // namespace shmq::detail
