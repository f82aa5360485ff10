// The delay store's heap, free list and lock (shmq/internal/delay_store.hpp).
#include "shmq/internal/delay_store.hpp"

#include <algorithm>
#include <cstring>
#include <sched.h>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/participants.hpp"

namespace shmq::detail::delay {

namespace {

using layout::DelayHeapItem;

constexpr uint64_t kSeqMask = (uint64_t{1} << 40) - 1;
constexpr uint64_t kTrySpins = 2048;  // a try of the lock (movers): this many attempts

bool before(const DelayHeapItem& a, const DelayHeapItem& b) noexcept {
    if (a.due_unix_ns != b.due_unix_ns) return a.due_unix_ns < b.due_unix_ns;
    return (a.seq_entry >> 24) < (b.seq_entry >> 24);
}

uint64_t payload_area(const Region& r) noexcept { return r.payload_area(); }
std::byte* entry_payload(Region& r, uint32_t e) noexcept { return r.delay_entry_base(e) + sizeof(layout::DelayEntryHeader); }
std::byte* entry_key(Region& r, uint32_t e) noexcept { return entry_payload(r, e) + payload_area(r); }
std::byte* entry_id(Region& r, uint32_t e) noexcept { return entry_key(r, e) + layout::kMaxKeyBytes; }

void sift_up(Region& r, uint32_t i) noexcept {
    const DelayHeapItem item = r.delay_heap(i);
    while (i > 0) {
        const uint32_t parent = (i - 1) / 2;
        if (!before(item, r.delay_heap(parent))) break;
        r.delay_heap(i) = r.delay_heap(parent);
        i = parent;
    }
    r.delay_heap(i) = item;
}

void sift_down(Region& r, uint32_t i, uint32_t n) noexcept {
    const DelayHeapItem item = r.delay_heap(i);
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && before(r.delay_heap(child + 1), r.delay_heap(child))) ++child;
        if (!before(r.delay_heap(child), item)) break;
        r.delay_heap(i) = r.delay_heap(child);
        i = child;
    }
    r.delay_heap(i) = item;
}

// Publishes the index's summary for lock-free readers (relaxed: hints).
void publish_summary(Region& r, uint32_t count) noexcept {
    auto& h = r.delay_header();
    h.count.store(count, std::memory_order_relaxed);
    h.next_due_unix_ns.store(count == 0 ? layout::kNoDue : r.delay_heap(0).due_unix_ns, std::memory_order_relaxed);
}

// The count as stored, clamped: an index beyond the arrays is never used.
uint32_t stored_count(const Region& r) noexcept {
    return static_cast<uint32_t>(std::min<uint64_t>(r.delay_header().count.load(std::memory_order_relaxed),
                                                     r.delay_capacity()));
}

// Rebuilds heap, free list, count and seq from the entries' state words
// (the crash argument in delay_store.hpp). Under the lock.
void rebuild(Region& r) noexcept {
    auto& h = r.delay_header();
    const uint32_t cap = r.delay_capacity();
    uint32_t n = 0;
    uint32_t free_top = 0;
    uint64_t max_seq = 0;
    for (uint32_t e = 0; e < cap; ++e) {
        auto& entry = r.delay_entry(e);
        const uint64_t state = entry.state.load(std::memory_order_acquire);
        if (state == layout::kDelayQueued) {
            const uint64_t seq = entry.seq & kSeqMask;
            max_seq = std::max(max_seq, seq);
            r.delay_heap(n++) = DelayHeapItem{entry.due_unix_ns, layout::delay_item(seq, e)};
        } else {
            if (state != layout::kDelayFree) entry.state.store(layout::kDelayFree, std::memory_order_relaxed);
            r.delay_free(free_top++) = e;
        }
    }
    for (uint32_t i = n / 2; i-- > 0;) sift_down(r, i, n);
    if ((h.seq.load(std::memory_order_relaxed) & kSeqMask) <= max_seq) h.seq.store(max_seq + 1, std::memory_order_relaxed);
    publish_summary(r, n);
    h.repairs.fetch_add(1, std::memory_order_relaxed);
}

// The free entry on top of the free stack, checked; rebuilds once if the
// stack does not check out (a bad index or a queued entry on it).
bool take_free(Region& r, uint32_t count, uint32_t& e) noexcept {
    const uint32_t cap = r.delay_capacity();
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (count >= cap) return false;
        e = r.delay_free(cap - count - 1);
        if (e < cap && r.delay_entry(e).state.load(std::memory_order_relaxed) == layout::kDelayFree) return true;
        rebuild(r);
        count = stored_count(r);
    }
    return false;
}

}  // namespace

