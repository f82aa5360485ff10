// Process-local state of one Consumer handle. Reference-counted by hand: one
// reference for the Consumer handle and one per unsettled Message (they may be
// settled after the handle is gone, from any thread). The count doubles as the
// prefetch count (in_flight()).
//
// The count is biased toward one thread, the core's *owner*: the first thread
// that takes or drops a reference (ConsumerCore::fast_thread, also the one
// that fast-ACKs). Its takes and drops need no atomic RMW:
//   refs  = kRefBias + 1 (the handle) + taken - dropped by other threads (RMWs)
//   local = taken - dropped by the owner; only the owner writes it, each time
//           inside a bracket (local_busy = 1 ... 0) around its check that it
//           still owns the count
//   in flight = refs - kRefBias - 1 + local, while the handle lives.
// The handle's release merges: fast_thread = kMerged (seq_cst), then, unless
// it runs on the owner, the revoker barrier of fast_ack.hpp and a wait for
// local_busy == 0 (the same asymmetric handshake: an owner bracket under way
// ends first, and every later one sees kMerged), then refs -= kRefBias + 1 -
// local. From then on every thread counts on refs, and whoever brings it to 0
// deletes the core. Before the merge refs stays within max_in_flight (+ a
// batch) of kRefBias: never 0.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "shmq/internal/groups.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/delay_mover.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/partition_view.hpp"

namespace shmq::detail {

struct ConsumerCore {
    std::shared_ptr<Region> region;
    Participant me;
    GroupRef group{};
    ConsumerOptions options;
    ring::DeliveryContext ctx{};
    static constexpr uint32_t kRefBias = 1u << 31;
    std::atomic<uint32_t> refs{kRefBias + 1};
    std::atomic<int64_t> local{0};         // the owner's share of the count (see above)
    std::atomic<uint32_t> local_busy{0};   // 1 while the owner changes `local`

    // Partitions this consumer takes from: all of them (shared group) or
    // the ones it owns (exclusive group).
    std::vector<uint32_t> partitions;
    std::vector<ring::PartitionView> views;  // by partition index: cached addresses for this group
    std::vector<ring::KeyedLane> lanes;      // keyed groups: by partition index, the group's key index there
    std::vector<ring::KeyedSuspects> suspects;  // keyed groups: by partition, what keyed_repair saw last
    bool keyed = false;
    bool keyed_busy = false;  // the last try_once found a lane lock taken: work may be waiting, do not sleep long
    std::vector<uint32_t> wanted;  // exclusive: assigned to us, still owned by someone else
    struct Releasing {
        uint32_t partition;
        uint64_t deadline;  // coarse monotonic ns: hand over by then even if we still hold leases
    };
    std::vector<Releasing> releasing;  // exclusive: no longer ours, still owned until handed over
    uint32_t seen_member_gen = ~0u;
    uint32_t round_robin = 0;
    uint64_t next_scan_ns = 0;       // expiry / retry scan due
    uint32_t calls_since_maintenance = 0;
    bool force_retry_scan = false;   // after a scan: look for due retries even if retry_pending says none
    uint64_t next_membership_ns = 0; // exclusive: re-check ownership and members' liveness
    bool left_group = false;         // exclusive: the handle is gone; its messages may still be settled
    uint64_t scan_interval_ns = 0;
    uint32_t max_message = 0;
    // At-most-once without drop_oldest: a pickup is given up with a store,
    // not a CAS (ring::release_own_pickup).
    bool own_pickups = false;
    uint64_t floor_every = 16;  // acks between floor updates: a power of two
    // Fast ACKs (shmq/internal/fast_ack.hpp): an exclusive group's at-least-once
    // deliveries are ACKed with stores by the owner thread (the first to take
    // or drop a reference: a thread-local address; kMerged once the handle
    // is gone); other threads CAS.
    bool fast_acks = false;
    std::atomic<const void*> fast_thread{nullptr};
    std::atomic<uint64_t>* acking = nullptr;  // ParticipantEntry::acking of this consumer
    uint64_t delivered_since_scan = 0;  // flushed to the participant entry's operations at each scan
    std::string replay_object;  // the group's replay region (shmq/internal/replay_request.hpp)

    // Replay (layout.hpp, GroupEntry): while the group replays, a consumer of
    // the same group in its replay region, delivered from first; partition
    // p of this ring waits until the replay group has acked p to replay_end.
    ConsumerCore* replay = nullptr;  // holds one reference
    uint64_t next_replay_open_ns = 0;

    ConsumerCore(std::shared_ptr<Region> r, std::string_view group_name, const ConsumerOptions& o);
    ~ConsumerCore();

