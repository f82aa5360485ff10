// A region found damaged: shmqd records why in the header and retires the
// queue (Lifecycle::corrupt). Peers then get region_corrupt from every call,
// sleepers are woken, and Region::open refuses to attach; `shmq stat` still
// opens it read-only and shows the reason.
#pragma once

#include <string>
#include <string_view>

#include "shmq/internal/region.hpp"

namespace shmq::detail {

// Stores the reason (truncated to kDamageReasonBytes - 1), the time, then
// lifecycle = corrupt (seq_cst), and wakes every sleeper. Idempotent: shmqd
// calls it again whenever it finds the mark overwritten.
void mark_damaged(Region& r, std::string_view reason) noexcept;

// The recorded reason, printable ASCII only (the header is untrusted);
// empty when the region is not marked.
std::string damage_reason(const Region& r);

}  // namespace shmq::detail
