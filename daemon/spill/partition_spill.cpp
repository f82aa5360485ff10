#include "partition_spill.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "log.hpp"
#include "record_dedup.hpp"
#include "recovery.hpp"
#include "slot_dedup_id.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/spill_protocol.hpp"

namespace shmq::daemon {

namespace {
constexpr uint64_t kRetryAfterErrorNs = 1'000'000'000;
constexpr uint64_t kMaxDrainPerTurn = 4096;  // keeps one busy partition from starving the loop
constexpr uint64_t kSpillSegmentBytes = 4u << 20;

}  // namespace

PartitionSpill::PartitionSpill(detail::Region& region, uint32_t partition, const detail::Participant& me,
                               std::string spill_root, std::string dir_name)
    : r_(region),
      p_(partition),
      me_(me),
      spill_root_(std::move(spill_root)),
      dir_name_(std::move(dir_name)),
      label_(region.name() + "/p" + std::to_string(partition) + " spill"),
      ring_(ring::partition_ring(region, partition)),
      staging_(ring::spill_ring(region, partition)) {
    broken_ = !restart(0);
}

PartitionSpill::~PartitionSpill() = default;

// The staging state word at drained_ too: after shmqd's ask
// (daemon_doorbell.hpp) it is what shows a staged commit there.
bool PartitionSpill::active() const {
    const auto& pc = r_.partition(p_);
    return ring::spill_is_active(pc) || disk_messages_ > 0 ||
           drained_ < layout::spill_seq(pc.spill_tail.load(std::memory_order_acquire)) ||
           ring::slot_is(detail::recheck(staging_.state(drained_)), drained_);
}

void PartitionSpill::set_refilled(uint64_t seq) {
    auto& pc = r_.partition(p_);
    if (seq > pc.spill_refilled.load(std::memory_order_relaxed))  // only we write it
        pc.spill_refilled.store(seq, std::memory_order_release);
}

bool PartitionSpill::restart(uint64_t now_mono) {
    writer_.reset();
    reader_.reset();
    auto& pc = r_.partition(p_);
    const uint64_t tail_seq = layout::spill_seq(pc.spill_tail.load(std::memory_order_acquire));
    // What a previous shmqd refilled but did not get to record: the marks of
    // refilled slots (shmq/internal/spill_protocol.hpp). Every slot, released or not:
    // while spilling only shmqd publishes, so the slot of the last refill is
    // not overwritten before we read it; older marks are lower.
    // A mark counts only when the slot's claim is the committed lap's: a
    // shmqd killed between writing the header and the commit left a mark
    // for a lap that never was (its claim word is newer than the state).
    for (uint64_t i = 0; i < ring_.capacity; ++i) {
        const uint64_t st = ring_.state(i).load(std::memory_order_acquire);
        if (ring::slot_kind(st) != ring::SlotKind::committed) continue;
        if (ring::slot_tag(ring_.claim(i).load(std::memory_order_acquire)) != ring::slot_tag(st)) continue;
        const auto& h = *reinterpret_cast<const layout::SlotHeader*>(ring_.base(i));
        if ((h.flags & ring::kSlotFlagRefilled) != 0 && h.reserved < tail_seq) set_refilled(h.reserved + 1);
    }
    const uint64_t refilled = pc.spill_refilled.load(std::memory_order_relaxed);

    std::string error;
    dir_ = disk::open_partition_dir(spill_root_, dir_name_, p_, /*create=*/true, error);
    if (!dir_.valid()) {
        log(Level::error, label_ + ": " + error + "; spilled messages wait in staging, retrying in 1 s");
        pc.spill_status.store(static_cast<uint32_t>(layout::SpillStatus::disk_error), std::memory_order_relaxed);
        retry_at_ns_ = now_mono + kRetryAfterErrorNs;
        return false;
    }
    disk::RecoveryOptions opts;
    opts.partition = p_;
    opts.queue_epoch = r_.epoch();
    opts.log = [this](const std::string& line) { log(Level::warn, label_ + ": " + line); };
    // Past spill_head, what is on disk was in flight when the last writer
    // stopped and may have landed out of order (a later batch without an
    // earlier one): cut it; staging still holds those sequences.
    const uint64_t head = pc.spill_head.load(std::memory_order_acquire);
    if (!disk::truncate_from(dir_.get(), head, opts.log, error)) {
        log(Level::error, label_ + ": " + error + "; retrying in 1 s");
        pc.spill_status.store(static_cast<uint32_t>(layout::SpillStatus::disk_error), std::memory_order_relaxed);
        retry_at_ns_ = now_mono + kRetryAfterErrorNs;
        return false;
    }
    disk_messages_ = disk_bytes_ = 0;
    const disk::RecoveryReport report = disk::recover_partition(dir_.get(), opts, [&](const disk::RecordView& rec) {
        if (rec.offset >= refilled && rec.offset < tail_seq) {
            ++disk_messages_;
            disk_bytes_ += rec.size;
        }
    });
    if (report.corrupt > 0)
        log(Level::error, label_ + ": " + std::to_string(report.corrupt) +
                              " corrupt records skipped on recovery; those messages are lost");
    // Below spill_head everything is on disk or in the ring, below refilled
    // in the ring; the rest is in staging.
    drained_ = std::max(head, refilled);
    disk::LogFn debug;
    if (enabled(Level::debug)) debug = [](const std::string& line) { log(Level::debug, line); };
    reader_ = std::make_unique<SpillReader>(dir_.get(), label_, opts.log, debug);
    if (disk_messages_ == 0 && report.records > 0) remove_segments();  // all refilled already
    if (disk_messages_ > 0 || report.records > 0)
        log(Level::info, label_ + ": " + std::to_string(disk_messages_) + " messages on disk to refill from sequence " +
                             std::to_string(refilled));
    if (enabled(Level::debug))
        log(Level::debug, label_ + ": restart: refilled " + std::to_string(refilled) + ", spill_head " +
                              std::to_string(head) + ", on disk below " +
                              std::to_string(report.next_offset) + " (" + std::to_string(report.records) +
                              " records), staged below " + std::to_string(tail_seq) + "; draining from " +
                              std::to_string(drained_));
    publish_stats();
    return true;
}

bool PartitionSpill::open_writer() {
    disk::WriterOptions opts;
    opts.fsync = r_.options().fsync;
    opts.segment_bytes = kSpillSegmentBytes;
    opts.partition = p_;
    opts.queue_epoch = r_.epoch();
    opts.label = label_;
    std::string error;
    writer_ = disk::SegmentWriter::open(dir_.get(), opts, drained_, error);
    if (!writer_) log(Level::error, label_ + ": " + error);
    return writer_ != nullptr;
}

bool PartitionSpill::into_ring(uint64_t seq, std::span<const std::byte> key, std::span<const std::byte> id,
                               uint16_t redrives, std::span<const std::byte> payload, uint64_t publish_unix_ns,
                               bool attributes) {
    if (payload.size() > r_.params().max_message || key.size() > layout::kMaxKeyBytes ||
        id.size() > layout::kMaxDedupIdBytes)
        return false;
    uint64_t offset = 0;
    bool claimed = false;
    for (int attempt = 0; attempt < 2 && !claimed; ++attempt) {
        const auto rc = ring::try_claim(ring_, me_.id(), ring_limit_, offset);
        if (rc == ring::ClaimResult::claimed) claimed = true;  // case (1)
        // case (6) corrupt: give up; case (4) full: release what readers finished, once, then retry.
        else if (rc == ring::ClaimResult::corrupt || !ring::reclaim(r_, p_, me_.token())) return false;
    }
    if (!claimed) return false;
    std::byte* base = ring_.base(offset);
    std::memcpy(base + layout::kSlotHeaderBytes, payload.data(), payload.size());
    if (!key.empty()) std::memcpy(base + layout::kSlotHeaderBytes + r_.payload_area(), key.data(), key.size());
    auto& h = *reinterpret_cast<layout::SlotHeader*>(base);
    h.payload_len = static_cast<uint32_t>(payload.size());
    h.key_len = static_cast<uint16_t>(key.size());
    h.flags = static_cast<uint16_t>(ring::kSlotFlagRefilled | put_slot_dedup_id(r_, base, id, redrives) |
                                    (attributes ? layout::kSlotAttributes : 0));
    h.publish_unix_ns = publish_unix_ns;
    h.reserved = seq;
    if (!ring::commit(ring_, offset)) return false;  // aborted: only if we were taken for dead
    detail::wake_consumers(r_);
    return true;
}

int PartitionSpill::drain(uint64_t now_mono) {
    auto& pc = r_.partition(p_);
    const uint64_t tail_seq = layout::spill_seq(pc.spill_tail.load(std::memory_order_acquire));
    int work = 0;
    for (uint64_t n = 0; drained_ < tail_seq && n < kMaxDrainPerTurn; ++n) {
        const uint64_t s = drained_;
        const uint64_t st = staging_.state(s).load(std::memory_order_acquire);  // (3) pairs with the commit
        // Open claim: wait. The reaper aborts a dead claimer's; a prepared one
        // (a transaction's) waits for its decision (spill_protocol.hpp (3)).
        if (ring::slot_is(st, s - staging_.capacity)) break;
        if (!ring::slot_is(st, s) || ring::slot_kind(st) != ring::SlotKind::committed) {
            if (!ring::slot_is(st, s) || ring::slot_kind(st) != ring::SlotKind::aborted)
                log(Level::error, label_ + ": staging slot of sequence " + std::to_string(s) +
                                      " holds an impossible state (tag " + std::to_string(ring::slot_tag(st)) +
                                      ", kind " + std::to_string(static_cast<int>(ring::slot_kind(st))) +
                                      "); skipped");
            ++drained_;
            ++work;
            continue;
        }
        const auto& h = *reinterpret_cast<const layout::SlotHeader*>(staging_.base(s));
        const uint32_t len = h.payload_len;
        const uint16_t key_len = h.key_len;
        if (len > r_.params().max_message || key_len > layout::kMaxKeyBytes) {
            log(Level::error, label_ + ": staged message " + std::to_string(s) + " has bad lengths; skipped");
            ++drained_;
            continue;
        }
        const std::byte* base = staging_.base(s);
        const std::span<const std::byte> payload(base + layout::kSlotHeaderBytes, len);
        const std::span<const std::byte> key(base + layout::kSlotHeaderBytes + r_.payload_area(), key_len);
        const std::span<const std::byte> id = slot_dedup_id(r_, base);
        const bool attributes = (h.flags & layout::kSlotAttributes) != 0;  // the block is in `payload`: it goes along
        if (disk_messages_ == 0) {  // nothing on disk: everything below s is in the ring
            set_refilled(s);
            if (into_ring(s, key, id, slot_redrives(r_, base), payload, h.publish_unix_ns, attributes)) {
                set_refilled(s + 1);
                ++drained_;
                ++work;
                continue;
            }
        }
        if (!writer_ && !open_writer()) {
            on_write_error(now_mono);
            break;
        }
        std::array<std::byte, layout::kMaxKeyBytes + layout::kMaxDedupIdBytes> key_id;
        const disk::WriteStatus ws =
            writer_->append(s, disk::join_key(key_id, key, id), payload, h.publish_unix_ns,
                            disk::record_flags(id.size(), slot_redrives(r_, base), attributes));
        if (ws == disk::WriteStatus::busy) {
            work += writer_->poll();
            break;
        }
        if (ws != disk::WriteStatus::ok) {  // disk full, I/O error (or a bug: bad_argument)
            on_write_error(now_mono);
            break;
        }
        if (pc.spill_status.load(std::memory_order_relaxed) != 0) {
            pc.spill_status.store(0, std::memory_order_relaxed);
            log(Level::info, label_ + ": writing to disk again");
        }
        ++disk_messages_;
        disk_bytes_ += disk::record_size(key_len + id.size(), len);
        ++drained_;
        ++work;
    }
    return work;
}

int PartitionSpill::refill() {
    auto& pc = r_.partition(p_);
    int work = 0;
    while (disk_messages_ > 0) {
        const uint64_t durable = writer_ ? writer_->durable_offset() : UINT64_MAX;
        const uint64_t current = writer_ ? writer_->current_segment_first_offset() : UINT64_MAX;
        const uint64_t refilled = pc.spill_refilled.load(std::memory_order_relaxed);
        const disk::RecordView* rec = reader_->peek(refilled, durable, current);
        if (rec == nullptr) {
            // Caught up with the segment being written: let the writer start
            // a new one, so this one is read whole once more, not repeatedly.
            if (writer_) writer_->roll_at_next_append();
            break;
        }
        const auto key_id = disk::split_key(rec->flags, rec->key);
        if (!key_id || key_id->key.size() > layout::kMaxKeyBytes) {
            log(Level::error, label_ + ": spilled message " + std::to_string(rec->offset) +
                                  " has a bad key or dedup id length; skipped");
        } else if (!into_ring(rec->offset, key_id->key, key_id->id, key_id->redrives, rec->payload,
                              rec->publish_unix_ns, (rec->flags & disk::kRecordAttributes) != 0)) {
            break;  // ring full
        }
        set_refilled(rec->offset + 1);
        --disk_messages_;
        disk_bytes_ -= std::min(disk_bytes_, rec->size);
        ++work;
    }
    return work;
}

void PartitionSpill::remove_segments() {
    for (const auto& seg : disk::list_segments(dir_.get(), {})) ::unlinkat(dir_.get(), seg.name.c_str(), 0);
    reader_->forget();
}

void PartitionSpill::on_write_error(uint64_t now_mono) {
    auto& pc = r_.partition(p_);
    const bool full = writer_ && writer_->status() == disk::WriteStatus::disk_full;
    std::string why = writer_ ? writer_->error() : std::string("cannot open a segment writer");
    if (why.empty()) why = "a write was refused (sequence " + std::to_string(drained_) + ")";
    pc.spill_status.store(static_cast<uint32_t>(full ? layout::SpillStatus::disk_full : layout::SpillStatus::disk_error),
                          std::memory_order_relaxed);
    log(Level::error, label_ + ": " + why + (full ? "; producers get `overloaded` once staging fills; free space in the data dir"
                                                 : "; producers get `overloaded` once staging fills") +
                          " (retrying in 1 s)");
    writer_.reset();  // waits for its writes in flight
    broken_ = true;
    retry_at_ns_ = now_mono + kRetryAfterErrorNs;
}

void PartitionSpill::publish_stats() {
    auto& pc = r_.partition(p_);
    pc.spill_disk_messages.store(disk_messages_, std::memory_order_relaxed);
    pc.spill_disk_bytes.store(disk_bytes_, std::memory_order_relaxed);
}

int PartitionSpill::run(uint64_t now_mono) {
    if (broken_) {
        if (now_mono < retry_at_ns_) return 0;
        broken_ = false;
        if (!restart(now_mono)) {
            broken_ = true;
            return 0;
        }
    }
    auto& pc = r_.partition(p_);
    int work = drain(now_mono);
    if (broken_) {
        publish_stats();
        return work;
    }
    if (writer_) {
        work += writer_->poll();
        if (writer_->status() != disk::WriteStatus::ok) {
            on_write_error(now_mono);
            publish_stats();
            return work;
        }
    }
    // (3) spill_head: past what is durable on disk or in the ring.
    uint64_t head = drained_;
    if (writer_ && writer_->durable_offset() < writer_->next_offset()) head = std::min(head, writer_->durable_offset());
    if (head > pc.spill_head.load(std::memory_order_relaxed)) pc.spill_head.store(head, std::memory_order_release);
    work += refill();
    if (disk_messages_ == 0) {
        set_refilled(drained_);  // nothing on disk: everything below drained_ is in the ring or was aborted
        if (writer_ && writer_->batches_in_flight() == 0) {
            writer_.reset();
            remove_segments();
        }
        if (drained_ == layout::spill_seq(pc.spill_tail.load(std::memory_order_acquire)))
            ring::try_deactivate_spill(r_, p_, me_.token());  // (4)
    }
    publish_stats();
    return work;
}

}  // namespace shmq::daemon
