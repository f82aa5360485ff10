#include "shmq/internal/integrity.hpp"

#include <atomic>
#include <cstring>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"

namespace shmq::detail {
namespace {

using std::to_string;
constexpr auto kAcq = std::memory_order_acquire;
constexpr std::size_t kLifecycleAt = offsetof(layout::RegionHeader, lifecycle);
constexpr std::size_t kAfterLifecycle = offsetof(layout::RegionHeader, reserved1);

const char* header_field(std::size_t at) {
    if (at < 8) return "magic";
    if (at < 12) return "layout version";
    if (at < 16) return "header size";
    if (at < 24) return "region size";
    if (at < 32) return "queue epoch";
    if (at < 40) return "creation time";
    if (at < offsetof(layout::RegionHeader, params)) return "reserved bytes";
    if (at < offsetof(layout::RegionHeader, sections)) return "creation parameters";
    if (at < offsetof(layout::RegionHeader, name)) return "section table";
    return "queue name";
}

// Plain fields of a slot header, read while producers may write them: a
// relaxed atomic load of each (never torn, no undefined behaviour).
template <class T>
T peek(const T& field) noexcept {
    return std::atomic_ref<const T>(field).load(std::memory_order_relaxed);
}

std::string at_slot(const char* table, uint32_t p, uint64_t index) {
    return std::string(table) + " slot " + to_string(index) + " of partition " + to_string(p);
}

}  // namespace

IntegrityCheck::IntegrityCheck(const Region& r) : r_(r) {
    std::memcpy(fixed_.data(), &r.header(), fixed_.size());
}

bool IntegrityCheck::valid_token(uint64_t token) const noexcept {
    return token == 0 || (layout::token_id(token) >= 1 && layout::token_id(token) <= r_.max_participants());
}

std::optional<std::string> IntegrityCheck::run(uint64_t budget) {
    for (auto part : {&IntegrityCheck::header, &IntegrityCheck::participants, &IntegrityCheck::groups,
                      &IntegrityCheck::partitions, &IntegrityCheck::dlq, &IntegrityCheck::bridges})
        if (auto damage = (this->*part)()) return damage;
    return scan(budget);
}

std::optional<std::string> IntegrityCheck::header() const {
    std::array<std::byte, sizeof fixed_> now;
    std::memcpy(now.data(), &r_.header(), now.size());
    for (std::size_t at = 0; at < now.size(); ++at) {
        if (at >= kLifecycleAt && at < kAfterLifecycle) continue;  // lifecycle and its padding
        if (now[at] != fixed_[at]) return std::string("header: its ") + header_field(at) + " changed (byte " + to_string(at) + ")";
    }
    const uint32_t life = r_.header().lifecycle.load(kAcq);
    if (life < 1 || life > 4) return "header: lifecycle word holds " + to_string(life);
    if (!valid_token(r_.header().admin_lock.load(kAcq))) return "header: the group-table lock names no participant";
    return std::nullopt;
}

// Fields of an entry are written after its state CAS, so a reader may see
// the previous occupant's values: those are valid too (or zero).
std::optional<std::string> IntegrityCheck::participants() const {
    for (uint32_t i = 0; i < r_.max_participants(); ++i) {
        const auto& e = r_.participant(i);
        const uint64_t kind = layout::participant_kind(e.state.load(kAcq));
        const std::string where = "lease table: entry " + to_string(i);
        if (kind != layout::kParticipantFree && kind != layout::kParticipantActive && kind != kParticipantClaiming)
            return where + " has state kind " + to_string(kind);
        if (kind == layout::kParticipantFree) continue;
        if (e.role.load(kAcq) > static_cast<uint8_t>(layout::Role::admin)) return where + " has an unknown role";
        const uint16_t g = e.group.load(kAcq);
        if (g != layout::kNoGroup && !r_.valid_group(g)) return where + " names group " + to_string(g);
    }
    return std::nullopt;
}

// Cursors only grow (replay rewinds run in shmqd, between our runs), so for
// loads a (earlier), b (later): a <= b in time and a_read <= a_now,
// b_now <= b_read. Hence floor1 <= next and next <= floor2 + capacity, read
// in that order, hold whenever floor <= next <= floor + capacity always does.
std::optional<std::string> IntegrityCheck::groups() const {
    for (uint32_t g = 0; g < r_.max_groups(); ++g) {
        const auto& e = r_.group(g);
        const uint64_t s = e.state.load(kAcq);
        const uint64_t status = layout::group_status(s);
        const std::string where = "group table: entry " + to_string(g);
        if (status > layout::kGroupJoining) return where + " has status " + to_string(status);
        if (status == layout::kGroupFree) continue;
        const uint8_t kind = layout::group_kind(s);
        if (kind != static_cast<uint8_t>(GroupKind::exclusive) && kind != static_cast<uint8_t>(GroupKind::shared))
            return where + " has kind " + to_string(kind);
        if (e.replay_state.load(kAcq) > static_cast<uint32_t>(layout::ReplayState::preparing) ||
            e.replay_from_kind.load(kAcq) > static_cast<uint32_t>(layout::ReplayFrom::start) ||
            e.replay_result.load(kAcq) > static_cast<uint32_t>(layout::ReplayResult::failed))
            return where + " has an unknown replay state";
        if (status != layout::kGroupActive) continue;  // joining: cursors being set up
        for (uint32_t p = 0; p < r_.partitions(); ++p) {
            const auto& gp = r_.group_partition(g, p);
            const uint64_t floor1 = gp.floor.load(kAcq);
            const uint64_t next = gp.next.load(kAcq);
            const uint64_t floor2 = gp.floor.load(kAcq);
            const uint64_t tail = r_.partition(p).tail.load(kAcq);
            const std::string at = where + " partition " + to_string(p);
            if (next < floor1) return at + ": next " + to_string(next) + " is below floor " + to_string(floor1);
            if (next - floor2 > r_.capacity() && next > floor2)
                return at + ": next " + to_string(next) + " is more than a ring ahead of floor " + to_string(floor2);
            if (next > tail) return at + ": next " + to_string(next) + " is beyond the tail " + to_string(tail);
            if (!valid_token(gp.owner.load(kAcq))) return at + ": its owner names no participant";
        }
    }
    return std::nullopt;
}

// head <= tail and tail <= head + capacity at every instant; read tail1,
// head, tail2 (each only grows): head <= tail2 and tail1 <= head + capacity.
// The same for the staging ring (spill_head, seq(spill_tail)) and the DLQ.
std::optional<std::string> IntegrityCheck::partitions() const {
    for (uint32_t p = 0; p < r_.partitions(); ++p) {
        const auto& pc = r_.partition(p);
        const std::string where = "partition " + to_string(p);
        const uint64_t tail1 = pc.tail.load(kAcq);
        const uint64_t head = pc.head.load(kAcq);
        const uint64_t journal_floor = pc.journal_floor.load(kAcq);
        const uint64_t tail2 = pc.tail.load(kAcq);
        if (head > tail2) return where + ": head " + to_string(head) + " is beyond the tail " + to_string(tail2);
        if (tail1 > head + r_.capacity())
            return where + ": tail " + to_string(tail1) + " is more than a ring ahead of head " + to_string(head);
        if (journal_floor > tail2) return where + ": journal floor " + to_string(journal_floor) + " is beyond the tail";
        if (!valid_token(pc.reclaim_lock.load(kAcq)) || !valid_token(pc.spill_lock.load(kAcq)))
            return where + ": a lock word names no participant";
        if (pc.spill_status.load(kAcq) > 2 || pc.journal_status.load(kAcq) > 2)
            return where + ": unknown disk status";
        const uint64_t stail1 = layout::spill_seq(pc.spill_tail.load(kAcq));
        const uint64_t shead = pc.spill_head.load(kAcq);
        const uint64_t refilled = pc.spill_refilled.load(kAcq);
        const uint64_t stail2 = layout::spill_seq(pc.spill_tail.load(kAcq));
        if (shead > stail2 || stail1 > shead + r_.spill_capacity() || refilled > stail2)
            return where + ": spill cursors out of order (head " + to_string(shead) + ", tail " + to_string(stail2) +
                   ", refilled " + to_string(refilled) + ")";
    }
    return std::nullopt;
}

std::optional<std::string> IntegrityCheck::dlq() const {
    const auto& d = r_.dlq();
    const uint64_t tail1 = d.tail.load(kAcq);
    const uint64_t head = d.head.load(kAcq);
    const uint64_t tail2 = d.tail.load(kAcq);
    if (head > tail2 || tail1 > head + r_.params().dlq_capacity)
        return "DLQ: head " + to_string(head) + " and tail " + to_string(tail2) + " out of order";
    if (!valid_token(d.admin_lock.load(kAcq))) return "DLQ: its lock names no participant";
    return std::nullopt;
}

// Honest bridges only ever store these values (bridge/bridge_table.cpp);
// each field is checked alone, so a re-claim racing the check is no alarm.
std::optional<std::string> IntegrityCheck::bridges() const {
    for (uint32_t i = 0; i < layout::kMaxBridges; ++i) {
        const auto& e = r_.bridge(i);
        const std::string where = "bridge table: entry " + to_string(i);
        if (!valid_token(e.owner.load(kAcq))) return where + " names no participant";
        if (e.direction.load(kAcq) > static_cast<uint32_t>(layout::BridgeDirection::in))
            return where + " has an unknown direction";
        const uint16_t g = e.group.load(kAcq);
        if (g != layout::kNoGroup && !r_.valid_group(g)) return where + " names group " + to_string(g);
    }
    return std::nullopt;
}

// Every value ever stored in a slot's state or claim word is about an offset
// that maps to that slot (the initial ones are about the lap before 0), and
// producers write only lengths within the region's limits.
std::optional<std::string> IntegrityCheck::ring_slot(uint32_t p, uint64_t index) const {
    const ring::RingRef ring = ring::partition_ring(r_, p);
    const uint64_t s = ring.state(index).load(kAcq);
    const uint64_t c = ring.claim(index).load(kAcq);
    const auto& h = r_.slot(p, index);
    if ((ring::slot_tag(s) & r_.mask()) != index || ring::slot_kind(s) > ring::SlotKind::aborted)
        return at_slot("ring", p, index) + ": state word " + to_string(s) + " is about no offset of this slot";
    if ((ring::slot_tag(c) & r_.mask()) != index || ring::slot_kind(c) != ring::SlotKind::claimed ||
        ring::slot_owner(c) > r_.max_participants())
        return at_slot("ring", p, index) + ": claim word " + to_string(c) + " is not a claim of this slot";
    if (peek(h.payload_len) > r_.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes)
        return at_slot("ring", p, index) + ": its lengths exceed the queue's limits";
    return std::nullopt;
}

std::optional<std::string> IntegrityCheck::staging_slot(uint32_t p, uint64_t index) const {
    const ring::RingRef ring = ring::spill_ring(r_, p);
    const uint64_t s = ring.state(index).load(kAcq);
    const auto& h = *reinterpret_cast<const layout::SlotHeader*>(ring.base(index));
    if ((ring::slot_tag(s) & (ring.capacity - 1)) != index || ring::slot_kind(s) > ring::SlotKind::aborted)
        return at_slot("spill staging", p, index) + ": state word is about no offset of this slot";
    if (peek(h.payload_len) > r_.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes)
        return at_slot("spill staging", p, index) + ": its lengths exceed the queue's limits";
    return std::nullopt;
}

std::optional<std::string> IntegrityCheck::dlq_slot(uint64_t index) const {
    const ring::RingRef ring = ring::dlq_ring(r_);
    const uint64_t s = ring.state(index).load(kAcq);
    const auto& h = r_.dlq_slot(index);
    const std::string where = "DLQ slot " + to_string(index);
    if ((ring::slot_tag(s) & (ring.capacity - 1)) != index || ring::slot_kind(s) > ring::SlotKind::aborted)
        return where + ": state word is about no offset of this slot";
    if (peek(h.payload_len) > r_.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes ||
        peek(h.partition) >= r_.partitions() || peek(h.group_index) >= r_.max_groups())
        return where + ": its lengths, partition or group are out of range";
    return std::nullopt;
}

// Lease words are always stored for an offset of their entry (lease_word(.., o)
// into lease(g, p, o)); an active group has every entry initialized.
std::optional<std::string> IntegrityCheck::lease(uint32_t g, uint32_t p, uint64_t index) const {
    const uint64_t w = r_.lease(g, p, index).word.load(kAcq);
    if ((ring::lease_tag(w) & r_.mask()) != index)
        return "group " + to_string(g) + " partition " + to_string(p) + ": lease entry " + to_string(index) +
               " is about no offset of its slot";
    return std::nullopt;
}

std::optional<std::string> IntegrityCheck::scan(uint64_t budget) {
    const uint64_t cap = r_.capacity();
    const uint64_t parts = r_.partitions();
    while (budget-- > 0) {
        std::optional<std::string> damage;
        switch (table_) {
            case Table::ring:
                if (cell_ < parts * cap) damage = ring_slot(static_cast<uint32_t>(cell_ / cap), cell_ % cap);
                else { table_ = Table::staging; cell_ = 0; continue; }
                break;
            case Table::staging: {
                const uint64_t scap = r_.spill_capacity();
                if (cell_ < parts * scap) damage = staging_slot(static_cast<uint32_t>(cell_ / scap), cell_ % scap);
                else { table_ = Table::dlq; cell_ = 0; continue; }
                break;
            }
            case Table::dlq:
                if (cell_ < r_.params().dlq_capacity) damage = dlq_slot(cell_);
                else { table_ = Table::leases; cell_ = 0; continue; }
                break;
            case Table::leases: {
                const uint64_t per_group = parts * cap;
                const uint64_t g = cell_ / per_group;
                if (g >= r_.max_groups()) { table_ = Table::ring; cell_ = 0; continue; }
                if (layout::group_status(r_.group(static_cast<uint32_t>(g)).state.load(kAcq)) != layout::kGroupActive) {
                    cell_ = (g + 1) * per_group;  // a free or joining group's entries mean nothing yet
                    continue;
                }
                const uint64_t in_group = cell_ % per_group;
                damage = lease(static_cast<uint32_t>(g), static_cast<uint32_t>(in_group / cap), in_group % cap);
                break;
            }
        }
        if (damage) return damage;
        ++cell_;
    }
    return std::nullopt;
}

}  // namespace shmq::detail
