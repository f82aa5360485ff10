// A mapped, validated region: the Boost.Interprocess objects, a process-local
// copy of the creation parameters (never re-read from shared memory: a peer
// could change them under us), and typed accessors for every section.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shmq/internal/commit_barrier.hpp"
#include "shmq/internal/daemon_doorbell.hpp"
#include "shmq/internal/layout.hpp"
#include "shmq/shmq.hpp"
#include "shmq/internal/futex.hpp"

namespace shmq::detail {

enum class Access { read_write, read_only };

// A group that exists from a region's creation on (replay regions, and a
// queue recreated from its journal): its floors are the partitions' bases.
struct InitialGroup {
    std::string name;
    GroupKind kind = GroupKind::shared;
    layout::ReplayState replay = layout::ReplayState::none;
};

// An id of the dedup window to put back as committed before the region is
// published (a queue recreated from its journal: dedup::restore_committed,
// which wants no concurrent adder). hash: dedup::hash_id of the id bytes.
struct RestoredDedupId {
    uint64_t hash_a = 0;
    uint32_t hash_b = 0;
    uint32_t partition = 0;
    uint64_t offset = 0;   // a spill sequence when staged
    uint64_t unix_ms = 0;  // publish time (CLOCK_REALTIME)
    bool staged = false;
};

// A delayed message from shmqd's snapshot of the delay store (layout.hpp, DelayStore).
struct RestoredDelayed {
    uint64_t due_unix_ns = 0;
    uint64_t sent_unix_ns = 0;
    uint16_t flags = 0;
    uint32_t partition = 0;  // explicit partition + 1; 0: none
    std::string payload;     // payload_len bytes as stored (an attribute block first when flags say so)
    std::string key;
    std::string id;
};

// How a region is created beyond its options (default: a fresh queue).
struct CreateSpec {
    std::string object;             // shared-memory object name; empty: "shmq.<name>"
    uint64_t epoch = 0;             // 0: a new random epoch
    std::vector<uint64_t> base;     // per partition: first offset (head = tail = base); empty: all 0
    std::vector<uint64_t> replay_end;  // per partition: PartitionControl::replay_end; empty: 0
    // on_full=spill, per partition: spill sequences [first, end) on disk to
    // refill before anything else (a queue restored with its spill backlog);
    // staging then starts at `end`. Empty: none.
    std::vector<std::pair<uint64_t, uint64_t>> spill_backlog;
    std::vector<InitialGroup> groups;
    // Dedup queues: ids published within the window; older ones are left out.
    std::vector<RestoredDedupId> dedup_ids;
    // Delayed messages to put back in the delay store (a queue recreated
    // from its journal: the snapshot shmqd kept). Beyond delay_capacity: left out.
    std::vector<struct RestoredDelayed> delayed;
    // The region's group (shmq create --group): it is owner-only until it
    // has been given to this gid, then gets options.mode. Empty: the creator's.
    std::optional<uint32_t> gid;
    // A replay region (history delivered again): TTLs do not apply to it.
    bool history = false;
};

class Region {
public:
    static std::shared_ptr<Region> create(std::string_view name, const QueueOptions& options,
                                          const CreateSpec& spec = {});
    // wait_for_creator: give a concurrent create up to 2 s to publish the
    // header. The daemon passes false: it must not stall its loop, and retries.
    // `object`: the shared-memory object (empty: "shmq.<name>"), for replay regions.
    static std::shared_ptr<Region> open(std::string_view name, Access access = Access::read_write,
                                        bool wait_for_creator = true, std::string_view object = {});
    ~Region();
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

    const std::string& name() const noexcept { return name_; }
    const layout::QueueParams& params() const noexcept { return params_; }
    const layout::SectionTable& sections() const noexcept { return sections_; }
    const QueueOptions& options() const noexcept { return options_; }
    uint64_t size() const noexcept { return size_; }
    uint64_t epoch() const noexcept { return epoch_; }
    bool read_only() const noexcept { return access_ == Access::read_only; }
    // Descriptor our participants hold their OFD lock bytes through.
    int lock_fd() const noexcept { return lock_fd_; }
    // A second open file description, for probing others' locks (OFD locks
    // held through lock_fd() would not conflict with probes through it).
    int probe_fd() const noexcept { return probe_fd_; }

