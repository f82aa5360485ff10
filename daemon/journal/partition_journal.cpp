#include "partition_journal.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>

#include "log.hpp"
#include "record_dedup.hpp"
#include "recovery.hpp"
#include "retention.hpp"
#include "slot_dedup_id.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::daemon {

namespace {
constexpr uint64_t kRetryAfterErrorNs = 1'000'000'000;
constexpr uint64_t kRetentionPeriodNs = 1'000'000'000;
constexpr uint64_t kMaxAppendsPerTurn = 4096;

}  // namespace

PartitionJournal::PartitionJournal(detail::Region& region, uint32_t partition, JournalOptions opts)
    : r_(region),
      p_(partition),
      opts_(std::move(opts)),
      label_(region.name() + "/p" + std::to_string(partition) + " journal"),
      ring_(ring::partition_ring(region, partition)) {
    broken_ = !restart(sys::monotonic_ns());
}

PartitionJournal::~PartitionJournal() = default;

// The state word at next_ too: after shmqd's ask (daemon_doorbell.hpp) it is
// what shows a commit there, whatever the tail hint says.
bool PartitionJournal::behind() const {
    return next_ < ring::load_tail(*ring_.tail) ||
           ring::slot_is(detail::recheck(ring_.state(next_)), next_) ||
           (writer_ && writer_->batches_in_flight() > 0);
}

bool PartitionJournal::restart(uint64_t now_mono) {
    writer_.reset();
    auto& pc = r_.partition(p_);
    std::string error;
    dir_ = disk::open_partition_dir(opts_.root, opts_.queue_dir, p_, /*create=*/true, error);
    const uint64_t floor = pc.journal_floor.load(std::memory_order_acquire);
    const auto log_warn = [this](const std::string& line) { log(Level::warn, label_ + ": " + line); };
    if (dir_.valid() && !disk::truncate_from(dir_.get(), floor, log_warn, error)) dir_ = {};
    if (!dir_.valid()) {
        on_error(now_mono, error);
        return false;
    }
    disk::RecoveryOptions ro;
    ro.partition = p_;
    ro.queue_epoch = r_.epoch();
    ro.log = log_warn;
    const auto report = disk::recover_partition(dir_.get(), ro, [](const disk::RecordView&) {});
    if (report.next_offset > floor)  // cannot be: everything at or past floor was cut
        log(Level::error, label_ + ": records past the journal floor remain; journaling from " +
                              std::to_string(report.next_offset));
    next_ = std::max(floor, report.next_offset);
    pc.journal_status.store(0, std::memory_order_relaxed);
    return true;
}

void PartitionJournal::on_error(uint64_t now_mono, const std::string& why) {
    auto& pc = r_.partition(p_);
    const bool full = writer_ && writer_->status() == disk::WriteStatus::disk_full;
    pc.journal_status.store(static_cast<uint32_t>(full ? layout::SpillStatus::disk_full : layout::SpillStatus::disk_error),
                            std::memory_order_relaxed);
    log(Level::error, label_ + ": " + why + "; slots wait for the journal, producers will block or be refused " +
                          (full ? "(free space in the data dir; retrying in 1 s)" : "(retrying in 1 s)"));
    writer_.reset();
    broken_ = true;
    retry_at_ns_ = now_mono + kRetryAfterErrorNs;
}

void PartitionJournal::retain(uint64_t now_mono) {
    if (now_mono < next_retention_ns_) return;
    next_retention_ns_ = now_mono + kRetentionPeriodNs;
    const auto& params = r_.params();
    const auto res = disk::apply_retention(dir_.get(), params.retain_bytes, params.retain_ms,
                                           static_cast<int64_t>(sys::unix_ns()),
                                           [this](const std::string& line) { log(Level::warn, label_ + ": " + line); },
                                           keep_from_);
    if (res.segments_removed > 0 && enabled(Level::debug))
        log(Level::debug, label_ + ": retention removed " + std::to_string(res.segments_removed) + " segment(s)");
    r_.partition(p_).journal_bytes.store(res.bytes_kept, std::memory_order_relaxed);
}

