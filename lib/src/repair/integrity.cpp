#include "shmq/internal/integrity.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/tx_protocol.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/writer_token.hpp"

namespace shmq::detail {
namespace {

using Violation = IntegrityCheck::Violation;
static_assert(std::is_trivially_copyable_v<Violation>, "the clean path copies no string");

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

// The words of a violation; the only place the check allocates.
std::string words(const Violation& v) {
    std::string out;
    std::size_t next = 0;
    for (const char* c = v.form; *c != '\0'; ++c) {
        if (*c == '#' && next < v.v.size()) out += std::to_string(v.v[next++]);
        else if (*c == '@') out += v.word;
        else out += *c;
    }
    return out;
}

// Every value ever stored in a slot's state or claim word is about an offset
// that maps to that slot (the initial ones are about the lap before 0), and
// producers write only lengths within the region's limits.
std::optional<Violation> ring_slot(const Region& r, const ring::RingRef& ring, uint32_t p, uint64_t index) {
    const uint64_t s = ring.state(index).load(kAcq);
    const uint64_t c = ring.claim(index).load(kAcq);
    const auto& h = *reinterpret_cast<const layout::SlotHeader*>(ring.base(index));
    if ((ring::slot_tag(s) & r.mask()) != index ||
        (ring::slot_kind(s) > ring::SlotKind::aborted && ring::slot_kind(s) != ring::SlotKind::expired))
        return Violation{"ring slot # of partition #: state word # is about no offset of this slot", {index, p, s}};
    if ((ring::slot_tag(c) & r.mask()) != index ||
        (ring::slot_kind(c) != ring::SlotKind::claimed && ring::slot_kind(c) != ring::SlotKind::prepared) ||
        ring::slot_owner(c) > r.max_participants())
        return Violation{"ring slot # of partition #: claim word # is not a claim of this slot", {index, p, c}};
    if (peek(h.payload_len) > r.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes)
        return Violation{"ring slot # of partition #: its lengths exceed the queue's limits", {index, p}};
    return std::nullopt;
}

std::optional<Violation> staging_slot(const Region& r, const ring::RingRef& ring, uint32_t p, uint64_t index) {
    const uint64_t s = ring.state(index).load(kAcq);
    const auto& h = *reinterpret_cast<const layout::SlotHeader*>(ring.base(index));
    if ((ring::slot_tag(s) & (ring.capacity - 1)) != index || ring::slot_kind(s) > ring::SlotKind::aborted)
        return Violation{"spill staging slot # of partition #: state word is about no offset of this slot", {index, p}};
    if (peek(h.payload_len) > r.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes)
        return Violation{"spill staging slot # of partition #: its lengths exceed the queue's limits", {index, p}};
    return std::nullopt;
}

std::optional<Violation> dlq_slot(const Region& r, const ring::RingRef& ring, uint64_t index) {
    const uint64_t s = ring.state(index).load(kAcq);
    const auto& h = r.dlq_slot(index);
    if ((ring::slot_tag(s) & (ring.capacity - 1)) != index || ring::slot_kind(s) > ring::SlotKind::aborted)
        return Violation{"DLQ slot #: state word is about no offset of this slot", {index}};
    if (peek(h.payload_len) > r.params().max_message || peek(h.key_len) > layout::kMaxKeyBytes ||
        peek(h.partition) >= r.partitions() || peek(h.group_index) >= r.max_groups())
        return Violation{"DLQ slot #: its lengths, partition or group are out of range", {index}};
    return std::nullopt;
}

// Checks `n` cells of a table of `per`-cell rows from cell `from` on: calls
// check(row, index) for each, in order, and stops at the first violation,
// leaving in `n` the cells passed before it. One division per call, not per cell.
template <class Check>
std::optional<Violation> rows(uint64_t from, uint64_t& n, uint64_t per, Check&& check) {
    if (n == 0) return std::nullopt;
    auto row = static_cast<uint32_t>(from / per);
    uint64_t index = from % per;
    for (uint64_t k = 0; k < n; ++k) {
        if (auto v = check(row, index)) {
            n = k;
            return v;
        }
        if (++index == per) {
            index = 0;
            ++row;
        }
    }
    return std::nullopt;
}

}  // namespace

IntegrityCheck::IntegrityCheck(const Region& r) : r_(r) {
    std::memcpy(fixed_.data(), &r.header(), fixed_.size());
    const uint64_t parts = r.partitions();
    size_[header_cell] = 1;
    size_[participants] = r.max_participants();
    size_[groups] = uint64_t{r.max_groups()} * (1 + parts);
    size_[partitions] = parts;
    size_[dlq_control] = 1;
    size_[bridges] = layout::kMaxBridges;
    size_[ring_slots] = parts * r.capacity();
    size_[staging_slots] = parts * r.spill_capacity();
    size_[dlq_slots] = r.params().dlq_capacity;
    size_[leases] = uint64_t{r.max_groups()} * parts * r.capacity();
    size_[tx_records] = r.max_participants();
    for (const uint64_t n : size_) cells_ += n;
}

bool IntegrityCheck::valid_token(uint64_t token) const noexcept {
    return token == 0 || (layout::token_id(token) >= 1 && layout::token_id(token) <= r_.max_participants());
}

// Each turn checks what is left of the budget or of the section, whichever
// is less; a violation stops the pass at its cell (sweep leaves `n` at the
// cells passed before it). An empty section (no staging ring) is passed
// over; the header cell is never empty, so every loop of the sections
// consumes budget and the loop ends.
std::optional<std::string> IntegrityCheck::run(uint64_t budget) {
    while (budget > 0) {
        uint64_t n = std::min(budget, size_[sec_] - at_);
        const auto found = sweep(sec_, at_, n);
        at_ += n;
        budget -= n;
        if (found) return words(*found);
        if (at_ == size_[sec_]) {
            at_ = 0;
            sec_ = static_cast<Section>(sec_ + 1);
            if (sec_ == kSections) {
                sec_ = header_cell;
                ++passes_;
            }
        }
    }
    return std::nullopt;
}

std::optional<Violation> IntegrityCheck::sweep(Section s, uint64_t from, uint64_t& n) const {
    const uint32_t parts = r_.partitions();
    std::optional<Violation> found;
    switch (s) {
        case header_cell:
            found = header();
            if (found) n = 0;
            return found;
        case participants:
            return rows(from, n, 1, [&](uint32_t i, uint64_t) { return participant(i); });
        case groups:
            return rows(from, n, 1 + uint64_t{parts}, [&](uint32_t g, uint64_t k) {
                return k == 0 ? group(g) : group_cursors(g, static_cast<uint32_t>(k - 1));
            });
        case partitions:
            return rows(from, n, 1, [&](uint32_t p, uint64_t) { return partition(p); });
        case dlq_control:
            found = dlq();
            if (found) n = 0;
            return found;
        case bridges:
            return rows(from, n, 1, [&](uint32_t i, uint64_t) { return bridge(i); });
        case ring_slots: {
            // The ring view is rebuilt only when the partition changes.
            uint32_t at_p = UINT32_MAX;
            ring::RingRef ring{};
            return rows(from, n, r_.capacity(), [&](uint32_t p, uint64_t index) {
                if (p != at_p) ring = ring::partition_ring(r_, at_p = p);
                return ring_slot(r_, ring, p, index);
            });
        }
        case staging_slots: {
            uint32_t at_p = UINT32_MAX;
            ring::RingRef ring{};
            return rows(from, n, r_.spill_capacity(), [&](uint32_t p, uint64_t index) {
                if (p != at_p) ring = ring::spill_ring(r_, at_p = p);
                return staging_slot(r_, ring, p, index);
            });
        }
        case dlq_slots: {
            const ring::RingRef ring = ring::dlq_ring(r_);
            return rows(from, n, r_.params().dlq_capacity, [&](uint32_t, uint64_t index) {
                return dlq_slot(r_, ring, index);
            });
        }
        case tx_records:
            return rows(from, n, 1, [&](uint32_t i, uint64_t) { return tx_record(i); });
        case leases: {
            // One group's entries at a time: leases_of reads its status once.
            const uint64_t per_group = uint64_t{parts} * r_.capacity();
            uint64_t done = 0;
            while (done < n) {
                const uint64_t at = from + done;
                uint64_t step = std::min(n - done, per_group - at % per_group);
                found = leases_of(static_cast<uint32_t>(at / per_group), at % per_group, step);
                done += step;
                if (found) break;
            }
            n = done;
            return found;
        }
        case kSections:
            break;
    }
    return found;
}

std::optional<Violation> IntegrityCheck::header() const {
    // The fixed part never changes after attach: one compare on the clean
    // path, a byte-by-byte search for the field only when it differs.
    const auto* now = reinterpret_cast<const std::byte*>(&r_.header());
    if (std::memcmp(now, fixed_.data(), kLifecycleAt) != 0 ||
        std::memcmp(now + kAfterLifecycle, fixed_.data() + kAfterLifecycle, fixed_.size() - kAfterLifecycle) != 0)
        for (std::size_t at = 0; at < fixed_.size(); ++at) {
            if (at >= kLifecycleAt && at < kAfterLifecycle) continue;  // lifecycle and its padding
            if (now[at] != fixed_[at]) return Violation{"header: its @ changed (byte #)", {at}, header_field(at)};
        }
    const uint32_t life = r_.header().lifecycle.load(kAcq);
    if (life < 1 || life > 4) return Violation{"header: lifecycle word holds #", {life}};
    if (!valid_token(r_.header().admin_lock.load(kAcq)))
        return Violation{"header: the group-table lock names no participant"};
    return std::nullopt;
}

// Fields of an entry are written after its state CAS, so a reader may see
// the previous occupant's values: those are valid too (or zero).
std::optional<Violation> IntegrityCheck::participant(uint32_t i) const {
    const auto& e = r_.participant(i);
    const uint64_t kind = layout::participant_kind(e.state.load(kAcq));
    if (kind != layout::kParticipantFree && kind != layout::kParticipantActive && kind != kParticipantClaiming)
        return Violation{"lease table: entry # has state kind #", {i, kind}};
    if (kind == layout::kParticipantFree) return std::nullopt;
    if (e.role.load(kAcq) > static_cast<uint8_t>(layout::Role::admin))
        return Violation{"lease table: entry # has an unknown role", {i}};
    if (const uint64_t acking = e.acking.load(kAcq); acking > 1)  // fast_ack.hpp: 0 or 1
        return Violation{"lease table: entry # has fast-ACK word #", {i, acking}};
    const uint16_t g = e.group.load(kAcq);
    if (g != layout::kNoGroup && !r_.valid_group(g)) return Violation{"lease table: entry # names group #", {i, g}};
    return std::nullopt;
}

std::optional<Violation> IntegrityCheck::group(uint32_t g) const {
    const auto& e = r_.group(g);
    const uint64_t s = e.state.load(kAcq);
    const uint64_t status = layout::group_status(s);
    if (status > layout::kGroupJoining) return Violation{"group table: entry # has status #", {g, status}};
    if (status == layout::kGroupFree) return std::nullopt;
    const uint8_t kind = layout::group_kind(s);
    if (kind != static_cast<uint8_t>(GroupKind::exclusive) && kind != static_cast<uint8_t>(GroupKind::shared) &&
        kind != static_cast<uint8_t>(GroupKind::keyed))
        return Violation{"group table: entry # has kind #", {g, kind}};
    const uint32_t lane = e.keyed_lane.load(kAcq);
    if (kind == static_cast<uint8_t>(GroupKind::keyed) && (lane == 0 || lane > r_.params().keyed_groups))
        return Violation{"group table: keyed group # names key lane #", {g, lane}};
    if (e.replay_state.load(kAcq) > static_cast<uint32_t>(layout::ReplayState::preparing) ||
        e.replay_from_kind.load(kAcq) > static_cast<uint32_t>(layout::ReplayFrom::start) ||
        e.replay_result.load(kAcq) > static_cast<uint32_t>(layout::ReplayResult::failed))
        return Violation{"group table: entry # has an unknown replay state", {g}};
    return std::nullopt;
}

// Only an active group's cursors are set up (joining: being set); the status
// is read first, with acquire, in the cell itself, so a group that turns
// active or free between the entry's cell and this one is judged right.
// Cursors only grow (replay rewinds run in shmqd, between our runs), so for
// loads a (earlier), b (later): a <= b in time and a_read <= a_now,
// b_now <= b_read. Hence floor1 <= next and next <= floor2 + capacity, read
// in that order, hold whenever floor <= next <= floor + capacity always does.
std::optional<Violation> IntegrityCheck::group_cursors(uint32_t g, uint32_t p) const {
    if (layout::group_status(r_.group(g).state.load(kAcq)) != layout::kGroupActive) return std::nullopt;
    const auto& gp = r_.group_partition(g, p);
    const uint64_t floor1 = gp.floor.load(kAcq);
    const uint64_t next = gp.next.load(kAcq);
    const uint64_t floor2 = gp.floor.load(kAcq);
    const uint64_t tail = ring::load_tail(r_.partition(p).tail, kAcq);
    if (next < floor1)
        return Violation{"group table: entry # partition #: next # is below floor #", {g, p, next, floor1}};
    if (next - floor2 > r_.capacity() && next > floor2)
        return Violation{"group table: entry # partition #: next # is more than a ring ahead of floor #",
                         {g, p, next, floor2}};
    if (next > tail)
        return Violation{"group table: entry # partition #: next # is beyond the tail #", {g, p, next, tail}};
    if (!valid_token(gp.owner.load(kAcq)))
        return Violation{"group table: entry # partition #: its owner names no participant", {g, p}};
    return std::nullopt;
}

// head <= tail and tail <= head + capacity at every instant; read tail1,
// head, tail2 (each only grows): head <= tail2 and tail1 <= head + capacity.
// The same for the staging ring (spill_head, seq(spill_tail)) and the DLQ.
std::optional<Violation> IntegrityCheck::partition(uint32_t p) const {
    const auto& pc = r_.partition(p);
    const uint64_t tail1 = ring::load_tail(pc.tail, kAcq);
    const uint64_t head = pc.head.load(kAcq);
    const uint64_t journal_floor = pc.journal_floor.load(kAcq);
    const uint64_t tail2 = ring::load_tail(pc.tail, kAcq);
    if (head > tail2) return Violation{"partition #: head # is beyond the tail #", {p, head, tail2}};
    if (tail1 > head + r_.capacity())
        return Violation{"partition #: tail # is more than a ring ahead of head #", {p, tail1, head}};
    if (journal_floor > tail2) return Violation{"partition #: journal floor # is beyond the tail", {p, journal_floor}};
    const uint64_t writer = pc.writer.load(kAcq);
    if (!valid_token(pc.reclaim_lock.load(kAcq)) || !valid_token(pc.spill_lock.load(kAcq)) ||
        !valid_token(ring::writer_token(writer)))
        return Violation{"partition #: a lock word names no participant", {p}};
    // writer_token.hpp: the flags honest writers store, a requester that is a participant id.
    if (!ring::writer_bits_valid(writer) || ring::writer_requester(writer) > r_.max_participants())
        return Violation{"partition #: writer word # is no writer-role state", {p, writer}};
    if (pc.writer_sending.load(kAcq) > 1)
        return Violation{"partition #: writer_sending is neither 0 nor 1", {p}};
    if (pc.spill_status.load(kAcq) > 2 || pc.journal_status.load(kAcq) > 2)
        return Violation{"partition #: unknown disk status", {p}};
    const uint64_t stail1 = layout::spill_seq(pc.spill_tail.load(kAcq));
    const uint64_t shead = pc.spill_head.load(kAcq);
    const uint64_t refilled = pc.spill_refilled.load(kAcq);
    const uint64_t stail2 = layout::spill_seq(pc.spill_tail.load(kAcq));
    if (shead > stail2 || stail1 > shead + r_.spill_capacity() || refilled > stail2)
        return Violation{"partition #: spill cursors out of order (head #, tail #, refilled #)",
                         {p, shead, stail2, refilled}};
    return std::nullopt;
}

std::optional<Violation> IntegrityCheck::dlq() const {
    const auto& d = r_.dlq();
    const uint64_t tail1 = d.tail.load(kAcq);
    const uint64_t head = d.head.load(kAcq);
    const uint64_t tail2 = d.tail.load(kAcq);
    if (head > tail2 || tail1 > head + r_.params().dlq_capacity)
        return Violation{"DLQ: head # and tail # out of order", {head, tail2}};
    if (!valid_token(d.admin_lock.load(kAcq))) return Violation{"DLQ: its lock names no participant"};
    return std::nullopt;
}

// Honest bridges only ever store these values (bridge/bridge_table.cpp);
// each field is checked alone, so a re-claim racing the check is no alarm.
std::optional<Violation> IntegrityCheck::bridge(uint32_t i) const {
    const auto& e = r_.bridge(i);
    if (!valid_token(e.owner.load(kAcq))) return Violation{"bridge table: entry # names no participant", {i}};
    if (e.direction.load(kAcq) > static_cast<uint32_t>(layout::BridgeDirection::in))
        return Violation{"bridge table: entry # has an unknown direction", {i}};
    const uint16_t g = e.group.load(kAcq);
    if (g != layout::kNoGroup && !r_.valid_group(g)) return Violation{"bridge table: entry # names group #", {i, g}};
    return std::nullopt;
}

// A transaction record (shmq/internal/tx_protocol.hpp): honest owners store
// only these states, roles and counts; indices name participants of some
// region (at most kMaxParticipants). Each field alone: a record being
// rewritten by its owner is no alarm.
std::optional<Violation> IntegrityCheck::tx_record(uint32_t i) const {
    const auto& e = r_.tx_entry(i);
    const uint64_t w = e.word.load(kAcq);
    if (!tx::tx_state_valid(w)) return Violation{"transaction record #: word # holds no state", {i, w}};
    if (e.role.load(kAcq) > static_cast<uint64_t>(layout::TxRole::output) || e.reap_pending.load(kAcq) > 1)
        return Violation{"transaction record #: unknown role or reap mark", {i}};
    const uint32_t n = e.outputs.load(kAcq);
    if (n > layout::kMaxTxOutputs || e.coord_index.load(kAcq) >= layout::kMaxParticipants)
        return Violation{"transaction record #: its output count or coordinator index is out of range", {i}};
    const layout::TxOutput* list = r_.tx_outputs(i);
    for (uint32_t k = 0; k < n; ++k)  // the entries in use (the rest may be stale or never written)
        if (list[k].index.load(kAcq) >= layout::kMaxParticipants)
            return Violation{"transaction record #: an output names no participant", {i}};
    return std::nullopt;
}

// `n` lease entries of group g from entry `from` (partition-major) on, all in
// this group. Lease words are always stored for an offset of their entry
// (lease_word(.., o) into lease(g, p, o): a lease, an ack, or the join's and
// a rewind's reset), and a group's join initializes every entry before its
// release store of `active`. So one acquire load of the status that sees
// `active` vouches for every entry read after it, even if the group is
// deleted or re-joined meanwhile (neither stores anything else into them).
// A free or joining group's entries may never have been written: passed
// over unread, `n` cells of budget for one load.
std::optional<Violation> IntegrityCheck::leases_of(uint32_t g, uint64_t from, uint64_t& n) const {
    if (layout::group_status(r_.group(g).state.load(kAcq)) != layout::kGroupActive) return std::nullopt;
    return rows(from, n, r_.capacity(), [&](uint32_t p, uint64_t index) -> std::optional<Violation> {
        const uint64_t w = r_.lease(g, p, index).word.load(kAcq);
        if ((ring::lease_tag(w) & r_.mask()) != index)
            return Violation{"group # partition #: lease entry # is about no offset of its slot", {g, p, index}};
        return std::nullopt;
    });
}

}  // namespace shmq::detail
