// The shmq key of a message crossing the bridge: header Shmq-Key (printable
// keys) or Shmq-Key-Hex (any bytes), written by `bridge out`, read back by
// `bridge in`; without either, `bridge in` uses the subject.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shmq::cli::bridge {

inline constexpr const char* kKeyHeader = "Shmq-Key";
inline constexpr const char* kKeyHexHeader = "Shmq-Key-Hex";

bool printable_key(std::string_view key);
std::string to_hex(std::string_view bytes);
// nullopt for anything but an even number of hex digits (untrusted input).
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace shmq::cli::bridge
