// Producer and Claim: choosing a partition, claiming a slot under the
// queue's on_full policy, copying in, committing.
#include <algorithm>
#include <cstring>
#include <ctime>
#include <sched.h>
#include <vector>

#include "hash.hpp"
#include "producer_core.hpp"
#include "ring/ack_latency.hpp"
#include "shmq/internal/attributes.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/dedup.hpp"
#include "shmq/internal/delay_mover.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "ring/drop_oldest.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/spill_protocol.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"
#include "shmq/internal/reaper.hpp"

namespace shmq {

namespace detail {

namespace {
constexpr int kSpinBeforeSleep = 256;  // x 32 pauses (~0.4 ms at ~50 ns a pause), then park
// After this many rounds of pauses, each further round also yields the CPU:
// a consumer that shares it (more processes than CPUs) frees the room
// meanwhile; alone on its CPU, sched_yield returns at once
// (docs/PERFORMANCE.md, "Producers waiting for room").
constexpr int kSpinBeforeYield = 8;
constexpr uint64_t kReleaseEvery = 32;    // slots between incremental releases (a power of two)
constexpr int64_t kSleepSliceNs = 5'000'000;  // re-check room (wake-ups come in batches), deletion, dead lock holders
constexpr int64_t kStagingPollNs = 100'000;   // shmqd drains staging by polling; so do producers waiting on it
constexpr uint32_t kMaxRun = 64;  // send_batch: messages published per tail store and wake-up
constexpr uint64_t kHandoverMinNs = 10'000'000;  // a contender waits this long for a handover even with timeout 0
}  // namespace

ProducerCore::~ProducerCore() {
    give_back_exclusive();  // every claim is finished: they held this core
    detach_participant(*region, me);
}

void ProducerCore::take_exclusive() {
    Region& r = *region;
    if (!staging.empty())
        throw Error(Errc::invalid_argument, "queue '" + r.name() +
                                                "' spills to disk (on_full=spill): shmqd refills its partitions, so it "
                                                "cannot have an exclusive producer; open a shared one");
    const uint32_t parts = r.partitions();
    own_next.assign(parts, 0);
    contested.assign(parts, 1);
    auto refuse = [&](uint32_t p, const std::string& why) {  // gives back partitions [0, p), throws
        exclusive = true;
        held.assign(parts, 0);
        std::fill(held.begin(), held.begin() + p, 1);
        give_back_exclusive();
        throw Error(Errc::writer_busy, "partition " + std::to_string(p) + " of queue '" + r.name() + "' " + why);
    };
    for (uint32_t p = 0; p < parts; ++p) {
        auto& writer = r.partition(p).writer;
        for (int round = 0;; ++round) {
            uint64_t holder = 0;
            // (6) acq_rel: after a previous holder's give-back.
            if (writer.compare_exchange_strong(holder, me.token(), std::memory_order_acq_rel)) break;
            if (ring::writer_is_auto(holder) && round < 64) {
                // An automatic holder (or a handover): ask for the role back, then take it.
                if (contend(p, Millis(1000)) == WriterState::released) continue;
            }
            if (round == 0 && participant_liveness(r, holder) != Liveness::alive) {
                if (layout::token_id(holder) != 0) reap_participant(r, layout::token_id(holder) - 1, me.id());
                detail::break_lock_if_dead(r, writer);  // a holder whose entry is gone
                continue;
            }
            refuse(p, "already has an exclusive producer; close it first, or open a shared producer");
        }
        if (!ring::take_exclusive(views[p].ring, own_next[p])) {
            // The bit with no writer named (every holder and reaper clears
            // the bit before the word): damage. Ours goes back, then refuse.
            writer.store(0, std::memory_order_release);
            refuse(p, "has an exclusive bit in its tail that no producer holds (a damaged region?); see `shmq stat`");
        }
    }
    exclusive = true;
    held.assign(parts, 1);
    held_count = parts;
}

void ProducerCore::give_back_exclusive() noexcept {
    Region& r = *region;
    if (!exclusive) {
        for (uint32_t p = 0; p < held.size(); ++p)
            if (held[p]) lose_auto(p);  // (11)
        return;
    }
    for (uint32_t p = 0; p < held.size(); ++p) {
        if (!held[p]) continue;
        ring::release_exclusive(views[p].ring, own_next[p]);  // (8)
        uint64_t mine = me.token();
        r.partition(p).writer.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
        held[p] = 0;
    }
    held_count = 0;
    exclusive = false;
}

bool ProducerCore::alone() const noexcept {
    const Region& r = *region;
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        if (i == me.index) continue;
        ParticipantView v;
        if (read_participant(r, i, v) && v.role == layout::Role::producer) return false;
    }
    return true;
}

void ProducerCore::take_auto() noexcept {
    Region& r = *region;
    // (9), (14): not on a spilling queue (shmqd refills it), not while fences
    // stand in for membarrier, and only while no other producer is attached.
    if (mode != WriterMode::automatic || exclusive || !staging.empty() || r.read_only()) return;
    if (r.header().commit_fence.load(std::memory_order_relaxed) != 0 || !alone()) return;
    const uint32_t parts = r.partitions();
    for (uint32_t p = 0; p < parts; ++p) {
        if (held[p]) continue;
        uint64_t first = 0;
        if (!ring::take_auto(views[p].ring, r.partition(p).writer, me.token(), first)) continue;
        own_next[p] = first;
        contested[p] = 1;
        held[p] = 1;
        ++held_count;
    }
}

void ProducerCore::lose_auto(uint32_t q) noexcept {
    if (!held[q]) return;
    held[q] = 0;
    --held_count;
    // (11): give back at our cursor, unless a contender's handover took it.
    ring::holder_give_back(views[q].ring, region->partition(q).writer, me.token(), own_next[q]);
}

ProducerCore::WriterState ProducerCore::contend(uint32_t q, Millis timeout) noexcept {
    Region& r = *region;
    auto& pc = r.partition(q);
    const ring::RingRef& ring = views[q].ring;
    const uint64_t start = sys::monotonic_ns();
    const uint64_t limit = timeout == kForever ? UINT64_MAX
                                               : std::max<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)) * 1'000'000ull,
                                                                    kHandoverMinNs);
    for (uint64_t spin = 0;; ++spin) {
        if ((spin & 255) == 255) {
            if (r.damaged()) return WriterState::damaged;
            if (r.deleted() || sys::monotonic_ns() - start >= limit) return WriterState::timeout;
            heartbeat(r, me, sys::coarse_monotonic_ns());
        }
        if (spin > 64) sys::cpu_relax();
        if (!ring::tail_exclusive(pc.tail.load(std::memory_order_acquire))) return WriterState::released;
        uint64_t w = pc.writer.load(std::memory_order_acquire);
        if (!ring::writer_is_auto(w)) {
            const WriterState st = writer_state(q);  // an exclusive holder, a give-back, or damage
            if (st != WriterState::released) return st;
            continue;
        }
        // (13): a dead holder (or a dead one mid-handover) is reaped; we go on.
        if ((spin & 1023) == 1023 && participant_liveness(r, ring::writer_token(w)) != Liveness::alive) {
            reap_participant(r, layout::token_id(w) - 1, me.id());
            continue;
        }
        if (ring::writer_in_handover(w)) continue;  // (11): someone is giving it back
        const uint32_t req = ring::writer_requester(w);
        if (req != 0 && req != me.id()) {
            // (12): another contender asked; it finishes, unless it is gone.
            if ((spin & 1023) != 1023) continue;
            const uint64_t s = r.participant(req - 1).state.load(std::memory_order_acquire);
            if (participant_liveness(r, layout::owner_token(req, layout::participant_gen(s))) == Liveness::alive) continue;
        }
        if (!ring::request_handover(pc.writer, w, me.id())) continue;  // C1
        ring::revoker_barrier(r.header().commit_fence);  // C2: membarrier, or (14) fence and drain
        // C3: the holder's claim in flight, if any, finishes (its tail store).
        bool quiet = false;
        for (uint64_t wait = 0;; ++wait) {
            if ((quiet = ring::holder_quiet(pc.writer_sending))) break;
            if (pc.writer.load(std::memory_order_acquire) != w) break;  // given back meanwhile
            sys::cpu_relax();
            if ((wait & 1023) == 1023) {
                if (participant_liveness(r, ring::writer_token(w)) != Liveness::alive) {
                    reap_participant(r, layout::token_id(w) - 1, me.id());  // (13)
                    break;
                }
                if (r.deleted() || sys::monotonic_ns() - start >= limit) return WriterState::timeout;
                heartbeat(r, me, sys::coarse_monotonic_ns());
            }
        }
        if (quiet && ring::contender_give_back(ring, pc.writer, w, me.token())) return WriterState::released;  // (11)
    }
}

