// The bridge table (layout::BridgeEntry): a running `shmq bridge` publishes
// its status here; `shmq stat` and shmqd's /metrics read it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

constexpr std::size_t kBridgeCounters = static_cast<std::size_t>(layout::BridgeCounter::count);

struct BridgeView {
    uint32_t index = 0;
    layout::BridgeDirection direction = layout::BridgeDirection::none;
    uint16_t group = layout::kNoGroup;  // out: a valid group index
    bool connected = false;
    uint64_t updated_unix_ns = 0;
    std::array<uint64_t, kBridgeCounters> counters{};
    std::string stream, consumer;  // printable ASCII only
    uint64_t counter(layout::BridgeCounter c) const noexcept { return counters[static_cast<std::size_t>(c)]; }
};

// The entries of live bridges: published, owner alive, unchanged while read,
// and valid (direction known, an out bridge's group in range).
std::vector<BridgeView> read_bridges(const Region& r);

// The writer's side, held by one running bridge for its lifetime.
class BridgeStatus {
public:
    // Takes a free entry (or one whose owner died) for the participant
    // `owner_token`; nullopt when kMaxBridges live bridges hold them all.
    static std::optional<BridgeStatus> claim(Region& r, uint64_t owner_token, layout::BridgeDirection direction,
                                             uint16_t group, std::string_view stream, std::string_view consumer);
    BridgeStatus(BridgeStatus&& other) noexcept : entry_(other.entry_), token_(other.token_) { other.entry_ = nullptr; }
    BridgeStatus& operator=(BridgeStatus&&) = delete;
    BridgeStatus(const BridgeStatus&) = delete;
    ~BridgeStatus();

    void set(layout::BridgeCounter c, uint64_t value) noexcept {
        entry_->counters[static_cast<std::size_t>(c)].store(value, std::memory_order_relaxed);
    }
    void set_connected(bool up) noexcept { entry_->connected.store(up ? 1 : 0, std::memory_order_relaxed); }
    void touch(uint64_t unix_ns) noexcept { entry_->updated_unix_ns.store(unix_ns, std::memory_order_relaxed); }

private:
    BridgeStatus(layout::BridgeEntry* entry, uint64_t token) : entry_(entry), token_(token) {}
    layout::BridgeEntry* entry_;
    uint64_t token_;
};

}  // namespace shmq::detail
