// shmqd's integrity check (lib/src/repair/integrity.cpp) as a rolling pass:
// a clean region costs no allocation, the budget moves the pass exactly that
// many cells on, and damage anywhere — the last cell of the pass, a fixed
// table — is found within one pass's budget, wherever the pass stood.
//
// This binary replaces the global operator new/delete with ones that count
// calls while `g_counting` is set (only around the calls under test).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>

#include "shmq/internal/integrity.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/participants.hpp"
#include "support/temp_queue.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
// Out of line, so GCC does not pair an inlined free() with the new-expressions
// of the callers (-Wmismatched-new-delete).
[[gnu::noinline]] void* allocate(std::size_t size) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }

namespace shmq {
namespace {

using test::TempQueue;

// Counts the allocations made by `f`.
template <class F>
uint64_t allocations_in(F&& f) {
    g_allocations.store(0);
    g_counting.store(true);
    f();
    g_counting.store(false);
    return g_allocations.load();
}

// A queue with `groups` groups, all joined (so all of their lease entries are
// in the pass), and a read-write mapping of it to scribble on.
struct Fixture {
    TempQueue q;
    std::optional<Consumer> consumers[2];
    std::shared_ptr<detail::Region> region;
    Fixture(const char* tag, uint32_t max_groups, uint32_t joined) : q(tag, options(max_groups)) {
        for (uint32_t g = 0; g < joined; ++g)
            consumers[g].emplace(q->consumer("g" + std::to_string(g), {.kind = GroupKind::shared}));
        region = detail::Region::open(q.name, detail::Access::read_write);
    }
    static QueueOptions options(uint32_t max_groups) {
        QueueOptions o;
        o.partitions = 2;
        o.capacity = 16;
        o.max_message = 64;
        o.max_groups = max_groups;
        o.max_participants = 4;
        o.dlq_capacity = 8;
        return o;
    }
};

TEST(IntegrityTest, cellsCountsEveryTableOnce) {
    Fixture f("integrity-cells", 3, 2);
    const detail::Region& r = *f.region;
    detail::IntegrityCheck check(r);
    const uint64_t parts = r.partitions(), cap = r.capacity(), groups = r.max_groups();
    EXPECT_EQ(check.cells(), 1 + r.max_participants() + groups * (1 + parts) + parts + 1 + layout::kMaxBridges +
                                 parts * cap + parts * r.spill_capacity() + r.params().dlq_capacity +
                                 r.max_participants() /* transaction records */ + groups * parts * cap);
    EXPECT_EQ(check.passes(), 0u);
}

TEST(IntegrityTest, aCleanRegionCostsNoAllocationAndTheBudgetMovesThePassExactly) {
    Fixture f("integrity-clean", 3, 2);  // the third group is free: its entries are passed over
    {
        auto p = f.q->producer();
        for (int i = 0; i < 20; ++i) (void)p.send("message");
    }
    detail::IntegrityCheck check(*f.region);
    const uint64_t cells = check.cells();
    bool clean = true;
    // Whole passes, one per call.
    EXPECT_EQ(allocations_in([&] {
                  for (int i = 0; i < 3; ++i) clean = !check.run(cells) && clean;
              }),
              0u);
    EXPECT_TRUE(clean);
    EXPECT_EQ(check.passes(), 3u);
    // A budget that divides no table: 7 cells a call, 5 passes' worth.
    EXPECT_EQ(allocations_in([&] {
                  for (uint64_t done = 0; done < 5 * cells; done += 7) clean = !check.run(7) && clean;
              }),
              0u);
    EXPECT_TRUE(clean);
    EXPECT_EQ(check.passes(), 3u + (5 * cells + 6) / 7 * 7 / cells);
    // One cell short of a pass boundary, then the boundary.
    detail::IntegrityCheck fresh(*f.region);
    EXPECT_FALSE(fresh.run(cells - 1));
    EXPECT_EQ(fresh.passes(), 0u);
    EXPECT_FALSE(fresh.run(1));
    EXPECT_EQ(fresh.passes(), 1u);
    EXPECT_FALSE(fresh.run(0));
    EXPECT_EQ(fresh.passes(), 1u);
}

// The pass ends with the lease entries of the last group: damage in its very
// last entry is found by the pass's last cell, wherever the pass started.
TEST(IntegrityTest, damageInTheLastCellIsFoundWithinOnePass) {
    Fixture f("integrity-last", 2, 2);
    const detail::Region& r = *f.region;
    const uint32_t g = r.max_groups() - 1, p = r.partitions() - 1;
    const uint64_t last = r.capacity() - 1;
    for (const uint64_t start : {uint64_t{0}, uint64_t{1}, uint64_t{37}}) {
        detail::IntegrityCheck check(r);
        const uint64_t cells = check.cells();
        ASSERT_FALSE(check.run(start)) << "clean before the damage";
        auto& word = r.lease(g, p, last).word;
        const uint64_t honest = word.load();
        word.store(ring::lease_word(ring::LeaseKind::acked, last + 1));  // about the next slot's offset
        constexpr uint64_t k = 5;
        uint64_t spent = 0;
        std::optional<std::string> damage;
        while (!damage && spent < cells) {
            damage = check.run(k);
            spent += k;
        }
        ASSERT_TRUE(damage) << "not found within one pass (" << cells << " cells) from cell " << start;
        EXPECT_EQ(*damage, "group " + std::to_string(g) + " partition " + std::to_string(p) + ": lease entry " +
                               std::to_string(last) + " is about no offset of its slot");
        EXPECT_GE(spent, cells - start) << "found before the pass reached it";
        EXPECT_EQ(check.run(1).value_or(""), *damage) << "the pass stays at the damaged cell";
        word.store(honest);
        EXPECT_FALSE(check.run(2 * cells)) << "clean again";
    }
}

// The fixed tables are in the same rolling pass: a participant entry's state
// kind scribbled on while the pass is among the ring slots is found on its
// next round, within one pass's budget; so is a header field.
TEST(IntegrityTest, damageInAFixedTableIsFoundByTheRollingPass) {
    Fixture f("integrity-fixed", 2, 1);
    const detail::Region& r = *f.region;
    detail::IntegrityCheck check(r);
    const uint64_t cells = check.cells();
    ASSERT_FALSE(check.run(cells / 2));
    auto& state = r.participant(3).state;
    const uint64_t honest = state.load();
    state.store(layout::participant_state(1, 9));
    std::optional<std::string> damage;
    uint64_t spent = 0;
    // The words are formatted (allocated) only now: that is counted too.
    EXPECT_GT(allocations_in([&] {
                  for (; !damage && spent < cells; spent += 3) damage = check.run(3);
              }),
              0u);
    ASSERT_TRUE(damage) << "not found within one pass";
    EXPECT_EQ(*damage, "lease table: entry 3 has state kind 9");
    state.store(honest);
    EXPECT_FALSE(check.run(cells));

    auto* header = reinterpret_cast<volatile std::byte*>(&r.header());
    constexpr std::size_t at = offsetof(layout::RegionHeader, params);
    const std::byte was = header[at];
    header[at] = ~was;
    damage = check.run(cells);
    header[at] = was;
    ASSERT_TRUE(damage);
    EXPECT_EQ(*damage, "header: its creation parameters changed (byte " + std::to_string(at) + ")");
    EXPECT_FALSE(check.run(cells));
}

// A free group's lease entries may never have been written: not read.
TEST(IntegrityTest, aFreeGroupsLeaseEntriesAreNotJudged) {
    Fixture f("integrity-free", 2, 1);
    const detail::Region& r = *f.region;
    detail::IntegrityCheck check(r);
    r.lease(1, 0, 3).word.store(ring::lease_word(ring::LeaseKind::acked, 4));
    EXPECT_FALSE(check.run(2 * check.cells()));
    EXPECT_EQ(check.passes(), 2u);
}

}  // namespace
}  // namespace shmq