    uint32_t partitions() const noexcept { return params_.partitions; }
    uint32_t capacity() const noexcept { return params_.capacity; }
    uint64_t mask() const noexcept { return params_.capacity - 1; }
    uint32_t max_groups() const noexcept { return params_.max_groups; }
    uint32_t max_participants() const noexcept { return params_.max_participants; }

    layout::RegionHeader& header() const noexcept { return *reinterpret_cast<layout::RegionHeader*>(base_); }
    layout::Lifecycle lifecycle() const noexcept {
        return static_cast<layout::Lifecycle>(header().lifecycle.load(std::memory_order_acquire));
    }
    // No longer live: deleted, removed, or found damaged (shmq/internal/damage.hpp).
    bool deleted() const noexcept {
        return header().lifecycle.load(std::memory_order_relaxed) != static_cast<uint32_t>(layout::Lifecycle::live);
    }
    // shmqd found it damaged, or the lifecycle word holds no lifecycle at all
    // (overwritten): nothing is sent or delivered any more.
    bool damaged() const noexcept {
        const auto life = lifecycle();
        return life != layout::Lifecycle::live && life != layout::Lifecycle::deleted &&
               life != layout::Lifecycle::region_removed;
    }
    // What a call on a region that is no longer live answers.
    Errc gone_error() const noexcept { return damaged() ? Errc::region_corrupt : Errc::queue_deleted; }

