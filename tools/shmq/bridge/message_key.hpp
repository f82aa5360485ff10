// The shmq key of a message crossing the bridge: header Shmq-Key (printable
// keys) or Shmq-Key-Hex (any bytes), written by `bridge out`, read back by
// `bridge in`; without either, `bridge in` uses the subject.
//
// Its routing key and headers (Message::routing_key, header_at), likewise:
// Shmq-Routing-Key (printable) or Shmq-Routing-Key-Hex, and one Shmq-Header
// value per header, in publish order: "key=value" when both are printable
// ASCII, the key holds no '=' and neither begins or ends with a space
// (NATS trims those), else "=" hex(key) "=" hex(value) (a key is never
// empty, so a leading '=' marks the hex form).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shmq::cli::bridge {

inline constexpr const char* kKeyHeader = "Shmq-Key";
inline constexpr const char* kKeyHexHeader = "Shmq-Key-Hex";
inline constexpr const char* kRoutingKeyHeader = "Shmq-Routing-Key";
inline constexpr const char* kRoutingKeyHexHeader = "Shmq-Routing-Key-Hex";
inline constexpr const char* kHeaderHeader = "Shmq-Header";

bool printable_key(std::string_view key);
std::string to_hex(std::string_view bytes);
// nullopt for anything but an even number of hex digits (untrusted input).
std::optional<std::string> from_hex(std::string_view hex);

// A routing key or header text that survives a NATS header value as it is.
bool plain_header_text(std::string_view s);
// One header as a Shmq-Header value, and back (nullopt: malformed, untrusted input).
std::string header_value(std::string_view key, std::string_view value);
std::optional<std::pair<std::string, std::string>> parse_header_value(std::string_view v);

}  // namespace shmq::cli::bridge