uint32_t ProducerCore::choose_partition(std::string_view key) noexcept {
    const uint32_t parts = region->partitions();
    if (!key.empty()) return static_cast<uint32_t>(fnv1a64(key) % parts);
    const uint32_t p = round_robin;
    round_robin = (round_robin + 1 == parts) ? 0 : round_robin + 1;
    return p;
}

Status ProducerCore::claim_slot(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept {
    // Fast path: room in the chosen partition.
    if (claim_once(p, offset) == ring::ClaimResult::claimed) return Errc::ok;
    return claim_slot_slow(p, may_switch, timeout, offset);
}

ProducerCore::WriterState ProducerCore::writer_state(uint32_t p) noexcept {
    // The tail's bit is set only while `writer` names a participant that is
    // attached (or dead and not yet reaped: the reaper clears the bit
    // first), commit_protocol.hpp (6), (8). A bit without one is damage,
    // unless the holder gave back between our loads: look again, a few times.
    Region& r = *region;
    auto& pc = r.partition(p);
    for (int look = 0; look < 3; ++look) {
        const uint64_t holder = pc.writer.load(std::memory_order_acquire);
        if (holder != 0 && participant_liveness(r, ring::writer_token(holder)) != Liveness::gone) return WriterState::held;
        if (!ring::tail_exclusive(pc.tail.load(std::memory_order_acquire))) return WriterState::released;
        sys::cpu_relax();
    }
    return WriterState::damaged;
}

Status ProducerCore::claim_slot_slow(uint32_t& p, bool may_switch, Millis timeout, uint64_t& offset) noexcept {
    Region& r = *region;
    const uint32_t parts = r.partitions();
    uint64_t min_batch = 1;  // while spinning: wait for a batch of room (see ring::reclaim)
    const bool drops = static_cast<OnFull>(r.params().on_full) == OnFull::drop_oldest;
    auto attempt = [&](uint32_t q, bool may_drop) -> int {  // 1 claimed, 0 full, -1 corrupt, -3 timeout, -4 busy
        for (;;) {
            switch (claim_once(q, offset)) {
                case ring::ClaimResult::claimed: p = q; return 1;
                case ring::ClaimResult::corrupt: return -1;
                case ring::ClaimResult::busy:
                    switch (contend(q, timeout)) {  // an automatic holder gives back; an exclusive one: busy
                        case WriterState::held: return -4;
                        case WriterState::damaged: return -1;
                        case WriterState::timeout: return -3;
                        case WriterState::released: continue;  // given back: claim again
                    }
                    return -1;
                case ring::ClaimResult::full:
                    if (ring::reclaim(r, q, me.token(), min_batch)) break;  // released slots: try again
                    if (!may_drop || ring::drop_oldest(r, q, me.token(), 1) == 0) return 0;
                    break;  // dropped the oldest: try again
            }
        }
    };
    auto attempt_any = [&]() -> int {
        int rc = attempt(p, false);
        for (uint32_t k = 1; rc == 0 && may_switch && k < parts; ++k) rc = attempt((p + k) % parts, false);
        if (rc == 0 && drops) rc = attempt(p, true);  // room nowhere: drop in the chosen partition
        return rc;
    };

    int rc = attempt_any();  // any room at all decides reject/timeout(0)
    if (rc == 1) return Errc::ok;
    auto& pc = r.partition(p);
    if (rc == -4) return Errc::writer_busy;
    if (rc == -3) return r.deleted() ? r.gone_error() : Status(Errc::timeout);
    if (rc < 0) return Errc::region_corrupt;
    if (r.deleted()) return r.gone_error();
    if (static_cast<OnFull>(r.params().on_full) == OnFull::reject) {
        pc.rejected.fetch_add(1, std::memory_order_relaxed);
        return Errc::overloaded;
    }
    if (timeout.count() <= 0) {
        pc.timeouts.fetch_add(1, std::memory_order_relaxed);
        return Errc::timeout;
    }
    min_batch = ring::release_batch(r.capacity());
    for (int spin = 0; spin < kSpinBeforeSleep; ++spin) {
        for (int i = 0; i < 32; ++i) sys::cpu_relax();  // let the consumers work; do not steal their lines
        if (spin >= kSpinBeforeYield) ::sched_yield();
        if ((rc = attempt_any()) != 0)
            return rc > 0     ? Status(Errc::ok)
                   : rc == -4 ? Status(Errc::writer_busy)
                   : rc == -3 ? Status(Errc::timeout)
                              : Status(Errc::region_corrupt);
    }
    min_batch = 1;  // asleep: any room will do (the wake-up itself waits for a batch)
    const uint64_t start = sys::monotonic_ns();
    const bool forever = timeout == kForever;
    const uint64_t limit = forever ? UINT64_MAX : static_cast<uint64_t>(timeout.count()) * 1'000'000ull;
    heartbeat(r, me, sys::coarse_monotonic_ns());
    for (;;) {
        // Doorbell pattern (shmq/internal/futex.hpp): announce, snapshot, re-check, sleep.
        pc.space_waiters.fetch_add(1, std::memory_order_seq_cst);
        const uint32_t seen = pc.space_doorbell.load(std::memory_order_seq_cst);
        pc.space_wanted.store(1, std::memory_order_seq_cst);  // after the snapshot (ring_doorbell_once)
        rc = attempt_any();
        if (rc == 0) {
            if (r.deleted()) rc = -2;
            else {
                // A dead reclaim-lock holder would keep us waiting forever.
                detail::break_lock_if_dead(r, pc.reclaim_lock);
                const uint64_t elapsed = sys::monotonic_ns() - start;
                if (elapsed >= limit) rc = -3;
                else
                    sys::futex_wait(pc.space_doorbell, seen,
                                    static_cast<int64_t>(std::min<uint64_t>(limit - elapsed, kSleepSliceNs)));
            }
        }
        pc.space_waiters.fetch_sub(1, std::memory_order_relaxed);
        heartbeat(r, me, sys::coarse_monotonic_ns());  // blocked, but alive
        switch (rc) {
            case 1: return Errc::ok;
            case -1: return Errc::region_corrupt;
            case -2: return r.gone_error();
            case -3: pc.timeouts.fetch_add(1, std::memory_order_relaxed); return Errc::timeout;
            case -4: return Errc::writer_busy;
            default: break;
        }
    }
}

Status ProducerCore::claim_spilling(uint32_t p, Millis timeout, uint64_t& offset, bool& staged) noexcept {
    Region& r = *region;
    auto& pc = r.partition(p);
    const uint64_t start = sys::monotonic_ns();
    const uint64_t limit = timeout == kForever ? UINT64_MAX : static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)) * 1'000'000ull;
    for (int round = 0;; ++round) {
        if (!ring::spill_is_active(pc)) {  // acquire: pairs with the deactivation (spill_protocol.hpp (4))
            for (;;) {
                const auto rc = ring::try_claim(views[p].ring, me.id(), limits[p], offset);
                if (rc == ring::ClaimResult::claimed) {
                    staged = false;
                    return Errc::ok;
                }
                if (rc == ring::ClaimResult::corrupt) return Errc::region_corrupt;
                if (rc == ring::ClaimResult::busy) return Errc::region_corrupt;  // no exclusive writer on a spilling queue
                if (!ring::reclaim(r, p, me.token())) break;  // full: spill
            }
        }
        uint64_t seq = 0;
        switch (ring::try_claim_spill(r, p, me.id(), me.token(), seq)) {
            case ring::SpillClaim::claimed: offset = seq; staged = true; return Errc::ok;
            case ring::SpillClaim::corrupt: return Errc::region_corrupt;
            case ring::SpillClaim::busy:
                if ((round & 63) == 63) detail::break_lock_if_dead(r, pc.spill_lock);
                sys::cpu_relax();
                continue;
            case ring::SpillClaim::full: break;
        }
        // Staging is full: shmqd has not drained it to disk yet, cannot
        // (data dir full), or is not running. Wait for it up to `timeout`.
        if (r.deleted()) return r.gone_error();
        const bool disk_trouble = pc.spill_status.load(std::memory_order_relaxed) != 0;
        if (disk_trouble || sys::monotonic_ns() - start >= limit) {
            pc.spill_refused.fetch_add(1, std::memory_order_relaxed);
            return Errc::overloaded;
        }
        heartbeat(r, me, sys::coarse_monotonic_ns());
        const timespec nap{0, kStagingPollNs};
        ::nanosleep(&nap, nullptr);
    }
}

