// The byte layout of a shmq region: the one place it is defined.
//
// A region is one POSIX shared-memory object `/dev/shm/shmq.<name>`, sized once
// at creation. It holds no pointers: every reference is an offset from the
// region base, and every offset is recomputed from the creation parameters and
// checked against the mapped size before use (see layout.cpp).
//
//   offset                      section                         size
//   0                           RegionHeader                    4096
//   sections.participants       ParticipantEntry[max_participants]  64 each
//   sections.groups             GroupEntry[max_groups]          384 each
//   sections.group_partitions   GroupPartition[max_groups][partitions]  192 each
//   sections.partitions         PartitionControl[partitions]   256 each
//   sections.leases             LeaseEntry[max_groups][partitions][capacity]  32 each
//   sections.slots              Slot[partitions][capacity]      slot_size each
//   sections.dlq_control        DlqControl                      192
//   sections.dlq_slots          DlqSlot[dlq_capacity]           dlq_slot_size each
//   sections.bridges            BridgeEntry[kMaxBridges]        256 each
//   sections.spill_slots        Slot[partitions][spill_capacity]  slot_size each (on_full=spill only)
//   sections.dedup              DedupTable                      (dedup_window_ms != 0 only)
//   sections.tx                 TxEntry[max_participants]       128 each
//   sections.tx_outputs         TxOutput[max_participants][kMaxTxOutputs]  96 each
//   sections.keyed              KeyedLane[keyed_groups][partitions]  keyed_lane_bytes(capacity) each
//   sections.delayed            DelayStore                      delay_store_bytes(params) (delay_capacity != 0 only)
//
// Every section starts on a 4096-byte boundary. docs/ARCHITECTURE.md mirrors
// this table; change both together.
//
// Versioning: bump kLayoutVersion on any change to a struct below, a state
// encoding, or the section order. An attacher refuses any other version; there
// is no in-place migration (regions do not outlive a reboot).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "shmq/shmq.hpp"  // GroupKind, Fsync: stored as their byte values

namespace shmq::layout {

constexpr uint64_t kMagic = 0x3130'5145'4d48'5300ull;  // "\0SHMEQ01" little-endian
// 14: keyed groups (KeyedLane); 15: SlotFlags::kSlotAttributes, the attribute block;
// 16: message TTL (QueueParams::message_ttl_ms/ttl_action/history, SlotKind::expired, DlqControl::expired_*);
// 17: delayed delivery (DelayStore)
constexpr uint32_t kLayoutVersion = 18;
constexpr std::size_t kCacheLine = 64;
constexpr std::size_t kSectionAlign = 4096;

// Limits of the creation parameters; layout.cpp rejects anything outside them.
constexpr uint32_t kMaxPartitions = 1024;
constexpr uint32_t kMinCapacity = 2;
constexpr uint32_t kMaxCapacity = 1u << 24;
constexpr uint32_t kMaxMessageBytes = 16u << 20;
constexpr uint32_t kMaxKeyBytes = 64;
constexpr uint32_t kMaxGroups = 256;
constexpr uint32_t kMaxParticipants = 4094;  // owner ids 1..4095 fit 12 bits
constexpr uint32_t kMaxDeliveries = 1000;    // SQS's limit; fits the lease word's 10-bit count
constexpr uint64_t kMaxRegionBytes = 64ull << 30;
constexpr std::size_t kNameMax = 64;
constexpr std::size_t kDamageReasonBytes = 184;  // RegionHeader::damage_reason, NUL-padded

static_assert(std::atomic<uint64_t>::is_always_lock_free, "cross-process atomics must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be lock-free atomics");
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4,
              "atomics must have the size of their value: the layout is shared byte for byte");

// ---------------------------------------------------------------------------
// Creation parameters, copied into the header. All fixed for the region's life.
//
//   0  partitions     4  capacity      8  max_message   12 slot_size
//  16  lease_ms      20  max_deliveries 24 dlq_capacity 28 dlq_slot_size
//  32  max_groups    34  max_participants 36 on_full 37 high_watermark_pct 38 fsync 39 journal
//  40  mode          44  spill_capacity   48 retain_bytes  56 retain_ms
//  64  dedup_window_ms  68 dedup_capacity  72 dedup_content  73 ttl_action  74 history  76 ext_size  80 keyed_groups
//  84  message_ttl_ms  88 delay_capacity  92 reserved2  96 reserved[4]
struct QueueParams {
    uint32_t partitions;
    uint32_t capacity;        // slots per partition, power of two
    uint32_t max_message;     // payload bytes per slot
    uint32_t slot_size;       // bytes per slot (header + payload + key), multiple of 64
    uint32_t lease_ms;        // visibility timeout of a delivery
    uint32_t max_deliveries;  // deliveries before a message goes to the DLQ
    uint32_t dlq_capacity;    // DLQ slots, power of two
    uint32_t dlq_slot_size;
    uint16_t max_groups;
    uint16_t max_participants;
    uint8_t on_full;  // OnFull
    uint8_t high_watermark_pct;  // partition depth (% of capacity) above which the queue reports overloaded; 0: never
    uint8_t fsync;               // shmq::Fsync of shmqd's segment writes for this queue
    uint8_t journal;             // 1: shmqd journals every message; slots wait for it (journal_floor)
    uint32_t mode;  // permission bits the region was created with
    uint32_t spill_capacity;  // staging slots per partition (power of two) when on_full=spill, else 0
    uint64_t retain_bytes;    // journal: per partition, whole segments beyond this are deleted; 0: no limit
    uint64_t retain_ms;       // journal: segments last written longer ago are deleted; 0: no limit
    uint32_t dedup_window_ms;  // deduplication window (shmq/internal/dedup.hpp); 0: off
    uint32_t dedup_capacity;   // ids each generation of the dedup table holds (0 when off)
    uint8_t dedup_content;     // 1: a send without an id uses a hash of key and payload as its id
    uint8_t ttl_action;        // TtlAction: what an expired message becomes
    uint8_t history;           // 1: a replay region (history delivered again): no TTL applies
    uint8_t reserved0;
    uint32_t ext_size;         // derived: bytes of each slot's extension area (SlotExtension), 0 when none
    uint32_t keyed_groups;     // KeyedLane sets: how many keyed groups the queue can hold at once
    uint32_t message_ttl_ms;   // every message expires this long after its publish time; 0: only per-message TTLs
    uint32_t delay_capacity;   // DelayStore entries: delayed messages waiting for their due time; 0: no delays
    uint32_t reserved2;
    uint64_t reserved[4];
};
static_assert(sizeof(QueueParams) == 128);
static_assert(offsetof(QueueParams, delay_capacity) == 88);
static_assert(offsetof(QueueParams, dedup_window_ms) == 64 && offsetof(QueueParams, ext_size) == 76);
static_assert(offsetof(QueueParams, on_full) == 36);
static_assert(offsetof(QueueParams, high_watermark_pct) == 37);
static_assert(offsetof(QueueParams, fsync) == 38);
static_assert(offsetof(QueueParams, spill_capacity) == 44);
static_assert(offsetof(QueueParams, journal) == 39);
static_assert(offsetof(QueueParams, retain_ms) == 56);
static_assert(offsetof(QueueParams, keyed_groups) == 80);
static_assert(offsetof(QueueParams, ttl_action) == 73 && offsetof(QueueParams, message_ttl_ms) == 84);
static_assert(offsetof(QueueParams, history) == 74);
// QueueParams::ttl_action holds a shmq::TtlAction.
static_assert(static_cast<uint8_t>(TtlAction::dlq) == 0 && static_cast<uint8_t>(TtlAction::drop) == 1);

