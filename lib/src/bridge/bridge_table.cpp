#include "shmq/internal/bridge_table.hpp"


#include "shmq/internal/names.hpp"
#include "shmq/internal/participants.hpp"

namespace shmq::detail {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr auto kAcquire = std::memory_order_acquire;  // keeps the loads of an entry in program order

// Always NUL-terminated: at most kNameMax - 1 bytes are kept.
void store_words(NameWords& words, std::string_view text) noexcept {
    store_name_words(words, text.substr(0, layout::kNameMax - 1));
}

// Any byte outside printable ASCII becomes '?'.
std::string load_words(const NameWords& words) {
    std::string out = load_name_words(words, kAcquire);
    for (char& c : out)
        if (c < 0x20 || c > 0x7e) c = '?';
    return out;
}

}  // namespace

std::optional<BridgeStatus> BridgeStatus::claim(Region& r, uint64_t owner_token, layout::BridgeDirection direction,
                                                uint16_t group, std::string_view stream, std::string_view consumer) {
    for (uint32_t i = 0; i < layout::kMaxBridges; ++i) {
        auto& e = r.bridge(i);
        if (!try_owner_lock(e.owner, owner_token) &&
            !(break_lock_if_dead(r, e.owner) && try_owner_lock(e.owner, owner_token)))
            continue;
        // Ours. A dead predecessor may have left anything: rewrite it all,
        // then publish with direction (release; see layout::BridgeEntry).
        e.direction.store(0, kRelaxed);
        for (auto& c : e.counters) c.store(0, kRelaxed);
        e.connected.store(0, kRelaxed);
        e.updated_unix_ns.store(0, kRelaxed);
        e.group.store(group, kRelaxed);
        store_words(e.stream_words, stream);
        store_words(e.consumer_words, consumer);
        e.direction.store(static_cast<uint32_t>(direction), std::memory_order_release);
        return BridgeStatus(&e, owner_token);
    }
    return std::nullopt;
}

BridgeStatus::~BridgeStatus() {
    if (entry_ == nullptr) return;
    entry_->direction.store(0, kRelaxed);
    owner_unlock(entry_->owner, token_);  // release: a reader that sees owner 0 skips the entry
}

std::vector<BridgeView> read_bridges(const Region& r) {
    std::vector<BridgeView> out;
    for (uint32_t i = 0; i < layout::kMaxBridges; ++i) {
        const auto& e = r.bridge(i);
        const uint64_t owner = e.owner.load(kAcquire);
        if (owner == 0) continue;
        const uint32_t direction = e.direction.load(kAcquire);
        BridgeView v;
        v.index = i;
        v.direction = static_cast<layout::BridgeDirection>(direction);
        v.group = e.group.load(kAcquire);
        v.connected = e.connected.load(kAcquire) == 1;
        v.updated_unix_ns = e.updated_unix_ns.load(kAcquire);
        for (std::size_t c = 0; c < kBridgeCounters; ++c) v.counters[c] = e.counters[c].load(kAcquire);
        v.stream = load_words(e.stream_words);
        v.consumer = load_words(e.consumer_words);
        if (e.owner.load(kAcquire) != owner) continue;
        const bool known = v.direction == layout::BridgeDirection::in ||
                           (v.direction == layout::BridgeDirection::out && r.valid_group(v.group));
        if (!known || participant_liveness(r, owner) != Liveness::alive) continue;
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace shmq::detail