void ProducerCore::write_staged_header(uint32_t p, uint64_t seq, uint32_t payload_len, uint16_t key_len,
                                       uint16_t flags) noexcept {
    auto& slot = *reinterpret_cast<layout::SlotHeader*>(staging[p].base(seq));
    slot.payload_len = payload_len;
    slot.key_len = key_len;
    slot.flags = flags;
    slot.publish_unix_ns = sys::unix_ns();
    slot.reserved = 0;
}

Status ProducerCore::publish_staged(uint32_t p, uint64_t seq, uint32_t payload_len, uint16_t key_len,
                                    uint16_t flags) noexcept {
    write_staged_header(p, seq, payload_len, key_len, flags);
    if (!ring::commit(staging[p], seq)) return Errc::claim_aborted;  // (2)
    wake_daemon_if_asked(*region);  // shmqd drains staging: it may be asleep
    return Errc::ok;
}

void ProducerCore::write_header(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len,
                                uint64_t unix_ns, uint16_t flags) noexcept {
    auto& slot = views[p].slot(offset);
    slot.payload_len = payload_len;
    slot.key_len = key_len;
    slot.flags = flags;
    // The coarse clock (a tick, 1-4 ms) costs ~5 ns; the precise one ~20 ns,
    // paid only by the offsets the publish -> ACK histogram samples.
    slot.publish_unix_ns = ring::ack_latency_sampled(offset) ? sys::unix_ns() : unix_ns;
}