void init(Region& r) noexcept {
    auto& h = r.delay_header();
    for (uint32_t e = 0; e < r.delay_capacity(); ++e) r.delay_free(e) = e;
    h.next_due_unix_ns.store(layout::kNoDue, std::memory_order_relaxed);
    h.mover_wake_unix_ns.store(layout::kNoDue, std::memory_order_relaxed);
    h.seq.store(1, std::memory_order_relaxed);
}

bool lock(Region& r, uint64_t token, bool wait) noexcept {
    auto& h = r.delay_header();
    for (uint64_t spin = 0;; ++spin) {
        if (try_owner_lock(h.lock, token)) break;  // acquire: the previous holder's writes
        // A mover tries for a while (~0.1 ms): adders hold the lock for a
        // microsecond, but a stream of them takes it back at once.
        if (!wait && spin >= kTrySpins) {
            if (spin == kTrySpins && break_lock_if_dead(r, h.lock)) continue;  // never wait on a dead one forever
            return false;
        }
        if ((spin & 1023) == 1023) {
            if (r.deleted()) return false;
            break_lock_if_dead(r, h.lock);
        }
        if (wait && spin > 4096) sched_yield();  // a holder moving a batch, or preempted: let it run
        else if (spin > 64) sys::cpu_relax();
    }
    // The previous holder died inside its critical section: rebuild the index.
    if (h.open.load(std::memory_order_relaxed) != 0) rebuild(r);
    h.open.store(1, std::memory_order_relaxed);
    return true;
}

void unlock(Region& r, uint64_t token) noexcept {
    auto& h = r.delay_header();
    h.open.store(0, std::memory_order_relaxed);
    owner_unlock(h.lock, token);  // release: the index and entries to the next holder
}

Status add(Region& r, uint64_t token, const StoredMessage& m, bool& earliest, bool& ring_daemon) noexcept {
    earliest = ring_daemon = false;
    const uint32_t cap = r.delay_capacity();
    if (cap == 0) return Errc::invalid_argument;
    if (m.payload.size() > r.params().max_message) return Errc::message_too_large;
    if (m.key.size() > layout::kMaxKeyBytes) return Errc::key_too_large;
    if (m.id.size() > layout::kMaxDedupIdBytes) return Errc::invalid_argument;
    auto& h = r.delay_header();
    if (!lock(r, token, true)) return r.gone_error();
    uint32_t count = stored_count(r);
    uint32_t e = 0;
    if (!take_free(r, count, e)) {
        h.refused.fetch_add(1, std::memory_order_relaxed);
        unlock(r, token);
        return Errc::overloaded;
    }
    count = stored_count(r);  // take_free may have rebuilt
    // (D1): the whole entry, then its state.
    auto& entry = r.delay_entry(e);
    const uint64_t seq = h.seq.load(std::memory_order_relaxed) & kSeqMask;
    h.seq.store(seq + 1, std::memory_order_relaxed);
    entry.due_unix_ns = m.due_unix_ns;
    entry.sent_unix_ns = m.sent_unix_ns;
    entry.seq = seq;
    entry.payload_len = static_cast<uint32_t>(m.payload.size());
    entry.key_len = static_cast<uint16_t>(m.key.size());
    entry.flags = m.flags & layout::kSlotAttributes;
    entry.partition = m.partition;
    const bool keep_id = r.params().ext_size != 0 && !m.id.empty();
    entry.id_len = keep_id ? static_cast<uint16_t>(m.id.size()) : 0;
    if (!m.payload.empty()) std::memcpy(entry_payload(r, e), m.payload.data(), m.payload.size());
    if (!m.key.empty()) std::memcpy(entry_key(r, e), m.key.data(), m.key.size());
    if (keep_id) std::memcpy(entry_id(r, e), m.id.data(), m.id.size());
    entry.state.store(layout::kDelayQueued, std::memory_order_release);
    r.delay_heap(count) = DelayHeapItem{m.due_unix_ns, layout::delay_item(seq, e)};
    sift_up(r, count);
    publish_summary(r, count + 1);
    earliest = r.delay_heap(0).seq_entry == layout::delay_item(seq, e);
    if (earliest && m.due_unix_ns < h.mover_wake_unix_ns.load(std::memory_order_relaxed)) {
        h.mover_wake_unix_ns.store(m.due_unix_ns, std::memory_order_relaxed);  // shmqd, rung, plans again
        ring_daemon = true;
    }
    h.added.fetch_add(1, std::memory_order_relaxed);
    // seq_cst: shmqd's snapshot asks for a ring and re-checks this (daemon_doorbell.hpp).
    h.version.fetch_add(1, std::memory_order_seq_cst);
    unlock(r, token);
    return Errc::ok;
}

