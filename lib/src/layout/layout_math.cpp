#include "layout/layout_math.hpp"

namespace shmq::layout {

namespace {

// header, payload, key, extension, then the 8-byte claim word at the very end.
uint32_t slot_size_for(uint32_t max_message, std::size_t header, uint32_t ext_size) {
    return static_cast<uint32_t>(align_up(header + align_up(max_message, 8) + kMaxKeyBytes + ext_size + 8, kCacheLine));
}

std::string range_error(const char* what, uint64_t value, uint64_t lo, uint64_t hi) {
    return std::string(what) + " " + std::to_string(value) + " is out of range; use " + std::to_string(lo) + ".." +
           std::to_string(hi);
}

}  // namespace

std::optional<std::string> check_and_derive(QueueParams& p) {
    if (p.partitions < 1 || p.partitions > kMaxPartitions) return range_error("partitions", p.partitions, 1, kMaxPartitions);
    if (p.capacity < kMinCapacity || p.capacity > kMaxCapacity || !is_pow2(p.capacity))
        return "capacity " + std::to_string(p.capacity) + " must be a power of two in " + std::to_string(kMinCapacity) +
               ".." + std::to_string(kMaxCapacity);
    if (p.max_message < 1 || p.max_message > kMaxMessageBytes) return range_error("max-message", p.max_message, 1, kMaxMessageBytes);
    if (p.lease_ms < 1 || p.lease_ms > 24u * 3600 * 1000) return range_error("lease-ms", p.lease_ms, 1, 24u * 3600 * 1000);
    if (p.max_deliveries < 1 || p.max_deliveries > kMaxDeliveries) return range_error("max-deliveries", p.max_deliveries, 1, kMaxDeliveries);
    if (p.dlq_capacity < kMinCapacity || p.dlq_capacity > kMaxCapacity || !is_pow2(p.dlq_capacity))
        return "dlq-capacity " + std::to_string(p.dlq_capacity) + " must be a power of two in " +
               std::to_string(kMinCapacity) + ".." + std::to_string(kMaxCapacity);
    if (p.max_groups < 1 || p.max_groups > kMaxGroups) return range_error("max-groups", p.max_groups, 1, kMaxGroups);
    if (p.max_participants < 1 || p.max_participants > kMaxParticipants)
        return range_error("max-participants", p.max_participants, 1, kMaxParticipants);
    if (p.on_full > 3) return "on-full " + std::to_string(p.on_full) + " is unknown";
    if (p.high_watermark_pct > 100) return range_error("high-watermark", p.high_watermark_pct, 0, 100);
    if (p.fsync > 2) return "fsync " + std::to_string(p.fsync) + " is unknown";
    if (p.journal > 1) return "journal " + std::to_string(p.journal) + " is unknown";
    if (p.journal == 0 && (p.retain_bytes != 0 || p.retain_ms != 0)) return "retain-bytes/retain-ms need a journal";
    if (p.on_full == 2) {  // OnFull::spill
        if (p.spill_capacity < kMinCapacity || p.spill_capacity > kMaxCapacity || !is_pow2(p.spill_capacity))
            return "spill-buffer " + std::to_string(p.spill_capacity) + " must be a power of two in " +
                   std::to_string(kMinCapacity) + ".." + std::to_string(kMaxCapacity);
    } else if (p.spill_capacity != 0) {
        return "spill-buffer is only for on-full spill";
    }
    if ((p.mode & ~0777u) != 0) return "mode must be permission bits (e.g. 0600 or 0660)";
    if (p.dedup_window_ms > kMaxDedupWindowMs) return range_error("dedup-window-ms", p.dedup_window_ms, 0, kMaxDedupWindowMs);
    if (p.dedup_content > 1) return "dedup-content " + std::to_string(p.dedup_content) + " is unknown";
    if (p.dedup_window_ms == 0 && (p.dedup_capacity != 0 || p.dedup_content != 0))
        return "dedup-capacity/dedup-content need a dedup window (dedup-window-ms > 0)";
    if (p.dedup_window_ms != 0 && (p.dedup_capacity < 1 || p.dedup_capacity > kMaxDedupCapacity))
        return range_error("dedup-capacity", p.dedup_capacity, 1, kMaxDedupCapacity);
    if (p.keyed_groups > p.max_groups) return range_error("keyed-groups", p.keyed_groups, 0, p.max_groups);
    if (p.ttl_action > 1) return "ttl-action " + std::to_string(p.ttl_action) + " is unknown";
    if (p.history > 1) return "history " + std::to_string(p.history) + " is unknown";
    if (p.message_ttl_ms != 0 && p.on_full == 3)  // OnFull::drop_oldest
        return "message-ttl-ms is not for on-full drop-oldest (it drops old messages itself)";
    if (p.delay_capacity > kMaxDelayCapacity) return range_error("delay-capacity", p.delay_capacity, 0, kMaxDelayCapacity);
    p.ext_size = p.dedup_window_ms != 0 ? static_cast<uint32_t>(sizeof(SlotExtension)) : 0;
    p.slot_size = slot_size_for(p.max_message, kSlotHeaderBytes, p.ext_size);
    p.dlq_slot_size = slot_size_for(p.max_message, kDlqSlotHeaderBytes, p.ext_size);
    // Total size, with overflow guarded by the per-field limits (all products fit 64 bits).
    SectionTable s = compute_sections(p);
    if (s.end > kMaxRegionBytes)
        return "the region would need " + std::to_string(s.end >> 20) + " MiB (limit " + std::to_string(kMaxRegionBytes >> 20) +
               " MiB); lower partitions, capacity, max-message, max-groups or delay-capacity";
    return std::nullopt;
}

std::optional<std::string> check_params(const QueueParams& params) {
    QueueParams copy = params;
    if (auto err = check_and_derive(copy)) return err;
    if (copy.slot_size != params.slot_size || copy.dlq_slot_size != params.dlq_slot_size || copy.ext_size != params.ext_size)
        return std::string("slot sizes do not match the parameters");
    return std::nullopt;
}

SectionTable compute_sections(const QueueParams& p) {
    SectionTable s{};
    uint64_t at = sizeof(RegionHeader);
    auto take = [&](uint64_t bytes) {
        uint64_t start = align_up(at, kSectionAlign);
        at = start + bytes;
        return start;
    };
    const uint64_t groups = p.max_groups, parts = p.partitions, cap = p.capacity;
    s.participants = take(uint64_t{p.max_participants} * sizeof(ParticipantEntry));
    s.groups = take(groups * sizeof(GroupEntry));
    s.group_partitions = take(groups * parts * sizeof(GroupPartition));
    s.partitions = take(parts * sizeof(PartitionControl));
    s.leases = take(groups * parts * cap * sizeof(LeaseEntry));
    s.slots = take(parts * cap * p.slot_size);
    s.dlq_control = take(sizeof(DlqControl));
    s.dlq_slots = take(uint64_t{p.dlq_capacity} * p.dlq_slot_size);
    s.bridges = take(kMaxBridges * sizeof(BridgeEntry));
    s.spill_slots = take(parts * p.spill_capacity * p.slot_size);
    s.dedup = take(p.dedup_window_ms == 0 ? 0
                                          : kDedupGenerations * sizeof(DedupGeneration) + kDedupStripes * sizeof(DedupStripe) +
                                                kDedupGenerations * dedup_entries(p) * sizeof(DedupEntry));
    s.tx = take(uint64_t{p.max_participants} * sizeof(TxEntry));
    s.keyed = take(uint64_t{p.keyed_groups} * parts * keyed_lane_bytes(cap));
    s.delayed = take(delay_store_bytes(p.delay_capacity, p.max_message, p.ext_size));
    s.tx_outputs = take(uint64_t{p.max_participants} * kMaxTxOutputs * sizeof(TxOutput));
    s.end = align_up(at, kSectionAlign);
    return s;
}

}  // namespace shmq::layout