void ProducerCore::publish(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len, uint16_t flags) noexcept {
    write_header(p, offset, payload_len, key_len, sys::coarse_unix_ns(), flags);
    crash_point(CrashPoint::after_copy);
    ring::publish(views[p].ring, offset);  // (5): a release store
    wake_after_publish(*region);
    after_publish(p, offset, 1);
}

Status ProducerCore::publish_claim(uint32_t p, uint64_t offset, uint32_t payload_len, uint16_t key_len) noexcept {
    write_header(p, offset, payload_len, key_len, sys::coarse_unix_ns());
    if (!ring::commit(views[p].ring, offset)) return Errc::claim_aborted;  // (3): seq_cst CAS
    wake_consumers(*region);
    wake_daemon_if_asked(*region);  // journaled queues: shmqd journals it
    after_publish(p, offset, 1);
    return Errc::ok;
}

void ProducerCore::after_publish(uint32_t p, uint64_t offset, uint32_t messages) noexcept {
    Region& r = *region;
    const ring::PartitionView& v = views[p];
    // The message is out; now the housekeeping, off the consumer's path.
    // Nearing the end of the room we know of: advance head now (reads
    // the groups' floors), so the next sends do not hit a full ring.
    if (offset + 1 + ring::release_batch(v.ring.capacity) >= limits[p] &&
        ((offset & (kReleaseEvery - 1)) == kReleaseEvery - 1 || messages > 1))
        ring::reclaim(r, p, me.token());
    // No prefetch of the next slot for writing: it took the line the
    // consumer polls away from it (measured: docs/PERFORMANCE.md, issue 17).
    if ((ops_since_heartbeat += messages) >= 4096) {
        auto& e = r.participant(me.index);
        e.operations.fetch_add(ops_since_heartbeat, std::memory_order_relaxed);
        e.heartbeat_ns.store(sys::coarse_monotonic_ns(), std::memory_order_relaxed);
        ops_since_heartbeat = 0;
        // (9): alone again (the other producers left)? Take the role back.
        if (mode == WriterMode::automatic && held_count < r.partitions()) take_auto();
    }
}

