#include "shmq/internal/dlq_admin.hpp"

#include <algorithm>

#include "shmq/internal/attributes.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::dlq {

const char* reason_name(uint8_t reason) {
    switch (static_cast<layout::DeadLetterReason>(reason)) {
        case layout::DeadLetterReason::nacked: return "nacked";
        case layout::DeadLetterReason::lease_expired: return "lease_expired";
        case layout::DeadLetterReason::owner_died: return "owner_died";
        case layout::DeadLetterReason::handoff: return "handoff";
        case layout::DeadLetterReason::ttl: return "ttl";
        case layout::DeadLetterReason::blocked: break;  // never a DLQ reason
    }
    return "unknown";
}

namespace {

// out.payload holds block + payload (copied: parsing a private copy); split them.
void split_attributes(DeadLetter& out) {
    attrs::View v;
    if (!attrs::parse(std::as_bytes(std::span(out.payload.data(), out.payload.size())), v)) {
        out.attributes_malformed = true;  // shown, never parsed; a redrive sends it on as it is stored
        return;
    }
    out.routing_key.assign(v.routing_key());
    std::string_view k, val;
    for (std::size_t i = 0; i < v.header_count && attrs::header_at(v, i, k, val); ++i)
        out.headers.emplace_back(std::string(k), std::string(val));
    out.attributes = out.payload.substr(0, v.block_len);
    out.payload.erase(0, v.block_len);
}

// Copies the letter at `pos` if it is committed(pos); lengths are clamped.
bool read_letter(const detail::Region& r, uint64_t pos, DeadLetter& out) {
    const auto& h = r.dlq_slot(pos);
    const uint64_t before = h.state.load(std::memory_order_acquire);
    if (!ring::slot_is(before, pos) || ring::slot_kind(before) != ring::SlotKind::committed) return false;
    const uint32_t len = std::min<uint32_t>(h.payload_len, r.params().max_message);
    const uint32_t key_len = std::min<uint32_t>(h.key_len, layout::kMaxKeyBytes);
    out.position = pos;
    out.partition = h.partition;
    out.offset = h.offset;
    out.deliveries = h.deliveries;
    out.reason = reason_name(h.reason);
    out.group = r.valid_group(h.group_index) ? detail::group_name(r, h.group_index) : "";
    out.key.assign(reinterpret_cast<const char*>(r.dlq_key(pos)), key_len);
    out.payload.assign(reinterpret_cast<const char*>(r.dlq_payload(pos)), len);
    out.routing_key.clear();
    out.headers.clear();
    out.attributes.clear();
    out.attributes_malformed = false;
    if ((h.flags & layout::kSlotAttributes) != 0) split_attributes(out);
    out.dedup_id.clear();
    out.redrives = 0;
    if (const layout::SlotExtension* ext = r.dlq_extension(pos); ext != nullptr && (h.flags & layout::kSlotDedupId) != 0) {
        out.dedup_id.assign(reinterpret_cast<const char*>(ext->id), std::min<uint32_t>(ext->id_len, layout::kMaxDedupIdBytes));
        out.redrives = ext->redrives;
    }
    out.publish_unix_ns = h.publish_unix_ns;
    out.first_delivery_unix_ns = h.first_delivery_unix_ns;
    out.last_delivery_unix_ns = h.last_delivery_unix_ns;
    out.dead_unix_ns = h.dead_unix_ns;
    // Released while we copied? Then what we copied may be torn: drop it.
    return h.state.load(std::memory_order_acquire) == before;
}

}  // namespace

std::vector<DeadLetter> list(const detail::Region& r, uint64_t max) {
    std::vector<DeadLetter> out;
    const auto& c = r.dlq();
    const uint64_t head = c.head.load(std::memory_order_acquire);
    const uint64_t tail = std::min(c.tail.load(std::memory_order_acquire), head + r.params().dlq_capacity);
    for (uint64_t pos = head; pos < tail && out.size() < max; ++pos) {
        DeadLetter letter;
        if (read_letter(r, pos, letter)) out.push_back(std::move(letter));
    }
    return out;
}

uint64_t consume(detail::Region& r, const detail::Participant& me, uint64_t max, Handler* redrive) {
    auto& c = r.dlq();
    detail::ScopedOwnerLock locked(r, c.admin_lock, me.token(), "the DLQ lock");
    const ring::RingRef ring = ring::dlq_ring(r);
    uint64_t head = c.head.load(std::memory_order_acquire);
    uint64_t done = 0;
    while (done < max) {
        const uint64_t s = ring.state(head).load(std::memory_order_acquire);
        if (!ring::slot_is(s, head)) {
            // Not published: nothing more, unless a mover is copying in; wait
            // for it, or abort its claim if it is dead and look again.
            const uint32_t owner = ring::open_claimer(ring, head);
            if (owner != 0 && detail::entry_liveness(r, owner - 1) != detail::Liveness::alive &&
                ring::abort_dead_claim(ring, head, owner))
                continue;
            break;
        }
        if (ring::slot_kind(s) == ring::SlotKind::committed) {
            DeadLetter letter;
            if (!read_letter(r, head, letter)) break;
            if (redrive != nullptr) {
                Status st = redrive->handle(letter);
                if (!st) throw Error(st.code(), std::string("redrive stopped at DLQ entry ") + std::to_string(head) +
                                                    ": " + st.message() + "; " + std::to_string(done) + " redriven");
                c.redriven.fetch_add(1, std::memory_order_relaxed);
            } else {
                c.purged.fetch_add(1, std::memory_order_relaxed);
            }
            ++done;
        }
        // release: movers that acquire the new head may overwrite this slot.
        c.head.store(++head, std::memory_order_release);
    }
    return done;
}

}  // namespace shmq::dlq