bool due_top(Region& r, uint64_t now_unix_ns, StoredMessage& out) noexcept {
    for (int attempt = 0; attempt < 2; ++attempt) {
        const uint32_t count = stored_count(r);
        if (count == 0) return false;
        const DelayHeapItem top = r.delay_heap(0);
        const uint32_t e = layout::delay_item_entry(top.seq_entry);
        if (e < r.delay_capacity()) {
            auto& entry = r.delay_entry(e);
            const uint32_t len = entry.payload_len;
            const uint16_t key_len = entry.key_len;
            const uint16_t id_len = entry.id_len;
            if (entry.state.load(std::memory_order_acquire) == layout::kDelayQueued &&
                entry.due_unix_ns == top.due_unix_ns && len <= r.params().max_message &&
                key_len <= layout::kMaxKeyBytes && id_len <= (r.params().ext_size != 0 ? layout::kMaxDedupIdBytes : 0)) {
                if (top.due_unix_ns > now_unix_ns) return false;
                out.payload = {entry_payload(r, e), len};
                out.key = {reinterpret_cast<const char*>(entry_key(r, e)), key_len};
                out.id = {reinterpret_cast<const char*>(entry_id(r, e)), id_len};
                out.flags = entry.flags & layout::kSlotAttributes;
                out.partition = entry.partition;
                out.due_unix_ns = entry.due_unix_ns;
                out.sent_unix_ns = entry.sent_unix_ns;
                return true;
            }
        }
        rebuild(r);  // a heap top that does not check out
    }
    return false;
}

void pop_top(Region& r, bool failed) noexcept {
    auto& h = r.delay_header();
    const uint32_t count = stored_count(r);
    if (count == 0) return;
    const uint32_t e = layout::delay_item_entry(r.delay_heap(0).seq_entry);
    if (e >= r.delay_capacity()) return rebuild(r);
    // (D2): free only after the publish.
    r.delay_entry(e).state.store(layout::kDelayFree, std::memory_order_release);
    const uint32_t n = count - 1;
    if (n > 0) {
        r.delay_heap(0) = r.delay_heap(n);
        sift_down(r, 0, n);
    }
    r.delay_free(r.delay_capacity() - count) = e;
    publish_summary(r, n);
    (failed ? h.failed : h.moved).fetch_add(1, std::memory_order_relaxed);
    h.version.fetch_add(1, std::memory_order_seq_cst);
}

void set_mover_wake(Region& r, uint64_t unix_ns) noexcept {
    r.delay_header().mover_wake_unix_ns.store(unix_ns, std::memory_order_relaxed);
}

bool export_all(Region& r, uint64_t token, std::vector<RestoredDelayed>& out, uint64_t& version) noexcept {
    out.clear();
    if (r.delay_capacity() == 0) return true;
    if (!lock(r, token, false)) return false;
    const uint32_t count = stored_count(r);
    try {
        out.reserve(count);
        for (uint32_t i = 0; i < count; ++i) {
            const uint32_t e = layout::delay_item_entry(r.delay_heap(i).seq_entry);
            if (e >= r.delay_capacity()) continue;
            auto& entry = r.delay_entry(e);
            if (entry.state.load(std::memory_order_acquire) != layout::kDelayQueued) continue;
            const uint32_t len = std::min<uint32_t>(entry.payload_len, r.params().max_message);
            const uint16_t key_len = std::min<uint16_t>(entry.key_len, layout::kMaxKeyBytes);
            const uint16_t id_len =
                r.params().ext_size != 0 ? std::min<uint16_t>(entry.id_len, layout::kMaxDedupIdBytes) : 0;
            RestoredDelayed d;
            d.due_unix_ns = entry.due_unix_ns;
            d.sent_unix_ns = entry.sent_unix_ns;
            d.flags = entry.flags & layout::kSlotAttributes;
            d.partition = entry.partition;
            d.payload.assign(reinterpret_cast<const char*>(entry_payload(r, e)), len);
            d.key.assign(reinterpret_cast<const char*>(entry_key(r, e)), key_len);
            d.id.assign(reinterpret_cast<const char*>(entry_id(r, e)), id_len);
            out.push_back(std::move(d));
        }
    } catch (...) {
        unlock(r, token);
        return false;
    }
    version = r.delay_header().version.load(std::memory_order_relaxed);
    unlock(r, token);
    return true;
}

Summary summary_guess(const Region& r) noexcept {
    Summary s;
    if (r.delay_capacity() == 0) return s;
    const auto& h = r.delay_header();
    s.count = std::min<uint64_t>(h.count.load(std::memory_order_relaxed), r.delay_capacity());
    s.next_due_unix_ns = s.count == 0 ? layout::kNoDue : h.next_due_unix_ns.load(std::memory_order_relaxed);
    return s;
}

}  // namespace shmq::detail::delay
