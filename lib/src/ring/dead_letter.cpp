#include "shmq/internal/dead_letter.hpp"

#include <algorithm>
#include <cstring>

#include "shmq/internal/delivery.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::ring {

void copy_to_dlq(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t pos,
                 layout::DeadLetterReason reason, uint32_t deliveries) noexcept {
    auto& e = r.lease(g, p, offset);
    // The source slot is stable: the caller holds entry(offset), not acked, so the floor
    // (and head) stay at or below offset. Its lengths are untrusted: clamp.
    const auto& src = r.slot(p, offset);
    const uint32_t len = std::min<uint32_t>(src.payload_len, r.params().max_message);
    const uint16_t key_len = std::min<uint16_t>(src.key_len, static_cast<uint16_t>(layout::kMaxKeyBytes));
    auto& dst = r.dlq_slot(pos);
    std::memcpy(r.dlq_payload(pos), r.slot_payload(p, offset), len);
    std::memcpy(r.dlq_key(pos), r.slot_key(p, offset), key_len);
    dst.payload_len = len;
    dst.key_len = key_len;
    dst.flags = 0;
    if (const layout::SlotExtension* ext = r.slot_extension(r.slot_base(p, offset));
        ext != nullptr && (src.flags & layout::kSlotDedupId) != 0) {  // the dedup id goes along (untrusted: bounded)
        layout::SlotExtension* to = r.dlq_extension(pos);
        to->entry_ref = 0;
        to->id_len = std::min<uint16_t>(ext->id_len, static_cast<uint16_t>(layout::kMaxDedupIdBytes));
        to->redrives = ext->redrives;
        std::memcpy(to->id, ext->id, to->id_len);
        dst.flags = layout::kSlotDedupId;
    }
    // The attribute block is the start of the payload copied above: its flag goes along.
    dst.flags = static_cast<uint8_t>(dst.flags | (src.flags & layout::kSlotAttributes));
    dst.reason = static_cast<uint8_t>(reason);
    dst.partition = p;
    dst.deliveries = deliveries;
    dst.offset = offset;
    dst.dead_unix_ns = sys::unix_ns();
    // Delivery times are stamped by scanners; a delivery none saw yet was just now.
    const uint64_t first = e.first_delivery_unix_ns.load(std::memory_order_relaxed);
    const uint64_t last = e.last_delivery_unix_ns.load(std::memory_order_relaxed);
    dst.last_delivery_unix_ns = last != 0 ? last : dst.dead_unix_ns;
    dst.first_delivery_unix_ns = first != 0 ? first : dst.last_delivery_unix_ns;
    dst.publish_unix_ns = src.publish_unix_ns;
    dst.group_index = g;
}

DeadLetterResult dead_letter(detail::Region& r, uint32_t g, uint32_t p, uint64_t offset, uint64_t retry,
                             uint64_t now_mono, uint32_t mover_id) noexcept {
    auto& e = r.lease(g, p, offset);
    auto& gp = r.group_partition(g, p);
    const uint32_t deliveries = lease_deliveries(retry);
    const auto reason = retry_reason(retry);
    // The mover's lease keeps the retry's counts: a revocation of it (the
    // mover died) is judged like the message's last delivery.
    const uint64_t moving = lease_word(LeaseKind::leased, offset, mover_id, lease_counted(retry), lease_handoffs(retry));
    if (!lease_move_begin(e, retry, moving, now_mono + uint64_t{r.params().lease_ms} * 1'000'000))
        return DeadLetterResult::lost;

    // Expired (expiry.hpp): in the DLQ already, once for every group, or being put there.
    if (const uint64_t s = partition_ring(r, p).state(offset).load(std::memory_order_acquire);
        slot_is(s, offset) && slot_kind(s) == SlotKind::expired) {
        if (slot_owner(s) != 0) {
            lease_move_give_back(e, moving, retry);
            return DeadLetterResult::lost;
        }
        if (!lease_move_finish(e, offset, moving)) return DeadLetterResult::lost;
        gp.skipped.fetch_add(1, std::memory_order_relaxed);
        advance_floor(r, g, p);
        if (layout::group_kind(r.group(g).state.load(std::memory_order_acquire)) == static_cast<uint8_t>(GroupKind::keyed))
            keyed_dead_lettered(r, g, p, offset, mover_id);
        return DeadLetterResult::moved;
    }
    const RingRef dlq = dlq_ring(r);
    uint64_t pos = 0;
    uint64_t limit = 0;  // read the DLQ's head
    // try_claim case (4), full, or (6), corrupt: the message stays in its partition, counted as blocked.
    if (try_claim(dlq, mover_id, limit, pos) != ClaimResult::claimed) {
        lease_move_give_back(e, moving, retry);
        gp.dlq_blocked.fetch_add(1, std::memory_order_relaxed);
        r.dlq().blocked.fetch_add(1, std::memory_order_relaxed);
        return DeadLetterResult::dlq_full;
    }
    copy_to_dlq(r, g, p, offset, pos, reason, deliveries);
    // Still ours after the copy? An RMW, not a load: if a drop_oldest producer
    // revokes the move-lease after this, its CAS reads from ours, so our copy
    // happened before it overwrites the slot (ring/drop_oldest.hpp (3)).
    if (!lease_move_still_held(e, moving)) {
        abort_claim(dlq, pos);  // dropped under us: the copy may be torn
        return DeadLetterResult::lost;
    }
    if (!commit(dlq, pos)) return DeadLetterResult::lost;  // reaped meanwhile: the reaper redoes it

    if (!lease_move_finish(e, offset, moving))
        return DeadLetterResult::lost;  // our move-lease was revoked: the copy stays (at-least-once)
    gp.dead_lettered.fetch_add(1, std::memory_order_relaxed);
    r.dlq().dead_lettered.fetch_add(1, std::memory_order_relaxed);
    advance_floor(r, g, p);
    sys::ring_doorbell(r.header().dlq_doorbell, r.header().dlq_waiters);
    // Finished: in a keyed group the key's next message may go (after the finish's RMW: keyed_lane.hpp).
    if (layout::group_kind(r.group(g).state.load(std::memory_order_acquire)) == static_cast<uint8_t>(GroupKind::keyed))
        keyed_dead_lettered(r, g, p, offset, mover_id);
    return DeadLetterResult::moved;
}

}  // namespace shmq::ring
