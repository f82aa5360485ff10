// The dedup table's protocol (shmq/internal/dedup.hpp): lookups, adds,
// the owner's transitions, the reaper's void, generation resets.
#include <algorithm>
#include <cstring>
#include <ctime>

#include "shmq/internal/dedup.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::dedup {

namespace {

__extension__ typedef unsigned __int128 u128;
constexpr u128 kFnv128Basis = (u128{0x6c62272e07bb0142ull} << 64) | 0x62b821756295c58dull;
constexpr u128 kFnv128Prime = (u128{1} << 88) | 0x13b;

// SplitMix64's finalizer (Steele, Lea, Flood 2014): a bijection with full avalanche.
uint64_t mix64(uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

u128 fnv1a128(u128 h, const unsigned char* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= kFnv128Prime;
    }
    return h;
}

uint64_t span_ms(const detail::Region& r) noexcept { return std::max<uint64_t>(1, r.params().dedup_window_ms / 2); }

// The stripe of an id: its top hash bits (so equal hash_a means equal stripe).
uint32_t stripe_of(const IdHash& h) noexcept { return static_cast<uint32_t>(h.a >> 56) % layout::kDedupStripes; }

void lock_stripe(detail::Region& r, std::atomic<uint64_t>& lock, uint64_t token) noexcept {
    for (uint32_t spin = 0; !detail::try_owner_lock(lock, token); ++spin) {
        sys::cpu_relax();
        if ((spin & 1023) == 1023) {
            detail::break_lock_if_dead(r, lock);  // (1): a holder that died inside
            const timespec nap{0, 20'000};
            ::nanosleep(&nap, nullptr);
        }
    }
}

bool hash_matches(const layout::DedupEntry& e, const IdHash& h) noexcept {
    return e.hash_a.load(std::memory_order_relaxed) == h.a &&
           static_cast<uint32_t>(e.hash_b_time.load(std::memory_order_relaxed) >> 32) == h.b;
}

uint32_t entry_time(const layout::DedupEntry& e) noexcept {
    return static_cast<uint32_t>(e.hash_b_time.load(std::memory_order_relaxed));
}

// Younger than the window on 32 bits of ms (ages < 2^31: kMaxDedupWindowMs).
// An entry from our future is young: a peer may commit after we read the
// clock (we read it before waiting for the stripe lock), on a later tick.
bool within_window(uint32_t then_ms, uint64_t now_ms, uint32_t window) noexcept {
    const auto age = static_cast<int32_t>(static_cast<uint32_t>(now_ms) - then_ms);
    return age < static_cast<int32_t>(window);
}

// Empties generation g for span n unless someone did (4), or it holds a
// later span (a clock behind ours: the caller uses that one).
void reset_generation(detail::Region& r, uint32_t g, uint64_t n, uint64_t token) noexcept {
    auto& gen = r.dedup_generation(g);
    lock_stripe(r, gen.reset_lock, token);
    const uint64_t s = gen.span.load(std::memory_order_acquire);
    if (s != n && ((s & layout::kDedupResetting) != 0 || s < n)) {
        gen.span.store(n | layout::kDedupResetting, std::memory_order_relaxed);
        // release stores (plain on x86): a reader whose acquire load of a
        // `result` sees it zeroed sees the resetting span after it, (4).
        for (uint64_t i = 0; i < r.dedup_entries(); ++i) {
            auto& e = r.dedup_entry(g, i);
            e.tag.store(0, std::memory_order_release);
            e.hash_a.store(0, std::memory_order_release);
            e.hash_b_time.store(0, std::memory_order_release);
            e.result.store(0, std::memory_order_release);
        }
        gen.count.store(0, std::memory_order_relaxed);
        gen.span.store(n, std::memory_order_release);
    }
    detail::owner_unlock(gen.reset_lock, token);
}

SendOutcome outcome_of(uint64_t result) noexcept {
    SendOutcome o;
    o.duplicate = true;
    o.staged = (result >> 63) != 0;
    o.partition = static_cast<uint32_t>(result >> 53 & 0x3ff);
    o.offset = result & ((uint64_t{1} << 53) - 1);
    return o;
}

}  // namespace

IdHash hash_id(std::string_view id) noexcept {
    const u128 h = fnv1a128(kFnv128Basis, reinterpret_cast<const unsigned char*>(id.data()), id.size());
    // FNV's last bytes reach only a few high bits: ids that differ at their
    // end ("order-17", "order-18") would share their low bits of `a`, the
    // table index, and cluster. A finalizer spreads every bit over both.
    const uint64_t lo = mix64(static_cast<uint64_t>(h));
    const uint64_t a = mix64(static_cast<uint64_t>(h >> 64) ^ lo);
    return IdHash{a | 1, static_cast<uint32_t>(lo >> 32)};
}

std::array<char, 16> content_id(std::string_view key, std::span<const std::byte> payload) noexcept {
    const unsigned char len[2] = {static_cast<unsigned char>(key.size() & 0xff), static_cast<unsigned char>(key.size() >> 8)};
    u128 h = fnv1a128(kFnv128Basis, len, 2);
    h = fnv1a128(h, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    h = fnv1a128(h, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
    std::array<char, 16> out{};
    for (int i = 0; i < 16; ++i) out[i] = static_cast<char>(static_cast<unsigned char>(h >> (8 * (15 - i))));
    return out;
}

Verdict reserve(detail::Region& r, const detail::Participant& me, const IdHash& h, uint64_t now_ms, Reservation& res,
                SendOutcome& original) noexcept {
    const uint64_t n = now_ms / span_ms(r);
    const uint32_t window = r.params().dedup_window_ms;
    const uint64_t entries = r.dedup_entries();
    const uint64_t mask = entries - 1;
    auto& lock = r.dedup_stripe(stripe_of(h)).lock;
    lock_stripe(r, lock, me.token());
    Verdict verdict = Verdict::reserved;
    uint64_t reap_token = 0;
    // Look in spans n, n-1, n-2 (4).
    for (uint64_t k = 0; k < layout::kDedupGenerations && k <= n && verdict == Verdict::reserved; ++k) {
        const uint64_t s = n - k;
        const auto g = static_cast<uint32_t>(s % layout::kDedupGenerations);
        auto& gen = r.dedup_generation(g);
        if (gen.span.load(std::memory_order_acquire) != s) continue;
        for (uint64_t i = h.a & mask, step = 0; step < entries; ++step, i = (i + 1) & mask) {
            auto& e = r.dedup_entry(g, i);
            uint64_t tag = e.tag.load(std::memory_order_acquire);
            const Kind kind = tag_kind(tag);
            if (kind == Kind::empty) break;
            if (tag_span(tag) != (s & 0xffff) || kind == Kind::voided || !hash_matches(e, h)) continue;
            const uint32_t then_ms = entry_time(e);
            const uint64_t result = e.result.load(std::memory_order_acquire);
            if (gen.span.load(std::memory_order_acquire) != s) break;  // reset meanwhile: what we read may be zeroed (4)
            if (kind == Kind::committed) {
                if (!within_window(then_ms, now_ms, window)) continue;  // expired: look on
                original = outcome_of(result);
                verdict = Verdict::duplicate;
                break;
            }
            // pending or claimed (2).
            const uint64_t owner = tag_owner(tag);
            const detail::Liveness live = detail::participant_liveness(r, owner);
            if (live == detail::Liveness::alive) {
                verdict = Verdict::wait;
            } else if (live == detail::Liveness::dead) {
                reap_token = owner;  // reaped below, outside the lock
                verdict = Verdict::wait;
            } else if (kind == Kind::claimed) {
                // T gone with its entry still claimed: it committed (2).
                const uint64_t done = with_kind(tag, Kind::committed);
                if (e.tag.compare_exchange_strong(tag, done, std::memory_order_acq_rel)) {
                    original = outcome_of(result);
                    verdict = Verdict::duplicate;
                } else {
                    verdict = Verdict::wait;  // changed under us (a reset): look again
                }
            } else {
                // pending, T gone: it never claimed a slot naming this entry,
                // so never committed. Void it and add ours to span n (its
                // generation may be the next to go: not a place to commit in).
                if (e.tag.compare_exchange_strong(tag, with_kind(tag, Kind::voided), std::memory_order_acq_rel))
                    continue;
                verdict = Verdict::wait;  // changed under us (a reset): look again
            }
            break;
        }
    }
    if (verdict == Verdict::reserved) {
        // Absent: add a pending entry to span n's generation.
        const auto g = static_cast<uint32_t>(n % layout::kDedupGenerations);
        auto& gen = r.dedup_generation(g);
        uint64_t s = gen.span.load(std::memory_order_acquire);
        if (s != n) {
            reset_generation(r, g, n, me.token());
            s = gen.span.load(std::memory_order_acquire);
        }
        if ((s & layout::kDedupResetting) != 0) {
            verdict = Verdict::wait;
        } else if (gen.count.fetch_add(1, std::memory_order_relaxed) >= r.params().dedup_capacity) {
            gen.count.fetch_sub(1, std::memory_order_relaxed);
            verdict = Verdict::full;
        } else {
            verdict = Verdict::full;  // (5) unless an empty entry is found below
            const uint64_t mine = make_tag(Kind::pending, me.token(), s);
            for (uint64_t i = h.a & mask, step = 0; step < entries; ++step, i = (i + 1) & mask) {
                auto& e = r.dedup_entry(g, i);
                uint64_t expected = 0;
                if (e.tag.load(std::memory_order_relaxed) != 0) continue;
                // The tag first (other stripes race us for the entry; their
                // readers never match our hash, (1)), then the fields, which
                // our stripe's readers read under the lock we hold.
                if (!e.tag.compare_exchange_strong(expected, mine, std::memory_order_acq_rel)) continue;
                e.hash_a.store(h.a, std::memory_order_relaxed);
                e.hash_b_time.store(uint64_t{h.b} << 32 | static_cast<uint32_t>(now_ms), std::memory_order_relaxed);
                e.result.store(0, std::memory_order_relaxed);
                res = Reservation{g, i, mine, static_cast<uint32_t>(g * entries + i + 1), true};
                verdict = Verdict::reserved;
                break;
            }
        }
    }
    detail::owner_unlock(lock, me.token());
    if (reap_token != 0) detail::reap_participant(r, layout::token_id(reap_token) - 1, me.id());
    return verdict;
}

bool record_claim(detail::Region& r, Reservation& res, uint32_t partition, uint64_t offset, bool staged) noexcept {
    if (!res.valid) return false;
    auto& e = r.dedup_entry(res.generation, res.index);
    e.result.store(pack_result(partition, offset, staged), std::memory_order_relaxed);
    const uint64_t claimed = with_kind(res.tag, Kind::claimed);
    uint64_t expected = res.tag;
    // release: the result and the slot extension naming the entry precede it (2).
    if (e.tag.compare_exchange_strong(expected, claimed, std::memory_order_release, std::memory_order_relaxed)) {
        res.tag = claimed;
        return true;
    }
    res.valid = false;  // the generation was reset under a stalled send (4)
    return false;
}

void record_commit(detail::Region& r, Reservation& res, uint64_t now_ms) noexcept {
    if (!res.valid) return;
    auto& e = r.dedup_entry(res.generation, res.index);
    // The window runs from the commit. Only we write this word now (hash_b unchanged).
    const uint64_t hb = e.hash_b_time.load(std::memory_order_relaxed);
    e.hash_b_time.store((hb & 0xffffffff00000000ull) | static_cast<uint32_t>(now_ms), std::memory_order_relaxed);
    uint64_t expected = res.tag;
    e.tag.compare_exchange_strong(expected, with_kind(res.tag, Kind::committed), std::memory_order_release,
                                  std::memory_order_relaxed);
    res.valid = false;
}

void withdraw(detail::Region& r, Reservation& res) noexcept {
    if (!res.valid) return;
    auto& e = r.dedup_entry(res.generation, res.index);
    uint64_t expected = res.tag;
    e.tag.compare_exchange_strong(expected, with_kind(res.tag, Kind::voided), std::memory_order_release,
                                  std::memory_order_relaxed);
    res.valid = false;
}

void void_dead_claim(detail::Region& r, std::byte* slot_base, uint32_t partition, uint64_t offset, bool staged,
                     uint32_t id) noexcept {
    const layout::SlotExtension* ext = r.slot_extension(slot_base);
    if (ext == nullptr || !r.dedup_on()) return;
    const uint32_t ref = ext->entry_ref;  // untrusted: bounded, then checked against the entry
    const uint64_t entries = r.dedup_entries();
    if (ref == 0 || ref > layout::kDedupGenerations * entries) return;
    const auto g = static_cast<uint32_t>((ref - 1) / entries);
    auto& e = r.dedup_entry(g, (ref - 1) % entries);
    uint64_t tag = e.tag.load(std::memory_order_acquire);
    if (tag_kind(tag) != Kind::claimed || layout::token_id(tag_owner(tag)) != id) return;
    if (e.result.load(std::memory_order_relaxed) != pack_result(partition, offset, staged)) return;
    e.tag.compare_exchange_strong(tag, with_kind(tag, Kind::voided), std::memory_order_acq_rel);
}

bool restore_committed(detail::Region& r, uint64_t token, const IdHash& h, uint64_t unix_ms, uint64_t now_ms,
                       uint32_t partition, uint64_t offset, bool staged) noexcept {
    const uint32_t window = r.params().dedup_window_ms;
    if (unix_ms + window <= now_ms) return false;  // (a record from our future is young)
    const uint64_t n = unix_ms / span_ms(r);
    if (n + layout::kDedupGenerations <= now_ms / span_ms(r)) return false;
    const auto g = static_cast<uint32_t>(n % layout::kDedupGenerations);
    auto& gen = r.dedup_generation(g);
    if (gen.span.load(std::memory_order_acquire) != n) reset_generation(r, g, n, token);
    if (gen.span.load(std::memory_order_acquire) != n) return false;
    if (gen.count.load(std::memory_order_relaxed) >= r.params().dedup_capacity) return false;
    const uint64_t mask = r.dedup_entries() - 1;
    for (uint64_t i = h.a & mask, step = 0; step < r.dedup_entries(); ++step, i = (i + 1) & mask) {
        auto& e = r.dedup_entry(g, i);
        const uint64_t tag = e.tag.load(std::memory_order_acquire);
        if (tag != 0) {
            if (hash_matches(e, h) && tag_kind(tag) == Kind::committed) return false;
            continue;
        }
        e.hash_a.store(h.a, std::memory_order_relaxed);
        e.hash_b_time.store(uint64_t{h.b} << 32 | static_cast<uint32_t>(unix_ms), std::memory_order_relaxed);
        e.result.store(pack_result(partition, offset, staged), std::memory_order_relaxed);
        e.tag.store(make_tag(Kind::committed, 0, n), std::memory_order_release);
        gen.count.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    return false;
}

}  // namespace shmq::dedup