    // Index arguments must be in range; callers check untrusted ones with
    // valid_participant / valid_group first.
    bool valid_participant(uint64_t index) const noexcept { return index < params_.max_participants; }
    bool valid_group(uint64_t index) const noexcept { return index < params_.max_groups; }
    layout::ParticipantEntry& participant(uint32_t index) const noexcept {
        return at<layout::ParticipantEntry>(sections_.participants + uint64_t{index} * sizeof(layout::ParticipantEntry));
    }
    layout::GroupEntry& group(uint32_t g) const noexcept {
        return at<layout::GroupEntry>(sections_.groups + uint64_t{g} * sizeof(layout::GroupEntry));
    }
    layout::GroupPartition& group_partition(uint32_t g, uint32_t p) const noexcept {
        return at<layout::GroupPartition>(sections_.group_partitions +
                                          (uint64_t{g} * params_.partitions + p) * sizeof(layout::GroupPartition));
    }
    layout::PartitionControl& partition(uint32_t p) const noexcept {
        return at<layout::PartitionControl>(sections_.partitions + uint64_t{p} * sizeof(layout::PartitionControl));
    }
    layout::LeaseEntry& lease(uint32_t g, uint32_t p, uint64_t offset) const noexcept {
        uint64_t index = (uint64_t{g} * params_.partitions + p) * params_.capacity + (offset & mask());
        return at<layout::LeaseEntry>(sections_.leases + index * sizeof(layout::LeaseEntry));
    }
    std::byte* slot_base(uint32_t p, uint64_t offset) const noexcept {
        return base_ + sections_.slots + (uint64_t{p} * params_.capacity + (offset & mask())) * params_.slot_size;
    }
    layout::SlotHeader& slot(uint32_t p, uint64_t offset) const noexcept {
        return *reinterpret_cast<layout::SlotHeader*>(slot_base(p, offset));
    }
    std::byte* slot_payload(uint32_t p, uint64_t offset) const noexcept {
        return slot_base(p, offset) + layout::kSlotHeaderBytes;
    }
    std::byte* slot_key(uint32_t p, uint64_t offset) const noexcept {
        return slot_payload(p, offset) + payload_area();
    }
    layout::BridgeEntry& bridge(uint32_t index) const noexcept {  // index < layout::kMaxBridges
        return at<layout::BridgeEntry>(sections_.bridges + uint64_t{index} * sizeof(layout::BridgeEntry));
    }
    layout::DlqControl& dlq() const noexcept { return at<layout::DlqControl>(sections_.dlq_control); }
    std::byte* dlq_slot_base(uint64_t position) const noexcept {
        return base_ + sections_.dlq_slots + (position & (params_.dlq_capacity - 1)) * params_.dlq_slot_size;
    }
    layout::DlqSlotHeader& dlq_slot(uint64_t position) const noexcept {
        return *reinterpret_cast<layout::DlqSlotHeader*>(dlq_slot_base(position));
    }
    std::byte* dlq_payload(uint64_t position) const noexcept { return dlq_slot_base(position) + layout::kDlqSlotHeaderBytes; }
    std::byte* dlq_key(uint64_t position) const noexcept { return dlq_payload(position) + payload_area(); }
    layout::SlotExtension* dlq_extension(uint64_t position) const noexcept {
        return params_.ext_size != 0 ? reinterpret_cast<layout::SlotExtension*>(dlq_key(position) + layout::kMaxKeyBytes)
                                     : nullptr;
    }
    // Staging ring of partition p (on_full=spill only: spill_capacity() > 0).
    uint32_t spill_capacity() const noexcept { return params_.spill_capacity; }
    std::byte* spill_slot_base(uint32_t p, uint64_t seq) const noexcept {
        return base_ + sections_.spill_slots +
               (uint64_t{p} * params_.spill_capacity + (seq & (params_.spill_capacity - 1))) * params_.slot_size;
    }
    uint64_t payload_area() const noexcept { return (uint64_t{params_.max_message} + 7) & ~uint64_t{7}; }
    // From a slot's start to its extension area (QueueParams::ext_size bytes).
    uint64_t ext_offset() const noexcept { return layout::kSlotHeaderBytes + payload_area() + layout::kMaxKeyBytes; }
    layout::SlotExtension* slot_extension(std::byte* slot_base) const noexcept {
        return params_.ext_size != 0 ? reinterpret_cast<layout::SlotExtension*>(slot_base + ext_offset()) : nullptr;
    }
    // The dedup table (sections.dedup; only when params().dedup_window_ms != 0).
    bool dedup_on() const noexcept { return params_.dedup_window_ms != 0; }
    layout::DedupGeneration& dedup_generation(uint32_t g) const noexcept {  // g < kDedupGenerations
        return at<layout::DedupGeneration>(sections_.dedup + uint64_t{g} * sizeof(layout::DedupGeneration));
    }
    layout::DedupStripe& dedup_stripe(uint32_t s) const noexcept {  // s < kDedupStripes
        return at<layout::DedupStripe>(sections_.dedup + layout::kDedupGenerations * sizeof(layout::DedupGeneration) +
                                       uint64_t{s} * sizeof(layout::DedupStripe));
    }
    layout::DedupEntry& dedup_entry(uint32_t g, uint64_t index) const noexcept {  // index < dedup_entries
        return at<layout::DedupEntry>(sections_.dedup + layout::kDedupGenerations * sizeof(layout::DedupGeneration) +
                                      layout::kDedupStripes * sizeof(layout::DedupStripe) +
                                      (uint64_t{g} * dedup_entries_ + index) * sizeof(layout::DedupEntry));
    }
    uint64_t dedup_entries() const noexcept { return dedup_entries_; }
    // Keyed lane `lane` (< keyed_groups) of partition p (layout.hpp, KeyedLane).
    std::byte* keyed_lane_base(uint32_t lane, uint32_t p) const noexcept {
        return base_ + sections_.keyed +
               (uint64_t{lane} * params_.partitions + p) * layout::keyed_lane_bytes(params_.capacity);
    }
    // The delay store (sections.delayed; only when params().delay_capacity != 0; layout.hpp, DelayStore).
    uint32_t delay_capacity() const noexcept { return params_.delay_capacity; }
    layout::DelayStoreHeader& delay_header() const noexcept { return at<layout::DelayStoreHeader>(sections_.delayed); }
    layout::DelayHeapItem& delay_heap(uint32_t i) const noexcept {  // i < delay_capacity
        return at<layout::DelayHeapItem>(sections_.delayed + layout::delay_heap_at() + uint64_t{i} * sizeof(layout::DelayHeapItem));
    }
    uint32_t& delay_free(uint32_t i) const noexcept {  // i < delay_capacity
        return at<uint32_t>(sections_.delayed + layout::delay_free_at(params_.delay_capacity) + uint64_t{i} * 4);
    }
    std::byte* delay_entry_base(uint32_t e) const noexcept {  // e < delay_capacity
        return base_ + sections_.delayed + layout::delay_entries_at(params_.delay_capacity) +
               uint64_t{e} * layout::delay_entry_bytes(params_.max_message, params_.ext_size);
    }
    layout::DelayEntryHeader& delay_entry(uint32_t e) const noexcept {
        return *reinterpret_cast<layout::DelayEntryHeader*>(delay_entry_base(e));
    }
    // Participant `index`'s transaction record (shmq/internal/tx_protocol.hpp); index < max_participants.
    layout::TxEntry& tx_entry(uint32_t index) const noexcept {
        return at<layout::TxEntry>(sections_.tx + uint64_t{index} * sizeof(layout::TxEntry));
    }
    // Its output list: kMaxTxOutputs entries, the record's `outputs` of them in use.
    layout::TxOutput* tx_outputs(uint32_t index) const noexcept {
        return &at<layout::TxOutput>(sections_.tx_outputs +
                                     uint64_t{index} * layout::kMaxTxOutputs * sizeof(layout::TxOutput));
    }