// QueueParams::fsync holds a shmq::Fsync: its byte values are layout.
static_assert(static_cast<uint8_t>(Fsync::never) == 0 && static_cast<uint8_t>(Fsync::batch) == 1 &&
              static_cast<uint8_t>(Fsync::always) == 2);

// Section offsets from the region base; recomputed and compared on open.
struct SectionTable {
    uint64_t participants;
    uint64_t groups;
    uint64_t group_partitions;
    uint64_t partitions;
    uint64_t leases;
    uint64_t slots;
    uint64_t dlq_control;
    uint64_t dlq_slots;
    uint64_t spill_slots;  // empty (== dedup) when the queue does not spill
    uint64_t end;          // == region size
    uint64_t bridges;      // between dlq_slots and spill_slots
    uint64_t dedup;        // DedupTable, after spill_slots (== end when deduplication is off)
    uint64_t tx;           // TxEntry[max_participants], after dedup
    uint64_t keyed;        // KeyedLane[keyed_groups][partitions], after tx (empty when keyed_groups is 0)
    uint64_t delayed;      // DelayStore, after keyed (empty when delay_capacity is 0)
    uint64_t tx_outputs;   // TxOutput[max_participants][kMaxTxOutputs], after delayed
};
static_assert(offsetof(SectionTable, delayed) == 112 && offsetof(SectionTable, tx_outputs) == 120);
static_assert(sizeof(SectionTable) == 128);

// Region lifecycle word (RegionHeader::lifecycle).
// region_removed: `shmq delete --region-only`: gone like a reboot would take
// it; shmqd keeps its journal and recreates the queue from it.
// corrupt: shmqd found the region damaged (RegionHeader::damage_reason);
// peers get region_corrupt, nobody attaches any more.
enum class Lifecycle : uint32_t { live = 1, deleted = 2, corrupt = 3, region_removed = 4 };

// ---------------------------------------------------------------------------
// RegionHeader: the first page.
//
//   0    magic (atomic, written LAST with release: publishes everything else)
//   8    layout_version   12 header_size   16 region_size   24 queue_epoch
//   32   created_unix_ns  40 lifecycle (atomic)  44 daemon_bell
//   64   params (128)     192 sections (128)    320 name[64]
//   384  damaged_unix_ns (atomic)  392 damage_reason[184]   576 reserved
//   1024 consumer_doorbell, consumer_waiters, consumer_wanted, daemon_wanted,
//        commit_fence (own cache line)
//   1088 admin_lock                               (own cache line)
//   1152 dlq_doorbell                             (own cache line)
struct alignas(kSectionAlign) RegionHeader {
    std::atomic<uint64_t> magic;
    uint32_t layout_version;
    uint32_t header_size;
    uint64_t region_size;
    uint64_t queue_epoch;  // random per creation: tells a recreated queue apart
    uint64_t created_unix_ns;
    std::atomic<uint32_t> lifecycle;
    // shmqd's doorbell: a participant rings it with a one-byte pwrite() of
    // this field through its descriptor of the region file (never a store
    // through the mapping), which inotify reports to shmqd as IN_MODIFY of
    // the file (detail::ring_daemon). Its value means nothing.
    uint32_t daemon_bell;
    uint64_t reserved1[2];
    QueueParams params;
    SectionTable sections;
    char name[kNameMax];
    // Set once, by shmqd, when its integrity check finds the region damaged
    // (shmq/internal/damage.hpp): the reason first, then damaged_unix_ns, then
    // lifecycle = corrupt. Untrusted like everything here: readers bound and
    // sanitize the reason.
    std::atomic<uint64_t> damaged_unix_ns;
    char damage_reason[kDamageReasonBytes];
    uint8_t reserved2[1024 - 576];

    // Consumers about to sleep increment consumer_waiters, then futex-wait on
    // consumer_doorbell. A producer that commits reads consumer_waiters after
    // its (seq_cst) commit CAS and, if non-zero, bumps and wakes the doorbell.
    alignas(kCacheLine) std::atomic<uint32_t> consumer_doorbell;
    std::atomic<uint32_t> consumer_waiters;
    std::atomic<uint32_t> consumer_wanted;  // see sys::ring_doorbell_once: one FUTEX_WAKE per sleep
    // Set by shmqd before it sleeps with disk work to resume (journal,
    // spill); the first producer to commit after it exchanges it to 0 and
    // rings daemon_bell (detail::wake_daemon_if_asked). Same line as the
    // waiters word every commit reads already.
    std::atomic<uint32_t> daemon_wanted;
    // How a committer orders its release-store commit before its loads of
    // the waiters words above (shmq/internal/commit_barrier.hpp): 0, the
    // sleepers pay (membarrier GLOBAL_EXPEDITED; every attacher registered);
    // 1, some participant could not register or issue it, so every
    // committer fences. Only ever goes 0 -> 1.
    std::atomic<uint32_t> commit_fence;
    // Group-table lock: serializes group create/delete. Word = owner token
    // (participant id | gen << 16), 0 when free; broken when the owner is dead.
    alignas(kCacheLine) std::atomic<uint64_t> admin_lock;
    alignas(kCacheLine) std::atomic<uint32_t> dlq_doorbell;
    std::atomic<uint32_t> dlq_waiters;
};
static_assert(sizeof(RegionHeader) == kSectionAlign);
static_assert(offsetof(RegionHeader, magic) == 0, "magic first: attachers poll it");
static_assert(offsetof(RegionHeader, layout_version) == 8, "version at a fixed place across versions");
static_assert(offsetof(RegionHeader, params) == 64);
static_assert(offsetof(RegionHeader, sections) == 192);
static_assert(offsetof(RegionHeader, name) == 320);
static_assert(offsetof(RegionHeader, damaged_unix_ns) == 384);
static_assert(offsetof(RegionHeader, damage_reason) + kDamageReasonBytes == 576);
static_assert(offsetof(RegionHeader, consumer_doorbell) == 1024, "doorbell on its own line");
static_assert(offsetof(RegionHeader, daemon_bell) == 44, "in the lifecycle word's padding, which the integrity check skips");
static_assert(offsetof(RegionHeader, daemon_wanted) == 1036, "on the line a commit reads anyway");
static_assert(offsetof(RegionHeader, commit_fence) == 1040, "on the line a commit reads anyway");
static_assert(offsetof(RegionHeader, admin_lock) == 1088);
static_assert(offsetof(RegionHeader, dlq_doorbell) == 1152);

// ---------------------------------------------------------------------------
// ParticipantEntry: one per attached producer/consumer (the lease table).
//
//   0  state (atomic): [gen:32 | 0:24 | kind:8]   kind: 0 free, 1 active
//   8  pid  12 role  13 flags  14 group
//  16  start_ticks (pid start time, /proc/<pid>/stat field 22)
//  24  pid_ns (inode of the participant's pid namespace)
//  32  heartbeat_ns (CLOCK_MONOTONIC_COARSE)   40 attached_unix_ns
//  48  operations (messages sent or received)
//  56  acking (atomic): 1 while the participant's fast-ACK thread is inside a
//      fast ACK (shmq/internal/fast_ack.hpp); written by that thread alone
//
// A participant first takes an OFD write lock on byte `index` of the region
// file, then CASes state free -> active, then fills the fields; the kernel
// drops the lock when it dies. Fields are atomics because a reader (stat,
// reaper) may race with a re-claim; they are only meaningful while the entry
// is active, which a reader checks before and after reading them.
struct alignas(kCacheLine) ParticipantEntry {
    std::atomic<uint64_t> state;
    std::atomic<uint32_t> pid;
    std::atomic<uint8_t> role;   // Role
    std::atomic<uint8_t> flags;  // ParticipantFlags
    std::atomic<uint16_t> group;
    std::atomic<uint64_t> start_ticks;
    std::atomic<uint64_t> pid_ns;
    std::atomic<uint64_t> heartbeat_ns;
    std::atomic<uint64_t> attached_unix_ns;
    std::atomic<uint64_t> operations;
    std::atomic<uint64_t> acking;
};
static_assert(sizeof(ParticipantEntry) == kCacheLine);
static_assert(offsetof(ParticipantEntry, acking) == 56, "the fast-ACK word on the participant's own line");
static_assert(offsetof(ParticipantEntry, pid) == 8);
static_assert(offsetof(ParticipantEntry, start_ticks) == 16);

