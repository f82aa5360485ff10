// Matching one binding against one message: pure functions, no shared memory.
// RabbitMQ semantics for each exchange type (docs/CLI.md, "Exchanges").
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shmq/internal/exchange_layout.hpp"

namespace shmq::detail {

// One message header, or one k=v pair of a headers binding.
struct HeaderKV {
    std::string key;
    std::string value;
    friend bool operator==(const HeaderKV&, const HeaderKV&) = default;
};

// Error sentence for a routing or binding key longer than 255 bytes, or nullopt.
std::optional<std::string> check_key(std::string_view key, const char* what);
// Error sentence for header pairs (at most 8; key 1..32 bytes, value 0..64), or nullopt.
std::optional<std::string> check_headers(std::span<const HeaderKV> headers, const char* what);

// direct: the binding key equals the routing key.
bool direct_matches(std::string_view binding_key, std::string_view routing_key) noexcept;

// topic: both keys are '.'-separated words (`a..b` is three words, the middle
// one empty; the empty key alone has no words, as in RabbitMQ). In the binding key `*`
// matches exactly one word and `#` zero or more. Time O(words(binding) x
// words(routing)), memory O(words(routing)), whatever the number of `#`.
// Keys over kMaxKeyBytes never match.
bool topic_matches(std::string_view binding_key, std::string_view routing_key) noexcept;

// headers: all -- every binding pair is among the message's headers (equal
// key and value; an empty binding set matches every message); any -- at least
// one is. Binding pairs whose key starts with "x-" are ignored, as RabbitMQ does.
bool headers_match(xlayout::HeaderMatch match, std::span<const HeaderKV> binding,
                   std::span<const HeaderKV> message) noexcept;

}  // namespace shmq::detail