int PartitionJournal::run(uint64_t now_mono) {
    if (broken_) {
        if (now_mono < retry_at_ns_) return 0;
        broken_ = false;
        if (!restart(now_mono)) return 0;
    }
    auto& pc = r_.partition(p_);
    const uint64_t tail = ring::load_tail(*ring_.tail);
    int work = 0;
    for (uint64_t n = 0; next_ < tail && n < kMaxAppendsPerTurn; ++n) {
        const uint64_t o = next_;
        const uint64_t st = ring_.state(o).load(std::memory_order_acquire);  // pairs with the producer's commit
        if (ring::slot_is(st, o) && ring::slot_kind(st) == ring::SlotKind::aborted) {
            ++next_;
            continue;
        }
        // An expired message was published: journaled like any other (a
        // replay delivers it again: no TTL applies to history).
        if (!ring::slot_is(st, o) ||
            (ring::slot_kind(st) != ring::SlotKind::committed && ring::slot_kind(st) != ring::SlotKind::expired))
            break;  // open claim: wait
        // Stable: head stays at or below journal_floor <= o, so no producer reuses the slot.
        const auto& h = *reinterpret_cast<const layout::SlotHeader*>(ring_.base(o));
        const uint32_t len = std::min<uint32_t>(h.payload_len, r_.params().max_message);
        const uint16_t key_len = std::min<uint16_t>(h.key_len, static_cast<uint16_t>(layout::kMaxKeyBytes));
        const std::byte* base = ring_.base(o);
        if (!writer_) {
            disk::WriterOptions wo;
            wo.fsync = r_.options().fsync;
            wo.segment_bytes = opts_.segment_bytes;
            wo.partition = p_;
            wo.queue_epoch = r_.epoch();
            wo.label = label_;
            std::string error;
            writer_ = disk::SegmentWriter::open(dir_.get(), wo, next_, error);
            if (!writer_) {
                on_error(now_mono, error);
                return work;
            }
        }
        // A dedup id goes to disk after the key, the attribute block's flag in
        // the record's flags (record_dedup.hpp): restores and replays give them back.
        const std::span<const std::byte> id = slot_dedup_id(r_, base);
        std::array<std::byte, layout::kMaxKeyBytes + layout::kMaxDedupIdBytes> key_id;
        const auto key = disk::join_key(key_id, {base + layout::kSlotHeaderBytes + r_.payload_area(), key_len}, id);
        const auto ws = writer_->append(o, key, {base + layout::kSlotHeaderBytes, len}, h.publish_unix_ns,
                                        disk::record_flags(id.size(), slot_redrives(r_, base),
                                                           (h.flags & layout::kSlotAttributes) != 0));
        if (ws == disk::WriteStatus::busy) {
            work += writer_->poll();
            break;
        }
        if (ws != disk::WriteStatus::ok) {
            on_error(now_mono, writer_->error().empty() ? std::string("a write was refused") : writer_->error());
            return work;
        }
        ++next_;
        ++work;
    }
    if (writer_) {
        work += writer_->poll();
        if (writer_->status() != disk::WriteStatus::ok) {
            on_error(now_mono, writer_->error());
            return work;
        }
    }
    // journal_floor: past what is durable (release: our payload copies precede it).
    uint64_t floor = next_;
    if (writer_ && writer_->durable_offset() < writer_->next_offset()) floor = std::min(floor, writer_->durable_offset());
    if (floor > pc.journal_floor.load(std::memory_order_relaxed)) {
        pc.journal_floor.store(floor, std::memory_order_seq_cst);  // seq_cst: before the space_waiters load
        // Producers waiting for room reclaim themselves once woken.
        if (pc.space_waiters.load(std::memory_order_seq_cst) != 0) detail::wake_producers(pc);
    }
    if (dir_.valid()) retain(now_mono);
    return work;
}

}  // namespace shmq::daemon