    // Marks the region deleted (attached peers get queue_deleted) and unlinks it.
    // keep_journal: as if the host rebooted (Lifecycle::region_removed): a
    // journaled queue's shmqd recreates it from its journal.
    static void remove(std::string_view name, bool keep_journal = false);
    // The same for a region this one is (its own object name): replay regions.
    void remove_self() noexcept;

private:
    Region() = default;
    template <class T>
    T& at(uint64_t offset) const noexcept {
        return *reinterpret_cast<T*>(base_ + offset);
    }
    void adopt(boost::interprocess::shared_memory_object shm, Access access);
    void map(boost::interprocess::mode_t mode);  // maps shm_ and sets base_; a clear Error if it cannot
    void validate_and_load(bool wait_for_creator);
    void initialize(const layout::QueueParams& params, const CreateSpec& spec);

    std::string name_;
    std::string object_;  // shared-memory object name
    Access access_ = Access::read_write;
    boost::interprocess::shared_memory_object shm_;
    boost::interprocess::mapped_region map_;
    std::byte* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t epoch_ = 0;
    int lock_fd_ = -1;
    int probe_fd_ = -1;
    layout::QueueParams params_{};
    layout::SectionTable sections_{};
    uint64_t dedup_entries_ = 0;  // per generation (layout_math.hpp's dedup_entries)
    QueueOptions options_{};
};

// Bumps every doorbell of the region and wakes every sleeper (deletion, corruption).
void wake_all_sleepers(const Region& r) noexcept;

// Something became available to consumers (a commit, a retry, an ownership
// change): wake sleeping consumers, with one FUTEX_WAKE per sleep however
// often this is called (sys::ring_doorbell_once). Call after the seq_cst
// operation that made it available.
inline void wake_consumers(const Region& r) noexcept {
    auto& h = r.header();
    sys::ring_doorbell_once(h.consumer_doorbell, h.consumer_waiters, h.consumer_wanted);
}
// Rings shmqd (layout::RegionHeader::daemon_bell): a participant attached
// or left, a lease deadline came sooner, a request waits, disk work began.
// A syscall (~1 us): only on those rare events, never per message.
void ring_daemon(const Region& r) noexcept;
// After a seq_cst commit: ring shmqd if it asked to be told of the next one
// (shmq/internal/daemon_doorbell.hpp: one of the two sees the other).
inline void wake_daemon_if_asked(const Region& r) noexcept {
    if (take_ring_request(r.header().daemon_wanted)) ring_daemon(r);
}
// After publish() (commit_protocol.hpp (5): a release store, no RMW): the
// commit barrier, then the same two doorbells as above. One call per
// send_batch, after its last store, serves the whole batch.
inline void wake_after_publish(const Region& r) noexcept {
    auto& h = r.header();
    commit_barrier(h.commit_fence);
    sys::ring_doorbell_once(h.consumer_doorbell, h.consumer_waiters, h.consumer_wanted);
    if (take_ring_request(h.daemon_wanted)) ring_daemon(r);
}
// Room appeared in partition p: wake producers waiting for it.
inline void wake_producers(layout::PartitionControl& pc) noexcept {
    sys::ring_doorbell_once(pc.space_doorbell, pc.space_waiters, pc.space_wanted);
}

}  // namespace shmq::detail
