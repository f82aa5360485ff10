#include "shmq/internal/damage.hpp"

#include <algorithm>
#include <cstring>

#include "shmq/internal/clock.hpp"

namespace shmq::detail {

void mark_damaged(Region& r, std::string_view reason) noexcept {
    auto& h = r.header();
    char text[layout::kDamageReasonBytes] = {};
    std::memcpy(text, reason.data(), std::min(reason.size(), sizeof text - 1));
    std::memcpy(h.damage_reason, text, sizeof text);
    h.damaged_unix_ns.store(sys::unix_ns(), std::memory_order_release);
    h.lifecycle.store(static_cast<uint32_t>(layout::Lifecycle::corrupt), std::memory_order_seq_cst);
    wake_all_sleepers(r);
}

std::string damage_reason(const Region& r) {
    const auto& h = r.header();
    if (h.lifecycle.load(std::memory_order_acquire) != static_cast<uint32_t>(layout::Lifecycle::corrupt)) return {};
    char text[layout::kDamageReasonBytes];
    std::memcpy(text, h.damage_reason, sizeof text);
    std::string out(text, strnlen(text, sizeof text));
    for (char& c : out)
        if (c < 0x20 || c > 0x7e) c = '?';
    return out.empty() ? std::string("(no reason recorded)") : out;
}

}  // namespace shmq::detail