    Result<Message> receive(Millis timeout) noexcept;
    // The sleeper protocol (sys/futex.hpp, commit_barrier.hpp), for receive
    // and shmq/internal/consumer_sleep.hpp: sleep_begin announces a waiter,
    // snapshots the doorbell into plan.seen, sets wanted, runs the sleeper
    // barrier, catches up (maintenance) and re-checks. True: the re-check
    // delivered `m`. Either way the caller is a registered waiter until
    // sleep_end(); in between it may futex-wait on the doorbell for plan.seen,
    // at most plan.slice_ns (the next maintenance is due then).
    struct SleepPlan {
        uint32_t seen = 0;
        int64_t slice_ns = 0;
    };
    bool sleep_begin(Message& m, SleepPlan& plan) noexcept;
    void sleep_end() noexcept;
    // The fast path. `now`: CLOCK_MONOTONIC read in this receive call, the
    // start of a lease delivered now (0: read here, once, when needed).
    // `take_ref` false: the caller takes the message's reference on this
    // core itself (receive_batch: one RMW for the batch).
    bool try_once(Message& out, uint64_t now = 0, bool take_ref = true) noexcept;
    // Periodic work (lease stamping and expiry, dead claims, membership,
    // heartbeat): when a receive finds nothing at once, and every
    // kMaintenanceEvery receives while messages flow.
    void maintenance(uint64_t now_mono) noexcept;
    void rebalance(uint64_t now_mono) noexcept;
    // The Consumer handle is gone (its Messages may live on): an exclusive
    // member gives up its partitions and leaves the group at once.
    void leave_group() noexcept;
    bool holds_leases(uint32_t p) const noexcept;  // a lease of ours in [floor, next) of p
    void give_up(uint32_t p) noexcept;               // clears p's owner token if it is ours
    void give_up_partitions() noexcept;              // exclusive: every partition we own or hand over
    void fill(Message& m, uint32_t p, const ring::Delivered& d, bool take_ref) noexcept;
    // A slot with kSlotAttributes: m's data() becomes the user payload after
    // a well-formed block, else (malformed) stays the whole stored payload,
    // with attributes_malformed(). Off fill()'s common path.
    static void fill_attributes(Message& m) noexcept;
    Status settle_ack(Message& m) noexcept;
    // Keyed groups: m's offset finished; its key's next message may go (keyed_lane.hpp).
    void finished(uint32_t p, uint64_t offset) noexcept {
        if (keyed) ring::keyed_finished(*region, views[p], lanes[p], offset, me.token());
    }
    bool on_fast_thread() noexcept;
    // S1..S4 of fast_ack.hpp for m, or (3)'s CAS when a revocation round began since its delivery.
    ring::SettleResult fast_ack(const ring::PartitionView& v, const Message& m, bool advance) noexcept;
    Status settle_nack(Message& m, Millis delay) noexcept;
    // References (see the top of this file). take_refs/release: n Messages'
    // references; release_handle: the handle's, which merges the count.
    // release and release_handle may delete the core.
    void take_refs(uint32_t n) noexcept;
    void release(uint32_t n = 1) noexcept;
    void release_handle() noexcept;
    // The owner's bracket around local += d; false: not the owner (count on
    // refs). `in_flight_after`: read inside the bracket, while the core is
    // sure to exist.
    bool add_local(int64_t d, int64_t* in_flight_after = nullptr) noexcept;
    // Messages in flight, with `refs_seen` a value of refs (a futex wait's
    // expected word), while the handle lives.
    int64_t in_flight(uint32_t refs_seen) const noexcept {
        return int64_t{refs_seen} - kRefBias - 1 + local.load(std::memory_order_relaxed);
    }
    int64_t in_flight() const noexcept { return in_flight(refs.load(std::memory_order_acquire)); }
    // false: deliver nothing now (a replay is being prepared or its region is not open yet).
    bool replay_ready() noexcept;
    bool replay_holds(uint32_t p) const noexcept;  // p's ring waits for its replay
    BatchResult receive_batch(std::span<Message> out, Millis timeout) noexcept;
    // The longest sleep before the next due delayed message may need us to move it.
    int64_t delay_slice_ns(int64_t slice_ns) const noexcept;
    // Queues with a delay store: moves due delayed messages when no shmqd
    // does (shmq/internal/delay_mover.hpp), from maintenance; null otherwise.
    // Last: the members above keep the places (and cache lines) they had.
    std::unique_ptr<delay::Mover> mover;
};

}  // namespace shmq::detail
