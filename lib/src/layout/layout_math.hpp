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
// Entries of each dedup generation: a power of two, at least twice the
// capacity (load <= 1/2 keeps linear probing short); 0 when dedup is off.
constexpr uint64_t dedup_entries(const QueueParams& p) {
    if (p.dedup_window_ms == 0) return 0;
    uint64_t e = 2;
    while (e < 2ull * p.dedup_capacity) e <<= 1;
    return e;
}

}  // namespace shmq::layout
