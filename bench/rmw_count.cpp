// Counts the atomic read-modify-writes (locked instructions on x86) and
// stores per message of each mode of the hot path, by running the library's
// own templated protocol steps (commit_protocol.hpp, lease_protocol.hpp,
// fast_ack.hpp) on
// a counting atomic word, one thread, in the order the library calls them.
// What is not templated is named beside the table: the Message reference
// count (stores on the thread that receives, an RMW on any other). docs/PERFORMANCE.md prints this table.
//
// Usage: shmq_rmw_count [--check]   (--check: exit 1 if a mode's count
// changed from the figures below; ctest runs it so)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "shmq/internal/commit_barrier.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/writer_token.hpp"

namespace shmq::bench {

struct Counts {
    uint64_t rmw = 0, stores = 0, loads = 0;
};
inline Counts g_counts;

// A std::atomic<uint64_t> that counts what is done to it.
class CountingAtomic {
public:
    explicit CountingAtomic(uint64_t v = 0) : word_(v) {}
    uint64_t load(std::memory_order mo) const noexcept {
        ++g_counts.loads;
        return word_.load(mo);
    }
    void store(uint64_t v, std::memory_order mo) noexcept {
        ++g_counts.stores;
        word_.store(v, mo);
    }
    bool compare_exchange_strong(uint64_t& e, uint64_t d, std::memory_order s, std::memory_order f) noexcept {
        ++g_counts.rmw;
        return word_.compare_exchange_strong(e, d, s, f);
    }
    bool compare_exchange_strong(uint64_t& e, uint64_t d, std::memory_order s) noexcept {
        ++g_counts.rmw;
        return word_.compare_exchange_strong(e, d, s);
    }
    bool compare_exchange_weak(uint64_t& e, uint64_t d, std::memory_order s, std::memory_order f) noexcept {
        ++g_counts.rmw;
        return word_.compare_exchange_weak(e, d, s, f);
    }
    uint64_t fetch_add(uint64_t v, std::memory_order mo) noexcept {
        ++g_counts.rmw;
        return word_.fetch_add(v, mo);
    }

private:
    std::atomic<uint64_t> word_;
};

struct CountingEntry {  // layout::LeaseEntry
    CountingAtomic word, deadline_ns, first_delivery_unix_ns, last_delivery_unix_ns;
};

}  // namespace shmq::bench

template <>
struct shmq::ring::LeaseEntryOf<shmq::bench::CountingAtomic> {
    using type = shmq::bench::CountingEntry;
};