enum class Role : uint8_t { none = 0, producer = 1, consumer = 2, admin = 3 };
enum ParticipantFlags : uint8_t { kAtMostOnce = 1 };
constexpr uint16_t kNoGroup = 0xffff;

// Byte of the region file whose OFD write lock the shmqd serving the queue
// holds (above every participant's byte): one shmqd per queue, even with
// different lock files; the kernel drops it when that shmqd dies.
constexpr uint64_t kDaemonLockByte = kMaxParticipants + 1;

constexpr uint64_t kParticipantFree = 0;
constexpr uint64_t kParticipantActive = 1;
constexpr uint64_t participant_state(uint32_t gen, uint64_t kind) { return uint64_t{gen} << 32 | kind; }
constexpr uint32_t participant_gen(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
constexpr uint64_t participant_kind(uint64_t s) { return s & 0xff; }

// Owner ids are index + 1 so that 0 means "nobody". An owner *token* adds the
// entry's generation so a re-used entry is never mistaken for its predecessor.
constexpr uint64_t owner_token(uint32_t id, uint32_t gen) { return uint64_t{gen} << 16 | id; }
constexpr uint32_t token_id(uint64_t token) { return static_cast<uint32_t>(token & 0xffff); }
constexpr uint32_t token_gen(uint64_t token) { return static_cast<uint32_t>(token >> 16); }
static_assert(kMaxParticipants + 1 <= 0xffff, "participant ids (index + 1) fit an owner token's 16 id bits");
static_assert(kMaxParticipants + 1 <= 0xfff,
              "participant ids fit the 12 owner bits of the claim word (slot_state.hpp) and the lease "
              "word (lease_word.hpp, which checks it again)");

// ---------------------------------------------------------------------------
// AckLatency: a sampled histogram of publish -> ACK time of one group.
// Consumers record every ACK of an offset that is a multiple of
// kAckLatencySampleEvery (relaxed RMWs; a sample, not a census). buckets[b]
// counts latencies below kAckLatencyFirstBoundNs << b; the last bucket holds
// everything longer. Zeroed when the group is created; counts only grow.
constexpr uint32_t kAckLatencyBuckets = 26;  // bounds 1.024 us .. ~17.2 s, then +Inf
constexpr uint64_t kAckLatencyFirstBoundNs = 1024;
constexpr uint64_t kAckLatencySampleEvery = 64;  // a power of two
struct alignas(kCacheLine) AckLatency {
    std::atomic<uint64_t> buckets[kAckLatencyBuckets];
    std::atomic<uint64_t> count;
    std::atomic<uint64_t> sum_ns;
    uint64_t reserved[4];
};
static_assert(sizeof(AckLatency) == 4 * kCacheLine);
static_assert((kAckLatencySampleEvery & (kAckLatencySampleEvery - 1)) == 0);

// ---------------------------------------------------------------------------
// GroupEntry: one per consumer group.
//
//   0  state (atomic): [gen:32 | 0:16 | kind:8 | status:8]  status: 0 free, 1 active, 2 joining
//   8  member_gen (atomic; bumped on every join, leave and reap)
//  12  replay_state (ReplayState)  16 created_unix_ns
//  24  replay_from (offset, or unix ns for ReplayFrom::time)  32 replay_from_kind (ReplayFrom)
//  36  replay_result (ReplayResult)  40 replay_messages (journal messages being replayed)
//  48  keyed_lane (keyed groups: lane index + 1, set before the group turns joining; 0 otherwise)
//  52  reserved  64 name[64] as eight 8-byte atomic words
// 128  ack_latency (4 lines)
//
// Created and deleted under RegionHeader::admin_lock; read lock-free.
//
// Replay (`shmq replay`, daemon/replay/): the tool writes replay_from,
// replay_from_kind, then replay_state = requested (seq_cst) under the admin
// lock, and re-checks that the group has no members (a consumer stores its
// group seq_cst, then loads replay_state seq_cst: one of the two sees the
// other). While requested or preparing, consumers of the group deliver nothing; shmqd
// rewinds the group in the ring, creates the replay region (journal
// messages below the ring) and stores replay_result, then replay_state =
// running (release) or none. Running: consumers deliver each partition's
// replay region messages before its ring messages. shmqd stores none once
// every replay partition is acked to its end.
struct alignas(kCacheLine) GroupEntry {
    std::atomic<uint64_t> state;
    std::atomic<uint32_t> member_gen;
    std::atomic<uint32_t> replay_state;
    std::atomic<uint64_t> created_unix_ns;
    std::atomic<uint64_t> replay_from;
    std::atomic<uint32_t> replay_from_kind;
    std::atomic<uint32_t> replay_result;
    std::atomic<uint64_t> replay_messages;
    std::atomic<uint32_t> keyed_lane;
    uint32_t reserved0;
    uint64_t reserved1;
    std::atomic<uint64_t> name_words[kNameMax / 8];
    AckLatency ack_latency;
};
static_assert(sizeof(GroupEntry) == 6 * kCacheLine);
static_assert(offsetof(GroupEntry, replay_state) == 12);
static_assert(offsetof(GroupEntry, replay_from) == 24);
static_assert(offsetof(GroupEntry, replay_result) == 36);
static_assert(offsetof(GroupEntry, replay_messages) == 40);
static_assert(offsetof(GroupEntry, keyed_lane) == 48);
static_assert(offsetof(GroupEntry, name_words) == kCacheLine);

// requested: written by the tool; preparing: taken by shmqd (CAS), which redoes
// it after a crash; the tool may cancel only a request still `requested`.
enum class ReplayState : uint32_t { none = 0, requested = 1, running = 2, preparing = 3 };
enum class ReplayFrom : uint32_t { offset = 1, time = 2, start = 3 };
// What shmqd made of the last request (GroupEntry::replay_result).
enum class ReplayResult : uint32_t {
    pending = 0,
    started = 1,        // rewound; journal messages (if any) are being replayed
    not_journaled = 2,  // rewound within the ring only: the queue keeps no journal
    failed = 3,         // the journal could not be read or the replay region made: see shmqd's log
};
static_assert(offsetof(GroupEntry, ack_latency) == 2 * kCacheLine, "sampled writes apart from state and name");

// GroupEntry::state holds a shmq::GroupKind (bits 8..15): its byte values are layout.
static_assert(static_cast<uint8_t>(GroupKind::exclusive) == 1 && static_cast<uint8_t>(GroupKind::shared) == 2 &&
              static_cast<uint8_t>(GroupKind::keyed) == 3);
constexpr uint64_t kGroupFree = 0;
constexpr uint64_t kGroupActive = 1;
// Joining: counted by reclaimers (its floors hold the partitions) while its
// cursors are being set up; consumers do not use it yet.
constexpr uint64_t kGroupJoining = 2;
constexpr uint64_t group_state(uint32_t gen, GroupKind kind, uint64_t status) {
    return uint64_t{gen} << 32 | uint64_t{static_cast<uint8_t>(kind)} << 8 | status;
}
constexpr uint64_t group_status(uint64_t s) { return s & 0xff; }
constexpr uint8_t group_kind(uint64_t s) { return static_cast<uint8_t>((s >> 8) & 0xff); }
constexpr uint32_t group_gen(uint64_t s) { return static_cast<uint32_t>(s >> 32); }

// ---------------------------------------------------------------------------
// GroupPartition: a group's cursors in one partition.
//
//   line 0 (delivery side)  0 next   8 owner   16 retry_pending   24 revocations
//   line 1 (ack side)      64 floor
//   line 2 (counters)     128 delivered 136 start 144 nacked 152 redelivered
//                         160 expired 168 skipped 176 dead_lettered 184 dlq_blocked
//
// Invariants (offsets of this partition):
//   floor <= next; every offset < floor is finished for this group (ACKed,
//   skipped, dead-lettered or picked up at-most-once).
//   Offsets in [floor, next) have a LeaseEntry whose tag is that offset.
//   `next` is a hint advanced by CAS by whoever delivers (helping allowed):
//   the LeaseEntry CAS, not `next`, decides who delivers an offset.
//   `owner` (exclusive groups): owner token of the consumer that may deliver
//   from this partition, 0 when unowned.
//   `retry_pending`: hint (may over- or under-count after a crash; periodic
//   scans make up for it) of RETRY entries in [floor, next).
//   `revocations` (exclusive groups): how many times a revoker took leases
//   of live holders here; a delivery records it and is fast-ACKed (a store)
//   only while it is unchanged (shmq/internal/fast_ack.hpp). Only grows.
//   `start`: the floor the group began with here. There is no acked counter
//   (an RMW per ack on a shared line): acked = floor - start - skipped -
//   dead_lettered + acked entries above the floor (inspect.cpp).
struct alignas(kCacheLine) GroupPartition {
    std::atomic<uint64_t> next;
    std::atomic<uint64_t> owner;
    std::atomic<uint32_t> retry_pending;
    uint32_t reserved0;
    std::atomic<uint64_t> revocations;
    uint8_t pad0[kCacheLine - 32];
    std::atomic<uint64_t> floor;
    uint8_t pad1[kCacheLine - 8];
    std::atomic<uint64_t> delivered;
    std::atomic<uint64_t> start;
    std::atomic<uint64_t> nacked;
    std::atomic<uint64_t> redelivered;
    std::atomic<uint64_t> expired;
    std::atomic<uint64_t> skipped;
    std::atomic<uint64_t> dead_lettered;
    std::atomic<uint64_t> dlq_blocked;
};
static_assert(sizeof(GroupPartition) == 3 * kCacheLine);
static_assert(offsetof(GroupPartition, floor) == kCacheLine, "ack side apart from delivery side");
static_assert(offsetof(GroupPartition, revocations) == 24, "on the line the owner writes per delivery");
static_assert(offsetof(GroupPartition, delivered) == 2 * kCacheLine);

// ---------------------------------------------------------------------------
// PartitionControl: one per partition.
//
//   line 0   0 tail: [exclusive:1 | offset:63] (producer claim hint; shmq/internal/commit_protocol.hpp)
//            8 writer: [0:1 | auto:1 | handover:1 | 0:1 | requester id:12 | owner token:48] of the
//              partition's writer role, 0 when none (shmq/internal/writer_token.hpp)
//           16 writer_sending (0/1: an automatic holder is inside a claim)  24.. reserved
//   line 1  64 head (all offsets < head are released; slots free for reuse)
//           72 reclaim_lock (owner token; serializes head advance and group joins)
//   line 2 128 space_doorbell 132 space_waiters 136 space_wanted (producers waiting for room)
//   line 3 192 rejected 200 aborted 208 timeouts 216 dropped 224 replay_end
//          232 duplicates (sends answered duplicate: the id's original is in this partition) 240.. reserved
//   line 4 256 spill_lock 264 spill_tail          (producers, on_full=spill)
//   line 5 320 spill_head 328 spill_refilled 336 spill_disk_messages
//          344 spill_disk_bytes 352 spill_status 356 journal_status 360 spill_refused
//          368 journal_floor 376 journal_bytes  (shmqd)
//
// Invariants: head <= every active group's floor; head <= tail;
// tail - head <= capacity. `published` is derived: tail - aborted (exact when
// no claim is open).
//
// Spill (on_full=spill; shmq/internal/spill_protocol.hpp): spill sequence numbers s
// order the messages that went through the partition's staging ring.
// spill_tail is [active:1 | next s:63] and changes only under spill_lock.
// Invariants: spill_head <= seq(spill_tail) <= spill_head + spill_capacity;
// spill_refilled <= seq(spill_tail). While active, producers put every
// message of the partition into staging, and shmqd clears active only under
// the lock with spill_refilled == seq(spill_tail): no message overtakes one
// that went to disk before it.
//
// Journal (QueueParams::journal): every offset below journal_floor is in
// shmqd's journal (written per the fsync policy) or was aborted; reclaim
// never moves head past it, so the journal reads slots no producer reuses.
struct alignas(kCacheLine) PartitionControl {
    std::atomic<uint64_t> tail;
    // Who holds the tail's exclusive bit: set (CAS from 0) before the bit,
    // cleared after it, by the holder or by the reaper of a dead holder. An
    // automatic holder's word carries kWriterAuto, and a requester or the
    // handover flag while another writer takes the role back
    // (shmq/internal/writer_token.hpp); an exclusive holder's is its token.
    std::atomic<uint64_t> writer;
    // 1 while an automatic holder claims with plain stores (it stores 1,
    // checks `writer`, claims, stores 0): a contender waits for 0 after its
    // membarrier (writer_token.hpp (10)). Beside the tail the holder writes anyway.
    std::atomic<uint64_t> writer_sending;
    uint8_t pad0[kCacheLine - 24];
    std::atomic<uint64_t> head;
    std::atomic<uint64_t> reclaim_lock;
    uint8_t pad1[kCacheLine - 16];
    std::atomic<uint32_t> space_doorbell;
    std::atomic<uint32_t> space_waiters;
    // Set by a producer before it sleeps; the first waker exchanges it to 0,
    // so one sleep costs one FUTEX_WAKE however many acks follow.
    std::atomic<uint32_t> space_wanted;
    uint8_t pad2[kCacheLine - 12];
    std::atomic<uint64_t> rejected;
    std::atomic<uint64_t> aborted;
    std::atomic<uint64_t> timeouts;
    std::atomic<uint64_t> dropped;
    // Replay regions only (daemon/replay/): the offset this partition's
    // replay ends at; the group's ring position there. Fixed at creation.
    std::atomic<uint64_t> replay_end;
    std::atomic<uint64_t> duplicates;
    uint64_t reserved[2];
    std::atomic<uint64_t> spill_lock;  // owner token, 0 when free; broken when the holder is dead
    std::atomic<uint64_t> spill_tail;  // [active:1 | next spill sequence:63]
    uint8_t pad4[kCacheLine - 16];
    std::atomic<uint64_t> spill_head;      // staging slots < head are on disk (per fsync policy) or refilled
    std::atomic<uint64_t> spill_refilled;  // every spill sequence < this is in the ring (or was aborted)
    std::atomic<uint64_t> spill_disk_messages;  // backlog on disk (shmqd's count, for stat)
    std::atomic<uint64_t> spill_disk_bytes;
    std::atomic<uint32_t> spill_status;    // SpillStatus
    std::atomic<uint32_t> journal_status;  // SpillStatus values, for the journal's writes
    std::atomic<uint64_t> spill_refused;  // sends answered `overloaded` because staging was full
    std::atomic<uint64_t> journal_floor;  // offsets below are journaled (shmqd stores, release)
    std::atomic<uint64_t> journal_bytes;  // bytes of this partition's journal segments on disk
};
static_assert(sizeof(PartitionControl) == 6 * kCacheLine);
static_assert(offsetof(PartitionControl, head) == kCacheLine, "tail and head on separate lines");
static_assert(offsetof(PartitionControl, writer) == 8, "the exclusive writer beside the tail it holds");
static_assert(offsetof(PartitionControl, writer_sending) == 16,
              "the automatic holder's flag on the line it writes per claim anyway (the tail's)");
static_assert(offsetof(PartitionControl, space_doorbell) == 2 * kCacheLine);
static_assert(offsetof(PartitionControl, replay_end) == 3 * kCacheLine + 32);
static_assert(offsetof(PartitionControl, spill_lock) == 4 * kCacheLine, "producers' spill line");
static_assert(offsetof(PartitionControl, spill_head) == 5 * kCacheLine, "shmqd's spill line");
static_assert(offsetof(PartitionControl, journal_floor) == 5 * kCacheLine + 48);

constexpr uint64_t kSpillActive = uint64_t{1} << 63;
constexpr uint64_t spill_seq(uint64_t spill_tail) { return spill_tail & ~kSpillActive; }
constexpr bool spill_active(uint64_t spill_tail) { return (spill_tail & kSpillActive) != 0; }
// PartitionControl::spill_status, written by shmqd.
enum class SpillStatus : uint32_t { ok = 0, disk_full = 1, disk_error = 2 };

// ---------------------------------------------------------------------------
// Slot: one message of one partition.
//
//   0  state (atomic): [tag:48 | owner:12 | kind:4]   (see shmq/internal/slot_state.hpp)
//   8  payload_len  12 key_len  14 flags  16 publish_unix_ns  24 reserved
//  32  payload[round8(max_message)]  then  key[kMaxKeyBytes]  then  extension[ext_size]
//  slot_size - 8: claim (atomic): claimed(o, P) while a producer fills it
//
// The extension area holds per-message extras; its size is fixed at creation
// (QueueParams::ext_size, 0 when the queue uses none): today a SlotExtension
// when deduplication is on. A slot carries a dedup id iff flags has
// kSlotDedupId; the extension is then valid (written before the commit).
//
// The state word sits in the slot's first cache line, beside the first 32
// payload bytes: a consumer polling it pulls in the start of the message
// with the same transfer. The claim word sits in the slot's last line, which
// consumers do not poll, so a message changes the polled line once. payload_len/key_len/publish time are written by
// the claiming producer before its commit (release) and read after the
// consumer's acquire load of `state`; they are untrusted and bounds-checked.
struct SlotHeader {
    std::atomic<uint64_t> state;
    uint32_t payload_len;
    uint16_t key_len;
    uint16_t flags;
    uint64_t publish_unix_ns;
    uint64_t reserved;
};
static_assert(sizeof(SlotHeader) == 32);
static_assert(offsetof(SlotHeader, state) == 0, "readiness word first in the slot's first line");
constexpr std::size_t kSlotHeaderBytes = sizeof(SlotHeader);
// kSlotRefilled: shmqd refilled the slot from spill sequence `reserved`
// (shmq/internal/spill_protocol.hpp). kSlotAttributes: the payload area
// begins with an attribute block (below). Distinct bits: a refilled message
// may carry an id and attributes. DlqSlotHeader::flags holds the low byte.
enum SlotFlags : uint16_t { kSlotDedupId = 1, kSlotRefilled = 2, kSlotAttributes = 4 };

// Attribute block: a message's routing key and headers (Publisher::publish)
// and its own TTL (SendOptions::ttl), at the start of the payload area when
// flags has kSlotAttributes.
//
//   0  block_len u16: bytes of the block, padding included (a multiple of 8)
//   2  routing_key_len u8   3  header_count u8: bits 3..0 the count
//      (0..kMaxAttributeHeaders), bit 7 kAttributeHasTtl, bits 6..4 zero
//   4  ttl_ms u32 (1..2^32-1), only with kAttributeHasTtl
//      then the routing key bytes, then per header: key_len u8 (1..32),
//      value_len u8 (0..64), key bytes, value bytes; zero padding up to block_len
//
// payload_len counts the block AND the user payload after it (which begins
// at payload area + block_len, 8-aligned): so every path that copies
// payload_len bytes and keeps the flag (DLQ, spill, journal, replay)
// carries the attributes unchanged, and the block counts against
// max_message. Written by the claimer before its commit, like the payload;
// untrusted: a reader checks block_len against payload_len, every length
// and the count against block_len, and that the fields end exactly where
// the padding to block_len begins (shmq/internal/attributes.hpp).
constexpr std::size_t kAttributeBlockHeaderBytes = 4;
constexpr std::size_t kAttributeTtlBytes = 4;
constexpr uint8_t kAttributeHasTtl = 0x80;
constexpr uint8_t kAttributeCountMask = 0x0f;
constexpr uint32_t kMaxRoutingKeyBytes = 255;
constexpr uint32_t kMaxAttributeHeaders = 8;
constexpr uint32_t kMaxAttributeKeyBytes = 32;
constexpr uint32_t kMaxAttributeValueBytes = 64;
constexpr std::size_t kMaxAttributeBlockBytes =
    (kAttributeBlockHeaderBytes + kAttributeTtlBytes + kMaxRoutingKeyBytes +
     kMaxAttributeHeaders * (2 + kMaxAttributeKeyBytes + kMaxAttributeValueBytes) + 7) & ~std::size_t{7};
static_assert(kMaxAttributeBlockBytes == 1048 && kMaxAttributeBlockBytes <= 0xffff, "block_len fits its u16");
static_assert(kMaxRoutingKeyBytes <= 0xff && kMaxAttributeValueBytes <= 0xff, "lengths fit their u8");
static_assert(kMaxAttributeHeaders <= kAttributeCountMask && (kAttributeHasTtl & kAttributeCountMask) == 0);

// SlotExtension: the dedup id of the message and the table entry its send
// recorded (shmq/internal/dedup.hpp): entry_ref = generation * entries +
// index + 1, 0 for none. Written by the claimer while it holds the claim;
// untrusted: id_len is bounded by kMaxDedupIdBytes, entry_ref checked
// against the entry it names before any use.
constexpr uint32_t kMaxDedupIdBytes = 128;  // SQS's limit
// redrives: how often `shmq dlq redrive` re-published this message (the
// bridge appends it to a redriven copy's Nats-Msg-Id).
struct SlotExtension {
    uint32_t entry_ref;
    uint16_t id_len;
    uint16_t redrives;
    uint8_t id[kMaxDedupIdBytes];
};
static_assert(sizeof(SlotExtension) == 136 && sizeof(SlotExtension) % 8 == 0);

// ---------------------------------------------------------------------------
// DedupTable (QueueParams::dedup_window_ms != 0): the ids published within
// the window, at sections.dedup. Protocol: shmq/internal/dedup.hpp.
//
//   DedupGeneration[kDedupGenerations]        64 each
//   stripe locks[kDedupStripes]               64 each (one word per line)
//   DedupEntry[kDedupGenerations][entries]    32 each, entries = pow2 >= 2 * dedup_capacity
//
// Time (CLOCK_REALTIME ms) is cut into spans of max(1, window / 2) ms; span
// n's ids go to generation n % 3, which is emptied in bulk when span n
// begins (it held span n - 3, older than the window). Within a generation
// entries are only ever added (linear probing; a lookup stops at an empty
// entry) until that bulk reset.
//
// DedupGeneration: 0 span (atomic: the span it holds, kDedupResetting while
// emptied)  8 count (atomic: entries added)  16 reset_lock (owner token)
//
// DedupEntry: 0 tag (atomic): [span:16 | gen:32 | owner id:12 | kind:4]
//             8 hash_a  16 [hash_b:32 | unix_ms:32]  24 result [staged:1 | partition:10 | offset:53]
constexpr uint32_t kDedupGenerations = 3;
constexpr uint32_t kDedupStripes = 256;
constexpr uint32_t kMaxDedupCapacity = 1u << 22;
constexpr uint32_t kMaxDedupWindowMs = 7u * 24 * 3600 * 1000;  // unix_ms's 32 bits span 49 days
constexpr uint64_t kDedupResetting = uint64_t{1} << 63;
struct alignas(kCacheLine) DedupGeneration {
    std::atomic<uint64_t> span;
    std::atomic<uint64_t> count;
    std::atomic<uint64_t> reset_lock;
};
static_assert(sizeof(DedupGeneration) == kCacheLine);
struct alignas(kCacheLine) DedupStripe {
    std::atomic<uint64_t> lock;  // owner token; serializes the lookup-then-add of the ids hashed to it
};
static_assert(sizeof(DedupStripe) == kCacheLine);
struct DedupEntry {
    std::atomic<uint64_t> tag;
    std::atomic<uint64_t> hash_a;
    std::atomic<uint64_t> hash_b_time;
    std::atomic<uint64_t> result;
};
static_assert(sizeof(DedupEntry) == 32 && kCacheLine % sizeof(DedupEntry) == 0);
static_assert(kDedupGenerations * 2ull * kMaxDedupCapacity < (uint64_t{1} << 32), "entry_ref fits 32 bits");
static_assert(kMaxDedupWindowMs < (uint64_t{1} << 31), "entry ages are told apart on 32 bits of ms");

// ---------------------------------------------------------------------------
// TxEntry: participant i's transaction record in this region, at sections.tx
// + i * 128 (shmq/internal/tx_protocol.hpp), its output list at sections.tx_outputs
// + i * kMaxTxOutputs * 96 (apart, so that scans of the records read one
// line each). The coordinator record (in the
// input queue, the consumer's entry) lists the transaction's outputs; an
// output record (in an output queue, the producer's entry) names its
// coordinator. Written by the participant; peers only CAS `word` (open or
// prepared records of a dead or late owner) and add to `resolutions`. Untrusted: names are bounded,
// indices checked, an unknown state is aborted.
//
//   0  word (atomic): [seq:60 | state:4]   8 deadline_ns (CLOCK_MONOTONIC_COARSE)
//  16  outputs (coordinator: TxOutput entries in use, release after them)
//  20  coord_index (output: the coordinator's participant index in its region)
//  24  coord_epoch  32 coord_seq   40 role (TxRole)   48 reap_pending (1: the reaper left the
//      participant entry taken until this record is finished)   56 resolutions (output: the
//      rounds of resolvers committing its claims, tx_protocol.hpp (T7))   64 coord_name[64]
//
// TxOutput (the coordinator's list, `outputs` of them in use): 0 name[64]
//           64 epoch  72 seq (of the output record)  80 index (the
//           producer's participant index there)  84 reserved
// 32 outputs: an all-or-nothing publish reaches up to 32 queues; the list
// costs 3 KiB per participant entry (384 KiB at 128 participants).
constexpr uint32_t kMaxTxOutputs = 32;
enum class TxRole : uint64_t { none = 0, coordinator = 1, output = 2 };  // distinct (queue, producer) pairs one transaction sends through
struct TxOutput {
    std::atomic<uint64_t> name_words[kNameMax / 8];
    std::atomic<uint64_t> epoch;
    std::atomic<uint64_t> seq;
    std::atomic<uint32_t> index;
    uint32_t reserved0;
    uint64_t reserved1;
};
static_assert(sizeof(TxOutput) == 96);
struct alignas(kCacheLine) TxEntry {
    std::atomic<uint64_t> word;
    std::atomic<uint64_t> deadline_ns;
    std::atomic<uint32_t> outputs;
    std::atomic<uint32_t> coord_index;
    std::atomic<uint64_t> coord_epoch;
    std::atomic<uint64_t> coord_seq;
    std::atomic<uint64_t> role;  // TxRole, stored before the word opens the record
    std::atomic<uint64_t> reap_pending;
    std::atomic<uint64_t> resolutions;
    std::atomic<uint64_t> coord_name_words[kNameMax / 8];
};
static_assert(sizeof(TxEntry) == 128);
static_assert(offsetof(TxEntry, coord_name_words) == 64);

// ---------------------------------------------------------------------------
// KeyedLane: the key index of one keyed group (GroupKind::keyed) in one
// partition, at sections.keyed + (lane * partitions + p) * keyed_lane_bytes(capacity).
// Protocol and memory-ordering argument: shmq/internal/keyed_lane.hpp.
//
//   line 0   0 lock (owner token; broken when its holder is dead)
//            8 group_state (the GroupEntry::state of the group holding the lane when it took it)
//           16 ready_head  24 ready_tail (FIFO of ready[]; ready_tail - ready_head <= capacity)
//           32 repairs (rebuilds after a dead holder)
//           40 rescued (parked entries keyed_repair queued: their finish reached no finisher's queueing)
//           48 reserved
//   line 1  64 finished[8] (offset + 1 of a finish whose finisher found the lock taken; 0: empty)
//   KeyTail[2 * capacity]   16 each: 0 hash (FNV-1a 64 of the key, | 1; 0: never used)
//                                    8 tail (the latest offset indexed with that key)
//   successor[capacity]     8 each: [o & (capacity - 1)]: the next offset indexed with o's key
//   ready[capacity]         8 each: parked offsets whose predecessor finished (FIFO)
//
// Everything in a lane is written under its lock only, and is untrusted:
// every offset read from it is checked against the lease entry it names.
constexpr uint32_t kKeyedMailbox = 8;
struct alignas(kCacheLine) KeyedLaneHeader {
    std::atomic<uint64_t> lock;
    std::atomic<uint64_t> group_state;
    std::atomic<uint64_t> ready_head;
    std::atomic<uint64_t> ready_tail;
    std::atomic<uint64_t> repairs;
    std::atomic<uint64_t> rescued;
    uint64_t reserved[2];
    std::atomic<uint64_t> finished[kKeyedMailbox];
};
static_assert(sizeof(KeyedLaneHeader) == 2 * kCacheLine && offsetof(KeyedLaneHeader, finished) == kCacheLine);
struct KeyTail {
    std::atomic<uint64_t> hash;
    std::atomic<uint64_t> tail;
};
static_assert(sizeof(KeyTail) == 16 && kCacheLine % sizeof(KeyTail) == 0);
constexpr uint32_t kKeyTailsPerSlot = 2;  // KeyTail entries per slot of the partition: load <= 1/2
constexpr uint64_t keyed_lane_bytes(uint64_t capacity) {
    return (sizeof(KeyedLaneHeader) + capacity * (kKeyTailsPerSlot * sizeof(KeyTail) + 8 + 8) + kCacheLine - 1) &
           ~uint64_t{kCacheLine - 1};
}
constexpr uint64_t keyed_tails_at(uint64_t) { return sizeof(KeyedLaneHeader); }
constexpr uint64_t keyed_successors_at(uint64_t capacity) {
    return keyed_tails_at(capacity) + capacity * kKeyTailsPerSlot * sizeof(KeyTail);
}
constexpr uint64_t keyed_ready_at(uint64_t capacity) { return keyed_successors_at(capacity) + capacity * 8; }
static_assert(keyed_lane_bytes(2) == 256 && keyed_ready_at(4) + 4 * 8 == keyed_lane_bytes(4));

// ---------------------------------------------------------------------------
// DelayStore (QueueParams::delay_capacity != 0): delayed messages
// (SendOptions::delay) waiting for their due time, at sections.delayed.
// Protocol, lock and crash argument: shmq/internal/delay_store.hpp.
//
//   DelayStoreHeader                 128
//     line 0   0 lock (owner token; broken when its holder is dead)
//              8 open (1 while a holder is inside its critical section: a
//                taker that finds 1 rebuilds heap and free list)
//             16 count (atomic: entries queued == heap size)
//             24 next_due_unix_ns (atomic: the heap top's due time; kNoDue when empty)
//             32 seq (the next entry's sequence: equal due times go in send order)
//             40 version (atomic: +1 per add and move; shmqd's snapshot compares it)
//             48 mover_wake_unix_ns (when shmqd looks next; an add due sooner rings it)
//             56 repairs (rebuilds after a dead holder or a bad index)
//     line 1  64 added  72 moved  80 refused (adds answered overloaded: full)
//             88 failed (due messages their partition refused for good: dropped)  96.. reserved
//   DelayHeapItem heap[delay_capacity]     16 each: 0 due_unix_ns  8 [seq:40 | entry:24]
//   uint32_t free_list[delay_capacity]     rounded up to 64 bytes: [0, capacity - count) are free entries
//   DelayEntry[delay_capacity]             delay_entry_bytes(params) each:
//     0 state (atomic: kDelayFree / kDelayQueued)  8 due_unix_ns  16 sent_unix_ns  24 seq
//    32 payload_len  36 key_len u16  38 flags u16 (SlotFlags: kSlotAttributes kept verbatim)
//    40 partition (explicit partition + 1; 0: by key or round robin)  44 id_len u16  46 reserved
//    48 reserved[2]
//    64 payload[round8(max_message)]  then key[kMaxKeyBytes]  then id[kMaxDedupIdBytes] (ext_size != 0 only)
//
// The entries' state words are the truth; heap and free list are an index
// rebuilt from them after a holder died. Everything is written under the
// lock only, and untrusted: indices and lengths are checked before use.
constexpr uint32_t kMaxDelayCapacity = 1u << 24;  // entry indices fit the heap item's 24 bits
constexpr uint64_t kNoDue = UINT64_MAX;
constexpr uint64_t kDelayFree = 0;
constexpr uint64_t kDelayQueued = 1;
struct alignas(kCacheLine) DelayStoreHeader {
    std::atomic<uint64_t> lock;
    std::atomic<uint64_t> open;
    std::atomic<uint64_t> count;
    std::atomic<uint64_t> next_due_unix_ns;
    std::atomic<uint64_t> seq;
    std::atomic<uint64_t> version;
    std::atomic<uint64_t> mover_wake_unix_ns;
    std::atomic<uint64_t> repairs;
    std::atomic<uint64_t> added;
    std::atomic<uint64_t> moved;
    std::atomic<uint64_t> refused;
    std::atomic<uint64_t> failed;
    uint64_t reserved[4];
};
static_assert(sizeof(DelayStoreHeader) == 2 * kCacheLine);
static_assert(offsetof(DelayStoreHeader, count) == 16 && offsetof(DelayStoreHeader, next_due_unix_ns) == 24,
              "stat reads these lock-free");
static_assert(offsetof(DelayStoreHeader, added) == kCacheLine);
struct DelayHeapItem {
    uint64_t due_unix_ns;
    uint64_t seq_entry;  // [seq:40 | entry:24]
};
static_assert(sizeof(DelayHeapItem) == 16);
constexpr uint64_t delay_item(uint64_t seq, uint32_t entry) { return seq << 24 | entry; }
constexpr uint32_t delay_item_entry(uint64_t item) { return static_cast<uint32_t>(item & ((1u << 24) - 1)); }
struct DelayEntryHeader {
    std::atomic<uint64_t> state;
    uint64_t due_unix_ns;
    uint64_t sent_unix_ns;
    uint64_t seq;
    uint32_t payload_len;
    uint16_t key_len;
    uint16_t flags;
    uint32_t partition;  // explicit partition + 1; 0: none
    uint16_t id_len;
    uint16_t reserved0;
    uint64_t reserved1[2];
};
static_assert(sizeof(DelayEntryHeader) == kCacheLine);
static_assert(offsetof(DelayEntryHeader, payload_len) == 32 && offsetof(DelayEntryHeader, partition) == 40);
constexpr uint64_t delay_entry_bytes(uint32_t max_message, uint32_t ext_size) {
    return (sizeof(DelayEntryHeader) + ((uint64_t{max_message} + 7) & ~uint64_t{7}) + kMaxKeyBytes +
            (ext_size != 0 ? kMaxDedupIdBytes : 0) + kCacheLine - 1) & ~uint64_t{kCacheLine - 1};
}
constexpr uint64_t delay_heap_at() { return sizeof(DelayStoreHeader); }
constexpr uint64_t delay_free_at(uint64_t capacity) { return delay_heap_at() + capacity * sizeof(DelayHeapItem); }
constexpr uint64_t delay_entries_at(uint64_t capacity) {
    return (delay_free_at(capacity) + capacity * 4 + kCacheLine - 1) & ~uint64_t{kCacheLine - 1};
}
constexpr uint64_t delay_store_bytes(uint32_t capacity, uint32_t max_message, uint32_t ext_size) {
    return capacity == 0 ? 0 : delay_entries_at(capacity) + uint64_t{capacity} * delay_entry_bytes(max_message, ext_size);
}
static_assert(delay_entry_bytes(1, 0) == 192 && delay_entries_at(16) == 128 + 256 + 64);

// ---------------------------------------------------------------------------
// LeaseEntry: a group's delivery state of one offset; index offset & (capacity-1).
//
//   0  word (atomic): [kind:2 | deliveries:14 | owner:12 | tag:36]  (shmq/internal/lease_word.hpp)
//   8  deadline_ns (lease deadline, or not-before time of a RETRY; CLOCK_MONOTONIC)
//  16  first_delivery_unix_ns  24 last_delivery_unix_ns
//
// The whole word is the lease's epoch: every new lease of an offset raises
// `deliveries`, so a consumer whose lease was taken away fails its CAS.
struct LeaseEntry {
    std::atomic<uint64_t> word;
    std::atomic<uint64_t> deadline_ns;
    std::atomic<uint64_t> first_delivery_unix_ns;
    std::atomic<uint64_t> last_delivery_unix_ns;
};
static_assert(sizeof(LeaseEntry) == 32);
static_assert(kCacheLine % sizeof(LeaseEntry) == 0, "entries never straddle a line");

// ---------------------------------------------------------------------------
// DLQ: one MPMC ring of dead-lettered messages with their metadata.
//
//   DlqControl: line 0 tail (claim hint)  line 1 head + admin_lock (redrive/purge
//               advance head under it)  line 2 counters
//   DlqSlot:    0 state (slot protocol)  8 payload_len 12 key_len 14 reason 15 flags (SlotFlags' low byte)
//               16 partition 20 deliveries 24 offset 32 first_delivery_unix_ns
//               40 last_delivery_unix_ns 48 dead_unix_ns 56 publish_unix_ns
//               64 group_index 68 reserved  then payload, key, extension as in Slot at 128,
//               claim word in the last 8 bytes as in Slot
struct alignas(kCacheLine) DlqControl {
    std::atomic<uint64_t> tail;
    uint8_t pad0[kCacheLine - 8];
    std::atomic<uint64_t> head;
    std::atomic<uint64_t> admin_lock;  // owner token of the process listing/redriving/purging
    uint8_t pad1[kCacheLine - 16];
    std::atomic<uint64_t> dead_lettered;
    std::atomic<uint64_t> redriven;
    std::atomic<uint64_t> purged;
    std::atomic<uint64_t> blocked;
    std::atomic<uint64_t> expired_ttl;          // messages whose TTL passed before any group that missed them got them
    std::atomic<uint64_t> expired_ttl_dropped;  // of those, the ones that went nowhere: ttl_action drop, or the DLQ full
    // 1 once a producer sent a message with its own TTL (set before that
    // send's commit, never cleared): expiry scans look at queues without
    // message_ttl_ms only after it (shmq/internal/expiry.hpp).
    std::atomic<uint64_t> message_ttls;
    uint64_t reserved;
};
static_assert(sizeof(DlqControl) == 3 * kCacheLine);

struct DlqSlotHeader {
    std::atomic<uint64_t> state;
    uint32_t payload_len;
    uint16_t key_len;
    uint8_t reason;  // DeadLetterReason
    uint8_t flags;   // SlotFlags' low byte: kSlotDedupId (the extension holds the id), kSlotAttributes
    uint32_t partition;
    uint32_t deliveries;
    uint64_t offset;
    uint64_t first_delivery_unix_ns;
    uint64_t last_delivery_unix_ns;
    uint64_t dead_unix_ns;
    uint64_t publish_unix_ns;
    uint32_t group_index;
    uint8_t reserved1[60];
};
static_assert(sizeof(DlqSlotHeader) == 2 * kCacheLine);
static_assert((kSlotDedupId | kSlotAttributes) <= 0xff, "the flags a dead letter keeps fit its u8");
static_assert(offsetof(DlqSlotHeader, offset) == 24);
constexpr std::size_t kDlqSlotHeaderBytes = sizeof(DlqSlotHeader);

// handoff: revoked only because its partition changed hands, once per handoff
// after 15 of them (shmq/internal/lease_word.hpp); a message never fails by handoffs alone.
// blocked: never a DLQ reason; the retry reason of a keyed group's parked entry (KeyedLane).
// ttl: the message's TTL passed before it was delivered (shmq/internal/expiry.hpp).
enum class DeadLetterReason : uint8_t { nacked = 1, lease_expired = 2, owner_died = 3, handoff = 4, blocked = 5, ttl = 6 };

// ---------------------------------------------------------------------------
// BridgeEntry: the status of one running `shmq bridge` of this queue
// (tools/shmq/bridge), read by `shmq stat` and shmqd's /metrics.
//
//   0  owner (atomic): owner token of the bridge's participant entry; 0 free
//   8  direction (atomic): 0 not yet published, 1 out, 2 in   12 group (out)
//  16  connected (atomic: 1 while its NATS connection is up)  20 reserved
//  24  updated_unix_ns   32 counters[8] (BridgeCounter)   96 reserved
// 128  stream[64]   192 consumer[64] (in: the JetStream durable), NUL-padded
//
// Claim: CAS owner 0 -> token (acquire; a dead owner's word is broken first,
// as any owner lock), store counters, names and group (relaxed), then
// direction (release): a reader that loads direction != 0 with acquire sees
// them. Release: direction = 0, then owner = 0 (release). Readers load owner,
// direction, the fields, then owner again (all acquire, so in that order), and
// drop the entry if the owner changed or is not alive. A reader racing a
// re-claim may still mix two owners' figures: counters only, never an index.
// Everything is untrusted: readers bound group and sanitize the names.
constexpr uint32_t kMaxBridges = 16;
enum class BridgeDirection : uint32_t { none = 0, out = 1, in = 2 };
// out: PubAcks saying the stream holds a message; publishes awaiting a PubAck;
//      messages leased here, not yet stored; publish errors; re-sent
//      publishes; PubAcks that said duplicate; lag: unused (the group's).
// in:  messages sent into the queue; fetched, not yet sent and ACKed;
//      unused; fetch errors and terminated messages; JetStream redeliveries;
//      sends the queue's dedup window answered duplicate (by Nats-Msg-Id);
//      lag: the stream's messages not yet delivered to the consumer.
enum class BridgeCounter : uint32_t { messages, pending_acks, held, errors, redeliveries, duplicates, lag, count };
struct alignas(kCacheLine) BridgeEntry {
    std::atomic<uint64_t> owner;
    std::atomic<uint32_t> direction;  // BridgeDirection
    std::atomic<uint16_t> group;
    uint16_t reserved0;
    std::atomic<uint32_t> connected;
    uint32_t reserved1;
    std::atomic<uint64_t> updated_unix_ns;
    std::atomic<uint64_t> counters[8];  // indexed by BridgeCounter
    uint64_t reserved2[4];
    std::atomic<uint64_t> stream_words[kNameMax / 8];
    std::atomic<uint64_t> consumer_words[kNameMax / 8];
};
static_assert(sizeof(BridgeEntry) == 4 * kCacheLine);
static_assert(offsetof(BridgeEntry, direction) == 8 && offsetof(BridgeEntry, group) == 12);
static_assert(offsetof(BridgeEntry, connected) == 16 && offsetof(BridgeEntry, updated_unix_ns) == 24);
static_assert(offsetof(BridgeEntry, counters) == 32 && offsetof(BridgeEntry, stream_words) == 2 * kCacheLine);
static_assert(offsetof(BridgeEntry, consumer_words) == 3 * kCacheLine);
static_assert(static_cast<uint32_t>(BridgeCounter::count) <= 8);

// Each limit against the fields that store it (owner bits: beside owner_token).
template <class T>
constexpr uint64_t max_of() { return std::numeric_limits<T>::max(); }
static_assert(kMaxParticipants <= max_of<decltype(QueueParams::max_participants)>());
static_assert(kMaxGroups <= max_of<decltype(QueueParams::max_groups)>());
static_assert(kMaxGroups < kNoGroup && kNoGroup == max_of<decltype(ParticipantEntry::group)::value_type>(),
              "a group index fits ParticipantEntry::group below its 'no group' value");
static_assert(kMaxGroups - 1 <= max_of<decltype(DlqSlotHeader::group_index)>());
static_assert(kMaxPartitions <= max_of<decltype(QueueParams::partitions)>());
static_assert(kMaxPartitions - 1 <= max_of<decltype(DlqSlotHeader::partition)>());
static_assert(kMaxCapacity <= max_of<decltype(QueueParams::capacity)>());
static_assert(kMaxDeliveries <= max_of<decltype(QueueParams::max_deliveries)>() &&
              kMaxDeliveries <= max_of<decltype(DlqSlotHeader::deliveries)>());
static_assert(kMaxKeyBytes <= max_of<decltype(SlotHeader::key_len)>() &&
              kMaxKeyBytes <= max_of<decltype(DlqSlotHeader::key_len)>());

}  // namespace shmq::layout