Status ProducerCore::ttl_block(const SendOptions& options, attrs::Block& block) noexcept {
    if (options.ttl.count() <= 0 || options.ttl.count() > UINT32_MAX ||
        static_cast<OnFull>(region->params().on_full) == OnFull::drop_oldest)
        return Errc::invalid_argument;
    (void)attrs::encode({}, {}, block, static_cast<uint32_t>(options.ttl.count()));
    auto& seen = region->dlq().message_ttls;
    if (seen.load(std::memory_order_relaxed) == 0 && seen.exchange(1, std::memory_order_relaxed) == 0)
        ring_daemon(*region);
    return Errc::ok;
}

Status ProducerCore::send_run(std::span<const std::span<const std::byte>> payloads, const SendOptions& options,
                              std::size_t& sent, std::vector<SlotRun>* prepared) noexcept {
    Region& r = *region;
    if (options.key.size() > kMaxKeyBytes) return Errc::key_too_large;
    if (options.partition && *options.partition >= r.partitions()) return Errc::invalid_argument;
    if (r.deleted()) [[unlikely]] return r.gone_error();  // as prepare()
    const uint32_t p = options.partition ? *options.partition : choose_partition(options.key);
    const ring::PartitionView& v = views[p];
    const auto key_len = static_cast<uint16_t>(options.key.size());
    const uint64_t unix_ns = sys::coarse_unix_ns();
    const std::size_t n = payloads.size();
    while (sent < n) {
        // A run: the messages that fit, claimed at once where we can.
        std::size_t fit = sent;
        while (fit < n && payloads[fit].size() <= r.params().max_message) ++fit;
        if (fit == sent) return Errc::message_too_large;
        const auto want = static_cast<uint32_t>(std::min<std::size_t>(fit - sent, kMaxRun));
        uint64_t offsets[kMaxRun];
        uint32_t got = 0;
        bool plain = held[p] && !contested[p];
        auto& pc = r.partition(p);
        if (plain && !exclusive &&
            !ring::holder_enter(pc.writer_sending, pc.writer, ring::auto_writer(me.token()), r.header().commit_fence,
                                HardwareBarriers{})) {  // (10): asked for the role
            lose_auto(p);
            ring::holder_leave(pc.writer_sending);
            plain = false;
        }
        if (plain) {
            // (7): one claim-word store each and one tail store for the run.
            got = ring::claim_exclusive(v.ring, me.id(), own_next[p], limits[p], want,
                                        [] { crash_point(CrashPoint::after_claim_word); });
            for (uint32_t k = 0; k < got; ++k) offsets[k] = own_next[p] - got + k;
            if (!exclusive) ring::holder_leave(pc.writer_sending);  // (10) H3
        } else if (!held[p]) {
            // Shared: a claim CAS each (other producers may interleave).
            while (got < want && ring::try_claim(v.ring, me.id(), limits[p], offsets[got]) == ring::ClaimResult::claimed)
                ++got;
        }
        if (got == 0) {
            // No room at once (or the contested first offset): one message
            // through the full path, which applies on_full.
            uint32_t q = p;
            if (Status st = claim_slot(q, false, options.timeout, offsets[0]); !st) return st;
            got = 1;
        }
        // A transaction's run: the lines its stores start on (header, the
        // payload's first, the claim word's) fetched for writing at once, so
        // that their misses overlap rather than queue in the store buffer one
        // by one (PERFORMANCE.md, Transactions). Readers poll none of them but
        // the first slot's state (nothing is committed before the commit
        // point); a plain run, which readers follow slot by slot, does not.
        if (prepared != nullptr)
            for (uint32_t k = 0; k < got; ++k) {
                const std::byte* b = v.slot_base(offsets[k]);
                __builtin_prefetch(b, 1);
                __builtin_prefetch(b + 64, 1);
                __builtin_prefetch(&v.ring.claim(offsets[k]), 1);
            }
        for (uint32_t k = 0; k < got; ++k) {
            const uint64_t o = offsets[k];
            const auto& payload = payloads[sent + k];
            std::byte* base = v.slot_base(o);
            if (key_len != 0) std::memcpy(base + v.key_offset, options.key.data(), key_len);
            std::memcpy(base + layout::kSlotHeaderBytes, payload.data(), payload.size());
            write_header(p, o, static_cast<uint32_t>(payload.size()), key_len, unix_ns);
            crash_point(CrashPoint::after_copy);
            if (prepared == nullptr)
                ring::publish(v.ring, o);  // (5)
            else
                ring::mark_prepared(v.ring, o, me.id());
        }
        if (prepared != nullptr) {  // one run when the claims were consecutive (always, held alone)
            if (offsets[got - 1] - offsets[0] == got - 1)
                append_slots(*prepared, {offsets[0], p, static_cast<uint16_t>(got), false});
            else
                for (uint32_t k = 0; k < got; ++k) append_slots(*prepared, {offsets[k], p, 1, false});
        }
        sent += got;
        // Wake once per run, before any wait for room (the consumers free it).
        if (prepared == nullptr) wake_after_publish(r);
        after_publish(p, offsets[got - 1], got);
    }
    return Errc::ok;
}

void ProducerCore::abort_prepared(const PreparedSlot& slot) noexcept {
    if (slot.staged) {
        ring::abort_claim(staging[slot.partition], slot.offset);  // shmqd skips it
        return;
    }
    ring::abort_claim(views[slot.partition].ring, slot.offset);
    region->partition(slot.partition).aborted.fetch_add(1, std::memory_order_relaxed);
    wake_consumers(*region);
    wake_daemon_if_asked(*region);  // the journal floor passes it
}

