// Process-local state of one Producer handle. Reference-counted by hand, as
// ConsumerCore is: the Producer handle and each open Claim keep it (a claim
// may be committed or aborted after the handle is gone, on any thread). The
// last of them deletes it, which detaches the participant, so the reaper and
// shmqd see the producer attached (alive) while any of its claims is open.
#pragma once

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "shmq/internal/attributes.hpp"
#include "shmq/internal/commit_barrier.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/writer_token.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/partition_view.hpp"

namespace shmq::detail {

// The slot one send or claim fills: partition, offset (the spill sequence
// when `staged`), and the slot's first byte (its header).
struct PreparedSlot {
    uint32_t partition = 0;
    uint64_t offset = 0;
    std::byte* base = nullptr;
    bool staged = false;
};

// A transaction's prepared outputs: `count` consecutive slots from `offset`
// of the partition's ring, or of its staging ring when `staged` (on_full=
// spill; offsets are then spill sequences). One per run of a send_batch, and
// single sends that follow each other extend it: no record per message.
struct SlotRun {
    uint64_t offset;
    uint32_t partition;
    uint16_t count;
    bool staged;
};
static_assert(sizeof(SlotRun) == 16, "kept small: a transaction's outputs are a vector of them");

// Appends `slots` to `runs`, extending the last run when they continue it.
inline void append_slots(std::vector<SlotRun>& runs, const SlotRun& slots) {
    if (!runs.empty()) {
        SlotRun& last = runs.back();
        if (last.partition == slots.partition && last.staged == slots.staged &&
            last.offset + last.count == slots.offset && last.count <= UINT16_MAX - slots.count) {
            last.count = static_cast<uint16_t>(last.count + slots.count);
            return;
        }
    }
    runs.push_back(slots);
}

struct ProducerCore {
    std::shared_ptr<Region> region;
    Participant me;
    std::vector<ring::PartitionView> views;  // by partition index: cached addresses
    std::vector<uint64_t> limits;            // by partition index: cached head + capacity (room)
    std::vector<ring::RingRef> staging;      // on_full=spill: by partition index, else empty
    // The writer role (commit_protocol.hpp (6)-(8), writer_token.hpp
    // (9)-(14)): `exclusive` once ProducerOptions::exclusive took every
    // partition; else, WriterMode::automatic, `held` by partition index while
    // this producer holds the role automatically. For a held partition: the
    // next offset it claims (its own copy of the tail), and whether that is
    // still the one offset a shared claimer may race it for.
    WriterMode mode = WriterMode::automatic;
    bool exclusive = false;
    bool dedup = false;  // the queue has a dedup window: send() takes the outcome path
    bool delays = false;  // the queue has a delay store: prepare() may move due messages first
    bool moving = false;  // inside a move (its sends must not move again)
    std::vector<uint8_t> held;
    uint32_t held_count = 0;
    std::vector<uint64_t> own_next;
    std::vector<uint8_t> contested;
    uint32_t round_robin = 0;
    uint32_t ops_since_heartbeat = 0;
    // The count, biased so that claim() needs no atomic RMW (one per claim,
    // at its close, instead of two):
    //   live = kHandleBias - (claims closed: commit/abort, any thread)
    //   opened = claims handed out (claim() and the handle's release only:
    //            the producer's thread)
    // The handle's release takes kHandleBias - opened away, leaving opened -
    // closed = the claims still open. live reaches 0 exactly once: when the
    // handle and every claim are gone (closed <= opened < kHandleBias).
    static constexpr uint64_t kHandleBias = uint64_t{1} << 63;
    std::atomic<uint64_t> live{kHandleBias};
    uint64_t opened = 0;
    // Last: the members above keep the places (and cache lines) they had.
    uint64_t next_help_ns = 0;  // coarse monotonic: the next look at the delay store (one per ms at most)