namespace shmq::bench {
namespace {

using Atomic = CountingAtomic;
constexpr uint64_t kCap = 1024;
constexpr uint64_t kSlot = 64;
constexpr uint32_t kMe = 1;
constexpr uint64_t kFloorEvery = 16;  // lib/src/consumer.cpp: acks between floor updates
constexpr uint64_t kMessages = 4096;

struct Ring {
    Atomic tail{0}, head{0};
    std::vector<std::byte> bytes = std::vector<std::byte>(kCap * kSlot);
    Ring() {
        auto r = ref();
        for (uint64_t i = 0; i < kCap; ++i) {
            new (&r.state(i)) Atomic(ring::initial_state(i, kCap));
            new (&r.claim(i)) Atomic(ring::initial_claim(i, kCap));
        }
    }
    ring::BasicRingRef<Atomic> ref() { return {&tail, &head, bytes.data(), kSlot, kCap}; }
};

struct Group {
    Atomic next{0}, floor{0};
    Atomic revocations{0};  // layout::GroupPartition::revocations
    Atomic acking{0};       // layout::ParticipantEntry::acking of the consumer
    Atomic commit_fence{0};  // layout::RegionHeader::commit_fence
    std::vector<CountingEntry> entries = std::vector<CountingEntry>(kCap);
    Group() {
        for (uint64_t i = 0; i < kCap; ++i)
            entries[i].word.store(ring::lease_word(ring::LeaseKind::acked, i - kCap), std::memory_order_relaxed);
    }
    ring::BasicLeaseRef<Atomic> ref() { return {&next, &floor, entries.data(), kCap - 1}; }
};

struct Row {
    std::string mode;
    double rmw, stores;
    double expected_rmw;
};

// Producer modes: each sends kMessages (head moved along so room never runs out).
template <class Send>
Row producer_mode(const char* mode, double expected, Send send) {
    Ring r;
    auto ref = r.ref();
    g_counts = {};
    send(ref, r);
    return {mode, double(g_counts.rmw) / kMessages, double(g_counts.stores) / kMessages, expected};
}

// The consumers' side of room (ring::reclaim), not counted here.
void make_room(Ring& r, uint64_t upto) {
    const Counts before = g_counts;
    r.head.store(upto, std::memory_order_relaxed);
    g_counts = before;
}

// Consumer modes: kMessages already published; deliver, then ack.
template <class Consume>
Row consumer_mode(const char* mode, double expected, Consume consume) {
    Ring r;
    auto ref = r.ref();
    for (uint64_t o = 0; o < kMessages; ++o) {
        uint64_t limit = kMessages + kCap;
        r.head.store(o, std::memory_order_relaxed);
        uint64_t got = 0;
        (void)ring::try_claim(ref, kMe, limit, got);
        ring::publish(ref, got);
    }
    Group g;
    g_counts = {};
    consume(ref, g);
    return {mode, double(g_counts.rmw) / kMessages, double(g_counts.stores) / kMessages, expected};
}

std::vector<Row> measure() {
    std::vector<Row> rows;
    rows.push_back(producer_mode("send, shared producer", 2, [](auto& ref, Ring& r) {
        uint64_t limit = 0;
        for (uint64_t i = 0; i < kMessages; ++i) {
            make_room(r, i);
            uint64_t o = 0;
            (void)ring::try_claim(ref, kMe, limit, o);  // claim CAS + tail CAS
            ring::publish(ref, o);                      // (5) release store
        }
    }));
    rows.push_back(producer_mode("send, exclusive producer", 0, [](auto& ref, Ring& r) {
        uint64_t first = 0, limit = 0;
        (void)ring::take_exclusive(ref, first);  // once per producer, not per message
        (void)ring::claim_contested(ref, kMe, first, limit);
        ring::publish(ref, first);
        g_counts = {};
        uint64_t next = first + 1;
        for (uint64_t i = 0; i < kMessages; ++i) {
            make_room(r, next);
            if (ring::claim_exclusive(ref, kMe, next, limit, 1) == 1) ring::publish(ref, next - 1);
        }
    }));
    rows.push_back(producer_mode("send, default producer alone (automatic writer token)", 0, [](auto& ref, Ring& r) {
        // writer_token.hpp (9): taken once; then per send (10): sending = 1,
        // a compiler barrier, the writer and commit_fence loads, the claim
        // stores, sending = 0.
        Atomic writer{0}, sending{0};
        const std::atomic<uint32_t> commit_fence{0};
        const uint64_t token = 1;
        uint64_t first = 0, limit = 0;
        (void)ring::take_auto(ref, writer, token, first);
        (void)ring::claim_contested(ref, kMe, first, limit);
        ring::publish(ref, first);
        g_counts = {};
        uint64_t next = first + 1;
        for (uint64_t i = 0; i < kMessages; ++i) {
            make_room(r, next);
            if (!ring::holder_enter(sending, writer, ring::auto_writer(token), commit_fence, detail::HardwareBarriers{}))
                std::abort();
            const uint32_t n = ring::claim_exclusive(ref, kMe, next, limit, 1);
            ring::holder_leave(sending);
            if (n == 1) ring::publish(ref, next - 1);
        }
    }));
    rows.push_back(producer_mode("send_batch(64), exclusive producer", 0, [](auto& ref, Ring& r) {
        uint64_t first = 0, limit = 0;
        (void)ring::take_exclusive(ref, first);
        (void)ring::claim_contested(ref, kMe, first, limit);
        ring::publish(ref, first);
        g_counts = {};
        uint64_t next = first + 1;
        for (uint64_t i = 0; i < kMessages; i += 64) {
            make_room(r, next);
            const uint32_t n = ring::claim_exclusive(ref, kMe, next, limit, 64);
            for (uint64_t o = next - n; o < next; ++o) ring::publish(ref, o);
        }
    }));
    rows.push_back(producer_mode("claim + Claim::commit (zero-copy), shared producer", 3, [](auto& ref, Ring& r) {
        uint64_t limit = 0;
        for (uint64_t i = 0; i < kMessages; ++i) {
            make_room(r, i);
            uint64_t o = 0;
            (void)ring::try_claim(ref, kMe, limit, o);
            (void)ring::commit(ref, o);  // (3) CAS: the reaper may have aborted a long-open claim
        }
    }));
    auto exclusive_consume = [](bool ack_all_style) {
        return [ack_all_style](auto& ref, Group& g) {
            auto l = g.ref();
            std::vector<uint64_t> words;
            for (uint64_t o = 0; o < kMessages; ++o) {
                (void)ref.state(o).load(std::memory_order_acquire);  // deliver_fresh's poll
                auto& e = l.entry(o);
                (void)e.word.load(std::memory_order_acquire);
                const uint64_t leased = ring::lease_word(ring::LeaseKind::leased, o, kMe, 1);
                ring::lease_start(e, 1);
                ring::lease_deliver_owned(*l.next, e, o, leased);  // (1') stores
                const uint64_t seen = g.revocations.load(std::memory_order_relaxed);  // fast_ack.hpp L0
                if (!ack_all_style) {  // consumer.cpp ConsumerCore::fast_ack
                    ring::fast_ack_enter(g.acking, g.commit_fence);
                    if (ring::fast_ack_valid(g.revocations, seen)) ring::lease_ack_owned(e, o);
                    ring::fast_ack_leave(g.acking);
                    if ((o & (kFloorEvery - 1)) == kFloorEvery - 1) ring::lease_advance_floor(l, kCap, [] {});
                } else {  // consumer.cpp ack_all: one enter and leave for the run
                    words.push_back(leased);
                    if (words.size() == 64) {
                        ring::fast_ack_enter(g.acking, g.commit_fence);
                        for (uint64_t k = 0; k < 64; ++k)
                            if (ring::fast_ack_valid(g.revocations, seen)) ring::lease_ack_owned(l.entry(o - 63 + k), o - 63 + k);
                        ring::fast_ack_leave(g.acking);
                        ring::lease_advance_floor(l, kCap, [] {});
                        words.clear();
                    }
                }
            }
        };
    };
    rows.push_back(consumer_mode("receive + ack, exclusive group", 1.0 / kFloorEvery, exclusive_consume(false)));
    rows.push_back(consumer_mode("receive_batch(64) + ack_all, exclusive group", 1.0 / 64, exclusive_consume(true)));
    rows.push_back(consumer_mode("receive + ack, shared group", 3 + 1.0 / kFloorEvery, [](auto& ref, Group& g) {
        auto l = g.ref();
        for (uint64_t o = 0; o < kMessages; ++o) {
            (void)ref.state(o).load(std::memory_order_acquire);
            auto& e = l.entry(o);
            const uint64_t w = e.word.load(std::memory_order_acquire);
            const uint64_t leased = ring::lease_word(ring::LeaseKind::leased, o, kMe, 1);
            ring::lease_start(e, 0);
            (void)ring::lease_deliver_shared(*l.next, e, o, w, leased);  // entry CAS + next CAS
            ring::lease_set_deadline(e, 1);
            (void)ring::lease_ack(e, o, leased);
            if ((o & (kFloorEvery - 1)) == kFloorEvery - 1) ring::lease_advance_floor(l, kCap, [] {});
        }
    }));
    return rows;
}

}  // namespace
}  // namespace shmq::bench

int main(int argc, char** argv) {
    using namespace shmq::bench;
    const bool check = argc > 1 && std::strcmp(argv[1], "--check") == 0;
    bool ok = true;
    std::printf("| mode | atomic RMWs / msg | atomic stores / msg |\n|---|---|---|\n");
    for (const Row& row : measure()) {
        std::printf("| %s | %.3g | %.3g |\n", row.mode.c_str(), row.rmw, row.stores);
        if (row.rmw > row.expected_rmw + 1e-9 || row.rmw < row.expected_rmw - 1e-9) {
            ok = false;
            std::fprintf(stderr, "%s: %.4f RMWs per message, expected %.4f\n", row.mode.c_str(), row.rmw,
                         row.expected_rmw);
        }
    }
    std::printf("\nPlus, outside the templates: the Message reference count, biased toward the thread that\n"
                "receives (lib/src/consumer_core.hpp): stores there; one RMW per message handed out or settled\n"
                "on another thread (ack_all: one per batch). The doorbell checks after a publish are loads\n"
                "(an RMW only when someone sleeps).\n");
    return check && !ok ? 1 : 0;
}
