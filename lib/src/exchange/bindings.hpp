// A binding's fixed-size entry in shared memory (xlayout::BindingEntry) and
// back. Decoding treats the entry as untrusted: every length and code is
// checked before use.
#pragma once

#include <optional>
#include <string>

#include "shmq/internal/exchange_table.hpp"

namespace shmq::detail::exchange {

// `b` must have passed check_binding.
void encode_binding(const Binding& b, xlayout::BindingEntry& e) noexcept;
// The binding, or an error sentence naming the bad field.
std::optional<std::string> decode_binding(xlayout::ExchangeType type, const xlayout::BindingEntry& e, Binding& b);

}  // namespace shmq::detail::exchange
