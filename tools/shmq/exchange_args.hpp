// What the exchange verbs (cmd_exchange.cpp, cmd_bind.cpp) share: parsing
// --header k=v and --match, and a binding's destination as text.
#pragma once

#include <string>
#include <vector>

#include "shmq/internal/exchange_table.hpp"

namespace shmq::cli {

// "k=v" -> {k, v} (split at the first '='); a CommandError (exit 2) otherwise.
std::vector<detail::HeaderKV> parse_header_args(const std::vector<std::string>& args);
// "all" / "any" -> HeaderMatch; a CommandError (exit 2) otherwise.
xlayout::HeaderMatch parse_match_arg(const std::string& text);
const char* match_name(xlayout::HeaderMatch m) noexcept;  // "all", "any", "" (none)
const char* dest_kind_name(xlayout::DestKind k) noexcept;  // "queue", "exchange"
// Opens an exchange; its Error becomes a CommandError (exit 1).
std::shared_ptr<detail::ExchangeTable> open_exchange(const std::string& name, bool writable);

}  // namespace shmq::cli