    ~ProducerCore();
    // ProducerOptions::exclusive: the writer role of every partition, or throws.
    void take_exclusive();
    void give_back_exclusive() noexcept;
    // WriterMode::automatic: takes the role of every partition nobody holds,
    // if no other producer is attached (writer_token.hpp (9)). At open, and
    // every 4096 sends while some partition is not held.
    void take_auto() noexcept;
    bool alone() const noexcept;  // no other producer attached
    // (11) The automatic role of q goes back (a request, commit_fence, close).
    void lose_auto(uint32_t q) noexcept;
    // One attempt to claim a slot of q: the shared protocol, or the
    // writer's stores. busy: another producer holds the role.
    ring::ClaimResult claim_once(uint32_t q, uint64_t& offset) noexcept;
    ring::ClaimResult claim_held(uint32_t q, uint64_t& offset) noexcept;  // (6), (7)
    // After `busy` on q: whether an exclusive writer holds it, gave it back
    // meanwhile, or nobody explains the tail's bit (a damaged region).
    enum class WriterState { held, released, damaged, timeout };
    WriterState writer_state(uint32_t q) noexcept;
    // After `busy` on q: an automatic holder is asked for the role and gives
    // it back, or we give it back for it (writer_token.hpp (10)-(14)),
    // waiting at most `timeout`; an exclusive holder: held.
    WriterState contend(uint32_t q, Millis timeout) noexcept;
    void release_handle() noexcept { drop(kHandleBias - opened); }  // may delete the core
    void release_claim() noexcept { drop(1); }                       // may delete the core
    void drop(uint64_t n) noexcept {
        // acq_rel: whoever deletes sees every write of the other holders.
        if (live.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
    }
    // Claims a slot in partition `p` (or, when `may_switch`, any partition with
    // room), applying the queue's on_full policy. On success `p` and `offset`
    // name the claimed slot.
    Status claim_slot(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept;
    Status claim_slot_slow(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept;  // full, or corrupt
    // on_full=spill: a slot in the ring of p while p is not spilling and has
    // room, else a staging slot (`staged`; `offset` is then the spill
    // sequence). Waits up to `timeout` only for room in staging.
    Status claim_spilling(uint32_t p, Millis timeout, uint64_t& offset, bool& staged) noexcept;
    // Slot addresses of a claim: in the ring, or in staging when `staged`.
    std::byte* slot_base(uint32_t p, uint64_t offset, bool staged) const noexcept {
        return staged ? staging[p].base(offset) : views[p].slot_base(offset);
    }
    // The ring holding a transaction's output slot.
    const ring::RingRef& ring_of(const SlotRun& s) const noexcept {
        return s.staged ? staging[s.partition] : views[s.partition].ring;
    }
    // Writes the header of a claimed slot.
    void write_header(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len, uint64_t unix_ns,
                      uint16_t flags = 0) noexcept;
    // send's commit: header, publish (a release store), the doorbells, housekeeping.
    void publish(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len, uint16_t flags = 0) noexcept;
    // Claim::commit's: the same with the CAS commit (the claim may have been aborted).
    Status publish_claim(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len) noexcept;
    // After a publish of p up to `offset`: room ahead, the next slot's lines, heartbeat.
    void after_publish(uint32_t p, uint64_t offset, uint32_t messages) noexcept;
    // The same for a staging slot: shmqd picks it up (no wake-up: it polls).
    Status publish_staged(uint32_t p, uint64_t seq, uint32_t payload_len, uint16_t key_len, uint16_t flags = 0) noexcept;
    // The header of a staging slot (spill sequence `seq`), before its commit.
    void write_staged_header(uint32_t p, uint64_t seq, uint32_t payload_len, uint16_t key_len, uint16_t flags) noexcept;
    // send() of a message with a dedup id (shmq/internal/dedup.hpp); with an
    // attribute `block` in front of the payload when not empty.
    Status send_deduplicated(std::span<const std::byte> payload, const SendOptions& options, std::string_view id,
                             SendOutcome& outcome, std::span<const std::byte> block = {}) noexcept;
    // send() of a message with an attribute block (shmq/internal/attributes.hpp,
    // not empty): Publisher::publish's. block + payload count against
    // max_message. A dedup_content queue's content id covers key and payload only.
    // `outcome`, when given, says where it went (or, a duplicate, where the original is).
    Status send_attributed(std::span<const std::byte> payload, const SendOptions& options,
                           std::span<const std::byte> block, SendOutcome* outcome = nullptr) noexcept;
    uint32_t choose_partition(std::string_view key) noexcept;
    // SendOptions::ttl (not 0) as an attribute block, for send() and a
    // Transaction's sends: invalid_argument out of 1 ms..2^32 - 1 ms or on a
    // drop_oldest queue. The queue learns, once, that its messages may carry
    // TTLs (DlqControl::message_ttls, before the send's commit), and shmqd is
    // told so that its expiry looks begin.
    Status ttl_block(const SendOptions& options, attrs::Block& block) noexcept;
    // Producer::send with an outcome (the movers' publish too).
    Status send_outcome(std::span<const std::byte> payload, const SendOptions& options, SendOutcome& outcome) noexcept;
    // A send with SendOptions::delay: into the delay store (shmq/internal/delay_store.hpp).
    // `block`: an attribute block (a TTL) the message carries into its partition; empty: none.
    Status send_delayed(std::span<const std::byte> payload, const SendOptions& options, SendOutcome* outcome,
                        std::span<const std::byte> block = {}) noexcept;
    // Moves due delayed messages when no shmqd does (shmq/internal/delay_mover.hpp).
    void help_move_due() noexcept;
    // send_batch on a queue that does not spill: the batch into one
    // partition, in runs claimed at once; `sent` counts what went out.
    // With `prepared` (a transaction's send_batch): each claim word ends
    // prepared instead of committed (tx_protocol.hpp (T2)), nothing is woken,
    // and the slots are appended there (append_slots: a run each).
    Status send_run(std::span<const std::span<const std::byte>> payloads, const SendOptions& options,
                    std::size_t& sent, std::vector<SlotRun>* prepared = nullptr) noexcept;
    // The one preparation path of send and claim: checks `size` and
    // `options`, chooses the partition, claims a slot under the on_full
    // policy (a staging slot while spilling) and copies the key in. On
    // success the slot is claimed and `out` names it. Inline: send's hot path.
    Status prepare(std::size_t size, const SendOptions& options, PreparedSlot& out) noexcept;
    // Gives a claimed, unpublished slot up (consumers skip it).
    void abort_prepared(const PreparedSlot& slot) noexcept;
    // A claimed slot's extension: its dedup id, the table entry naming it (0: none), its redrives.
    void write_extension(const PreparedSlot& slot, std::string_view id, uint32_t entry_ref, uint16_t redrives) noexcept {
        auto* ext = region->slot_extension(slot.base);
        ext->entry_ref = entry_ref;
        ext->redrives = redrives;
        ext->id_len = static_cast<uint16_t>(id.size());
        std::memcpy(ext->id, id.data(), id.size());
    }
    // The rest of a send once prepared (and its extension written): copy, publish.
    Status finish_send(const PreparedSlot& slot, std::span<const std::byte> payload, uint16_t key_len,
                       uint16_t flags = 0) noexcept {
        std::memcpy(slot.base + layout::kSlotHeaderBytes, payload.data(), payload.size());
        const auto len = static_cast<uint32_t>(payload.size());
        if (slot.staged) return publish_staged(slot.partition, slot.offset, len, key_len, flags);
        publish(slot.partition, slot.offset, len, key_len, flags);
        return Errc::ok;
    }
    // The same with an attribute block (not empty) before the payload: the
    // slot was prepared for block + payload bytes; payload_len counts both.
    Status finish_send_attributed(const PreparedSlot& slot, std::span<const std::byte> block,
                                  std::span<const std::byte> payload, uint16_t key_len, uint16_t flags = 0) noexcept {
        std::byte* to = slot.base + layout::kSlotHeaderBytes;
        // The block is whole 8-byte words (layout.hpp), most often one to
        // four: copied inline, not through a memcpy call of unknown size.
        for (std::size_t i = 0; i < block.size(); i += 8) std::memcpy(to + i, block.data() + i, 8);
        if (!payload.empty()) std::memcpy(to + block.size(), payload.data(), payload.size());
        const auto len = static_cast<uint32_t>(block.size() + payload.size());
        flags |= layout::kSlotAttributes;
        if (slot.staged) return publish_staged(slot.partition, slot.offset, len, key_len, flags);
        publish(slot.partition, slot.offset, len, key_len, flags);
        return Errc::ok;
    }
};

inline ring::ClaimResult ProducerCore::claim_once(uint32_t q, uint64_t& offset) noexcept {
    const ring::RingRef& ring = views[q].ring;
    if (!held[q]) return ring::try_claim(ring, me.id(), limits[q], offset);
    if (exclusive) return claim_held(q, offset);
    Region& r = *region;
    auto& pc = r.partition(q);
    if (!ring::holder_enter(pc.writer_sending, pc.writer, ring::auto_writer(me.token()), r.header().commit_fence,
                            HardwareBarriers{})) {  // (10): asked for the role, or fences in use
        lose_auto(q);
        ring::holder_leave(pc.writer_sending);
        return ring::try_claim(ring, me.id(), limits[q], offset);
    }
    const ring::ClaimResult rc = claim_held(q, offset);
    ring::holder_leave(pc.writer_sending);  // (10) H3: after the tail store
    return rc;
}

inline ring::ClaimResult ProducerCore::claim_held(uint32_t q, uint64_t& offset) noexcept {
    const ring::RingRef& ring = views[q].ring;
    if (contested[q]) {  // (6): the first offset, which a shared claimer may have taken
        const auto rc = ring::claim_contested(ring, me.id(), own_next[q], limits[q]);
        if (rc == ring::ClaimResult::full || rc == ring::ClaimResult::corrupt) return rc;
        contested[q] = 0;
        if (rc == ring::ClaimResult::claimed) {
            offset = own_next[q]++;
            return rc;
        }
        ++own_next[q];  // busy: a shared claimer has it; the rest is ours
    }
    if (ring::claim_exclusive(ring, me.id(), own_next[q], limits[q], 1,
                              [] { crash_point(CrashPoint::after_claim_word); }) == 0)
        return ring::ClaimResult::full;
    offset = own_next[q] - 1;
    return ring::ClaimResult::claimed;
}

[[gnu::always_inline]] inline Status ProducerCore::prepare(std::size_t size, const SendOptions& options,
                                                          PreparedSlot& out) noexcept {
    Region& r = *region;
    if (delays) [[unlikely]] help_move_due();
    if (size > r.params().max_message) return Errc::message_too_large;
    if (options.key.size() > kMaxKeyBytes) return Errc::key_too_large;
    if (options.partition && *options.partition >= r.partitions()) return Errc::invalid_argument;
    // Deleted (or removed, or damaged): refused, not written into a ring
    // nobody will read again. The same line damaged() loads; a delete
    // landing after this check still takes the message with it.
    if (r.deleted()) [[unlikely]] return r.gone_error();
    uint32_t p = options.partition ? *options.partition : choose_partition(options.key);
    uint64_t offset = 0;
    bool staged = false;
    if (staging.empty()) {
        const bool may_switch = options.key.empty() && !options.partition;
        if (Status st = claim_slot(p, may_switch, options.timeout, offset); !st) return st;
    } else if (Status st = claim_spilling(p, options.timeout, offset, staged); !st) {
        return st;
    }
    std::byte* base = slot_base(p, offset, staged);
    if (!options.key.empty()) std::memcpy(base + views[p].key_offset, options.key.data(), options.key.size());
    out = PreparedSlot{p, offset, base, staged};
    return Errc::ok;
}

}  // namespace shmq::detail
