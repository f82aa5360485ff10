// Section sizes and offsets derived from the creation parameters. The one
// function that turns QueueParams into a SectionTable; create and open both
// call it, so an attacher recomputes every offset instead of trusting them.
#pragma once

#include <optional>
#include <string>

#include "shmq/internal/layout.hpp"

namespace shmq::layout {

// Checks every parameter's range and fills the derived fields (slot_size,
// dlq_slot_size). Returns an error sentence, or nullopt when valid.
std::optional<std::string> check_and_derive(QueueParams& params);
// Same checks without deriving: derived fields must already equal their derivation.
std::optional<std::string> check_params(const QueueParams& params);
// Offsets of every section; call only with checked params.
SectionTable compute_sections(const QueueParams& params);

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
constexpr bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace shmq::layout