Status ProducerCore::send_deduplicated(std::span<const std::byte> payload, const SendOptions& options,
                                       std::string_view id, SendOutcome& outcome,
                                       std::span<const std::byte> block) noexcept {
    Region& r = *region;
    if (id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    if (block.size() + payload.size() > r.params().max_message) return Errc::message_too_large;
    if (options.key.size() > kMaxKeyBytes) return Errc::key_too_large;
    const dedup::IdHash h = dedup::hash_id(id);
    const uint64_t start = sys::monotonic_ns();
    const uint64_t limit = options.timeout == kForever ? UINT64_MAX
                                                       : static_cast<uint64_t>(std::max<int64_t>(options.timeout.count(), 0)) * 1'000'000ull;
    dedup::Reservation res;
    PreparedSlot slot;
    for (uint32_t round = 0;; ++round) {
        SendOutcome original;
        const dedup::Verdict v = dedup::reserve(r, me, h, sys::coarse_unix_ns() / 1'000'000, res, original);
        if (v == dedup::Verdict::reserved) {
            crash_point(CrashPoint::after_dedup_reserve);
            SendOptions rest = options;
            if (options.timeout != kForever) {  // what the waits so far used up
                const uint64_t spent_ms = (sys::monotonic_ns() - start) / 1'000'000;
                rest.timeout = Millis(std::max<int64_t>(options.timeout.count() - static_cast<int64_t>(spent_ms), 0));
            }
            if (Status st = prepare(block.size() + payload.size(), rest, slot); !st) {
                dedup::withdraw(r, res);
                return st;
            }
            // (2): the extension names the entry before the entry says claimed.
            write_extension(slot, id, res.ref, 0);
            if (dedup::record_claim(r, res, slot.partition, slot.offset, slot.staged)) break;
            // Our entry is gone (its generation was reset under a send that
            // waited for room past 1.5 windows): nothing is published; decide again.
            abort_prepared(slot);
            continue;
        }
        if (v == dedup::Verdict::duplicate) {
            outcome = original;
            if (original.partition < r.partitions())
                r.partition(original.partition).duplicates.fetch_add(1, std::memory_order_relaxed);
            return Errc::ok;
        }
        if (v == dedup::Verdict::full) return Errc::overloaded;
        // wait: the id's first sender is mid-send (or being reaped).
        if (r.deleted()) return r.gone_error();
        if (sys::monotonic_ns() - start >= limit) return Errc::timeout;
        if ((round & 255) == 255) heartbeat(r, me, sys::coarse_monotonic_ns());
        const timespec nap{0, round < 64 ? 2'000 : 50'000};
        ::nanosleep(&nap, nullptr);
    }
    const auto key_len = static_cast<uint16_t>(options.key.size());
    if (Status st = block.empty() ? finish_send(slot, payload, key_len, layout::kSlotDedupId)
                                  : finish_send_attributed(slot, block, payload, key_len, layout::kSlotDedupId);
        !st) {
        dedup::withdraw(r, res);  // a staged claim the reaper aborted (a long stall)
        return st;
    }
    crash_point(CrashPoint::after_dedup_publish);
    dedup::record_commit(r, res, sys::coarse_unix_ns() / 1'000'000);
    outcome = SendOutcome{slot.partition, slot.offset, false, slot.staged};
    return Errc::ok;
}

namespace {
// send_attributed on a queue with a dedup window: kept out of its body, so
// that prepare() is inlined there as in Producer::send (measured: called, it
// cost the publish ~9 ns).
[[gnu::noinline, gnu::cold]] Status send_attributed_dedup(ProducerCore& c, std::span<const std::byte> payload,
                                                          const SendOptions& options, std::span<const std::byte> block,
                                                          SendOutcome& out) noexcept {
    if (!options.dedup_id.empty()) return c.send_deduplicated(payload, options, options.dedup_id, out, block);
    const auto id = dedup::content_id(options.key, payload);
    return c.send_deduplicated(payload, options, std::string_view(id.data(), id.size()), out, block);
}
}  // namespace

Status ProducerCore::send_attributed(std::span<const std::byte> payload, const SendOptions& options,
                                     std::span<const std::byte> block, SendOutcome* outcome) noexcept {
    if (options.delay.count() != 0) [[unlikely]]
        return Errc::invalid_argument;  // a publish through an exchange carries no delay
    if (dedup && (!options.dedup_id.empty() || region->params().dedup_content != 0)) [[unlikely]] {
        SendOutcome ignored;
        return send_attributed_dedup(*this, payload, options, block, outcome != nullptr ? *outcome : ignored);
    }
    if (options.dedup_id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    PreparedSlot slot;
    if (Status st = prepare(block.size() + payload.size(), options, slot); !st) return st;
    if (outcome != nullptr) *outcome = SendOutcome{slot.partition, slot.offset, false, slot.staged};
    return finish_send_attributed(slot, block, payload, static_cast<uint16_t>(options.key.size()));
}

Status send_with_attributes(Producer& producer, std::span<const std::byte> payload, const SendOptions& options,
                            std::span<const std::byte> attribute_block, SendOutcome& outcome) noexcept {
    if (attribute_block.empty()) return producer.send(payload, options, outcome);
    return producer.core_->send_attributed(payload, options, attribute_block, &outcome);
}

Status send_carrying_id(Producer& producer, std::span<const std::byte> payload, const SendOptions& options,
                        std::string_view dedup_id, uint16_t redrives, std::span<const std::byte> block) noexcept {
    ProducerCore& c = *producer.core_;
    Region& r = *c.region;
    if (dedup_id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    PreparedSlot slot;
    if (Status st = c.prepare(block.size() + payload.size(), options, slot); !st) return st;
    const auto key_len = static_cast<uint16_t>(options.key.size());
    uint16_t flags = 0;
    if (r.params().ext_size != 0 && !dedup_id.empty()) {
        c.write_extension(slot, dedup_id, 0, redrives);  // names no table entry: the window does not see this copy
        flags = layout::kSlotDedupId;
    }
    return block.empty() ? c.finish_send(slot, payload, key_len, flags)
                         : c.finish_send_attributed(slot, block, payload, key_len, flags);
}

Status ProducerCore::send_outcome(std::span<const std::byte> payload, const SendOptions& options,
                                  SendOutcome& outcome) noexcept {
    if (options.delay.count() != 0) return send_delayed(payload, options, &outcome);
    const auto& params = region->params();
    if (params.dedup_window_ms != 0 && (!options.dedup_id.empty() || params.dedup_content != 0)) {
        if (!options.dedup_id.empty()) return send_deduplicated(payload, options, options.dedup_id, outcome);
        const auto id = dedup::content_id(options.key, payload);
        return send_deduplicated(payload, options, std::string_view(id.data(), id.size()), outcome);
    }
    if (options.dedup_id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    PreparedSlot slot;
    if (Status st = prepare(payload.size(), options, slot); !st) return st;
    outcome = SendOutcome{slot.partition, slot.offset, false, slot.staged};
    return finish_send(slot, payload, static_cast<uint16_t>(options.key.size()));
}

Status ProducerCore::send_delayed(std::span<const std::byte> payload, const SendOptions& options,
                                  SendOutcome* outcome, std::span<const std::byte> block) noexcept {
    Region& r = *region;
    help_move_due();
    // The checks a send would make, now: a message the store took must be publishable when due.
    if (options.delay.count() < 0 || r.delay_capacity() == 0) return Errc::invalid_argument;
    if (block.size() + payload.size() > r.params().max_message) return Errc::message_too_large;
    if (options.key.size() > kMaxKeyBytes) return Errc::key_too_large;
    if (options.partition && *options.partition >= r.partitions()) return Errc::invalid_argument;
    if (options.dedup_id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    if (r.deleted()) return r.gone_error();
    // With a block, the store keeps block + payload as a slot would (flags say so).
    std::vector<std::byte> joined;
    if (!block.empty()) {
        joined.reserve(block.size() + payload.size());
        joined.insert(joined.end(), block.begin(), block.end());
        joined.insert(joined.end(), payload.begin(), payload.end());
    }
    const uint64_t now = sys::unix_ns();
    const auto delay_ms = static_cast<uint64_t>(options.delay.count());
    // No cap: a delay beyond the clock's range saturates (due "never").
    const uint64_t due = delay_ms >= (layout::kNoDue - now) / 1'000'000 ? layout::kNoDue - 1 : now + delay_ms * 1'000'000;
    delay::StoredMessage m;
    m.payload = block.empty() ? payload : std::span<const std::byte>(joined);
    m.flags = block.empty() ? 0 : layout::kSlotAttributes;
    m.key = options.key;
    m.id = options.dedup_id;
    m.partition = options.partition ? *options.partition + 1 : 0;
    m.due_unix_ns = due;
    m.sent_unix_ns = now;
    bool earliest = false, ring = false;
    if (Status st = delay::add(r, me.token(), m, earliest, ring); !st) return st;
    if (ring) ring_daemon(r);            // shmqd sleeps past this due time: it plans again
    if (earliest) wake_consumers(r);     // consumers moving without shmqd sleep until the earliest
    wake_daemon_if_asked(r);             // shmqd snapshots the store of a journaled queue
    if (outcome != nullptr) {
        const uint32_t p = options.partition      ? *options.partition
                           : !options.key.empty() ? static_cast<uint32_t>(fnv1a64(options.key) % r.partitions())
                                                  : 0;
        *outcome = SendOutcome{p, 0, false, false, true};
    }
    return Errc::ok;
}

void ProducerCore::help_move_due() noexcept {
    if (moving) return;
    const uint64_t now = sys::coarse_monotonic_ns();
    if (now < next_help_ns) return;
    next_help_ns = now + 1'000'000;
    const uint64_t unix_now = sys::unix_ns();
    if (!delay::peer_should_move(*region, unix_now)) return;
    moving = true;
    (void)delay::move_due(*this, unix_now, false);
    moving = false;
}

}  // namespace detail

namespace {
// Kept out of send()'s body: inlined there it cost plain sends ~2 ns (BM_Send/64).
[[gnu::noinline, gnu::cold]] Status send_with_outcome(Producer& p, std::span<const std::byte> payload,
                                                      const SendOptions& options) noexcept {
    SendOutcome ignored;
    return p.send(payload, options, ignored);
}

// A send with its own TTL (SendOptions::ttl): the TTL goes in an attribute
// block (layout.hpp) in front of the payload.
[[gnu::noinline, gnu::cold]] Status send_with_ttl(detail::ProducerCore& c, std::span<const std::byte> payload,
                                                  const SendOptions& options, SendOutcome& outcome) noexcept {
    attrs::Block block;
    if (Status st = c.ttl_block(options, block); !st) return st;
    // Delayed too: the block waits with it in the delay store; the TTL counts from its move.
    if (options.delay.count() != 0) return c.send_delayed(payload, options, &outcome, block.span());
    return c.send_attributed(payload, options, block.span(), &outcome);
}

}  // namespace

Producer::Producer(detail::ProducerCore* core) noexcept : core_(core) {}
Producer::Producer(Producer&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
Producer& Producer::operator=(Producer&& o) noexcept {
    if (this != &o) {
        if (core_) core_->release_handle();
        core_ = std::exchange(o.core_, nullptr);
    }
    return *this;
}
Producer::~Producer() {
    if (core_) core_->release_handle();
}

uint32_t Producer::participant_id() const noexcept { return core_->me.id(); }

Status Producer::send(std::span<const std::byte> payload, const SendOptions& options) noexcept {
    detail::ProducerCore& c = *core_;
    if (__builtin_expect(c.dedup || (options.delay.count() | options.ttl.count()) != 0, 0))
        return send_with_outcome(*this, payload, options);
    detail::PreparedSlot slot;
    if (Status st = c.prepare(payload.size(), options, slot); !st) return st;
    return c.finish_send(slot, payload, static_cast<uint16_t>(options.key.size()));
}

Status Producer::send(std::span<const std::byte> payload, const SendOptions& options, SendOutcome& outcome) noexcept {
    if (options.ttl.count() != 0) return send_with_ttl(*core_, payload, options, outcome);
    return core_->send_outcome(payload, options, outcome);
}

Result<Claim> Producer::claim(std::size_t size, const SendOptions& options) noexcept {
    detail::ProducerCore& c = *core_;
    if (!options.dedup_id.empty() || options.ttl.count() != 0 || options.delay.count() != 0)
        return Errc::invalid_argument;  // send() only (shmq.hpp)
    detail::PreparedSlot slot;
    if (Status st = c.prepare(size, options, slot); !st) return st.code();
    // commit() reads the key's length back from the header.
    reinterpret_cast<layout::SlotHeader*>(slot.base)->key_len = static_cast<uint16_t>(options.key.size());
    ++c.opened;  // the claim's reference (see ProducerCore::live)
    return Claim(core_, slot.partition, slot.offset, slot.base + layout::kSlotHeaderBytes, size, slot.staged);
}

BatchResult Producer::send_batch(std::span<const std::span<const std::byte>> payloads,
                                 const SendOptions& options) noexcept {
    detail::ProducerCore& c = *core_;
    BatchResult done;
    if (!options.dedup_id.empty() && payloads.size() > 1) {  // one id cannot name several messages
        done.status = Errc::invalid_argument;
        return done;
    }
    // Spilling queues, and content ids (one per message): message by message.
    if (!c.staging.empty() || payloads.size() <= 1 || c.region->params().dedup_content != 0 ||
        options.ttl.count() != 0 || options.delay.count() != 0) {
        for (const auto& payload : payloads) {
            done.status = send(payload, options);
            if (!done.ok()) break;
            ++done.count;
        }
        return done;
    }
    done.status = c.send_run(payloads, options, done.count);
    return done;
}

Claim::Claim(Claim&& o) noexcept
    : core_(std::exchange(o.core_, nullptr)),
      data_(o.data_),
      size_(o.size_),
      partition_(o.partition_),
      offset_(o.offset_),
      staged_(o.staged_) {}

Claim& Claim::operator=(Claim&& o) noexcept {
    if (this != &o) {
        abort();
        core_ = std::exchange(o.core_, nullptr);
        data_ = o.data_;
        size_ = o.size_;
        partition_ = o.partition_;
        offset_ = o.offset_;
        staged_ = o.staged_;
    }
    return *this;
}

Claim::~Claim() { abort(); }

Status Claim::commit(std::size_t used) noexcept {
    if (core_ == nullptr) return Errc::already_settled;
    if (used > size_) return Errc::invalid_argument;
    detail::ProducerCore* c = std::exchange(core_, nullptr);
    const uint16_t key_len = reinterpret_cast<layout::SlotHeader*>(c->slot_base(partition_, offset_, staged_))->key_len;
    const auto len = static_cast<uint32_t>(used);
    const Status st =
        staged_ ? c->publish_staged(partition_, offset_, len, key_len) : c->publish_claim(partition_, offset_, len, key_len);
    c->release_claim();  // may delete the core (the Producer is gone): nothing after this touches it
    return st;
}

void Claim::abort() noexcept {
    if (core_ == nullptr) return;
    detail::ProducerCore* c = std::exchange(core_, nullptr);
    c->abort_prepared({partition_, offset_, nullptr, staged_});
    c->release_claim();  // may delete the core: nothing after this touches it
}

}  // namespace shmq
