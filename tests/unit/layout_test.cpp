#include <gtest/gtest.h>

#include "layout/layout_math.hpp"
#include "shmq/internal/lease_word.hpp"
#include "shmq/internal/slot_state.hpp"

namespace shmq {
namespace {

layout::QueueParams defaults() {
    layout::QueueParams p{};
    p.partitions = 1;
    p.capacity = 1024;
    p.max_message = 1024;
    p.lease_ms = 30000;
    p.max_deliveries = 5;
    p.dlq_capacity = 1024;
    p.max_groups = 16;
    p.max_participants = 128;
    p.mode = 0600;
    return p;
}

TEST(LayoutTest, sectionsAreAlignedOrderedAndSizedFromParams) {
    auto p = defaults();
    ASSERT_FALSE(layout::check_and_derive(p));
    EXPECT_EQ(p.slot_size % 64, 0u);
    EXPECT_GE(p.slot_size, layout::kSlotHeaderBytes + 1024 + layout::kMaxKeyBytes);
    auto s = layout::compute_sections(p);
    const uint64_t order[] = {s.participants, s.groups, s.group_partitions, s.partitions, s.leases,
                              s.slots,        s.dlq_control, s.dlq_slots, s.bridges, s.end};
    for (std::size_t i = 0; i + 1 < std::size(order); ++i) {
        EXPECT_EQ(order[i] % layout::kSectionAlign, 0u);
        EXPECT_LT(order[i], order[i + 1]);
    }
    EXPECT_GE(s.leases + 16ull * 1024 * sizeof(layout::LeaseEntry), s.leases);
    EXPECT_GE(s.slots - s.leases, 16ull * 1024 * sizeof(layout::LeaseEntry));
    EXPECT_GE(s.dlq_control - s.slots, 1024ull * p.slot_size);
    EXPECT_GE(s.end - s.bridges, layout::kMaxBridges * sizeof(layout::BridgeEntry));
}

TEST(LayoutTest, rejectsOutOfRangeParameters) {
    auto bad = [](auto mutate) {
        auto p = defaults();
        mutate(p);
        return layout::check_and_derive(p).has_value();
    };
    EXPECT_TRUE(bad([](auto& p) { p.partitions = 0; }));
    EXPECT_TRUE(bad([](auto& p) { p.partitions = 1025; }));
    EXPECT_TRUE(bad([](auto& p) { p.capacity = 1000; }));
    EXPECT_TRUE(bad([](auto& p) { p.capacity = 1; }));
    EXPECT_TRUE(bad([](auto& p) { p.max_message = 0; }));
    EXPECT_TRUE(bad([](auto& p) { p.max_message = (16u << 20) + 1; }));
    EXPECT_TRUE(bad([](auto& p) { p.max_groups = 0; }));
    EXPECT_TRUE(bad([](auto& p) { p.max_participants = 5000; }));
    EXPECT_TRUE(bad([](auto& p) { p.on_full = 9; }));
    EXPECT_TRUE(bad([](auto& p) { p.mode = 01777; }));
    EXPECT_TRUE(bad([](auto& p) {  // 1024 x 2^24 slots: far beyond the region limit
        p.partitions = 1024;
        p.capacity = 1u << 24;
    }));
    EXPECT_FALSE(bad([](auto&) {}));
}

TEST(LayoutTest, checkParamsRefusesTamperedDerivedFields) {
    auto p = defaults();
    ASSERT_FALSE(layout::check_and_derive(p));
    EXPECT_FALSE(layout::check_params(p));
    p.slot_size += 64;
    EXPECT_TRUE(layout::check_params(p));
}

TEST(SlotStateTest, distinguishesLapsAndKinds) {
    using namespace ring;
    const uint64_t cap = 8;
    uint64_t s = slot_state(5, SlotKind::committed);
    EXPECT_EQ(slot_tag_distance(s, 5), 0);
    EXPECT_EQ(slot_tag_distance(s, 5 + cap), -static_cast<int64_t>(cap));
    EXPECT_GT(slot_tag_distance(slot_state(5 + cap, SlotKind::free), 5), 0);
    EXPECT_EQ(slot_owner(slot_state(1, SlotKind::claimed, 4095)), 4095u);
}

TEST(LeaseWordTest, deliverableOnlyFromAnEarlierLapAcked) {
    using namespace ring;
    EXPECT_TRUE(lease_deliverable(lease_word(LeaseKind::acked, 100 - 64), 100));
    EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::acked, 100), 100));
    EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::acked, 164), 100));
    EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::leased, 36, 3, 1), 100));
    EXPECT_NE(lease_word(LeaseKind::leased, 7, 3, 1), lease_word(LeaseKind::leased, 7, 3, 2));
}

// The tags wrap (48 bits in a slot's words, 36 in a lease entry's) while
// offsets go on in 64 bits: at the boundary, and at a later one, the
// comparisons must answer as anywhere else (the model checks run the
// protocols there too: tests/model, "wrap").
TEST(SlotStateTest, comparesLapsAcrossTheTagWrap) {
    using namespace ring;
    constexpr uint64_t wrap = uint64_t{1} << kSlotTagBits;
    for (const uint64_t base : {wrap, 5 * wrap}) {
        const uint64_t cap = 2;
        for (uint64_t o = base - 2; o <= base + 2; ++o) {
            const uint64_t s = slot_state(o, SlotKind::committed);
            EXPECT_TRUE(slot_is(s, o)) << o;
            EXPECT_FALSE(slot_is(s, o + cap)) << o;
            EXPECT_FALSE(slot_is(s, o - cap)) << o;
            EXPECT_EQ(slot_tag_distance(s, o), 0) << o;
            EXPECT_EQ(slot_tag_distance(s, o + cap), -static_cast<int64_t>(cap)) << o;  // the lap before
            EXPECT_EQ(slot_tag_distance(s, o - cap), static_cast<int64_t>(cap)) << o;   // a lap after
            EXPECT_TRUE(slot_is(slot_state(o - cap, SlotKind::claimed, 9), o - cap)) << o;
        }
        EXPECT_EQ(slot_tag(slot_state(base, SlotKind::free)), 0u);
        EXPECT_EQ(slot_tag(slot_state(base - 1, SlotKind::free)), kSlotTagMask);
        EXPECT_EQ(slot_tag_distance(slot_state(base - 1, SlotKind::free), base), -1);
        EXPECT_EQ(slot_tag_distance(slot_state(base + 1, SlotKind::free), base - 1), 2);
        // The ends of the signed 48-bit distance.
        EXPECT_EQ(slot_tag_distance(slot_state(base + (wrap / 2 - 1), SlotKind::free), base - 3),
                  -static_cast<int64_t>(wrap / 2 - 2));  // 2^47 + 2 ahead is 2^47 - 2 behind
        EXPECT_EQ(slot_tag_distance(slot_state(base - 3 + (wrap / 2 - 1), SlotKind::free), base - 3),
                  static_cast<int64_t>(wrap / 2 - 1));
        EXPECT_EQ(slot_tag_distance(slot_state(base - 3 - wrap / 2, SlotKind::free), base - 3),
                  -static_cast<int64_t>(wrap / 2));
    }
    // A fresh region's lap -1 before offset 0 (ring::initial_state): the wrap at 2^64.
    EXPECT_EQ(slot_tag_distance(slot_state(uint64_t{0} - 8, SlotKind::free), 0), -8);
}

TEST(LeaseWordTest, tellsAnEarlierLapFromALaterOneAcrossTheTagWrap) {
    using namespace ring;
    constexpr uint64_t wrap = uint64_t{1} << kLeaseTagBits;
    constexpr uint64_t lap = layout::kMaxCapacity;  // the largest lap: still under half the tag space
    for (const uint64_t base : {wrap, 7 * wrap}) {
        for (uint64_t o = base - 2; o <= base + 2; ++o) {
            for (const uint64_t l : {uint64_t{2}, lap}) {
                EXPECT_TRUE(lease_deliverable(lease_word(LeaseKind::acked, o - l), o)) << o << " " << l;
                EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::acked, o + l), o)) << o << " " << l;
                EXPECT_TRUE(lease_before(lease_word(LeaseKind::leased, o - l, 3, 1), o)) << o << " " << l;
                EXPECT_FALSE(lease_before(lease_word(LeaseKind::retry, o + l, 3, 1), o)) << o << " " << l;
                EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::leased, o - l, 3, 1), o)) << o << " " << l;
            }
            EXPECT_FALSE(lease_deliverable(lease_word(LeaseKind::acked, o), o)) << o;
            EXPECT_TRUE(lease_is(lease_word(LeaseKind::leased, o, 4095, kMaxLeaseCounted, kMaxLeaseHandoffs), o)) << o;
            EXPECT_FALSE(lease_is(lease_word(LeaseKind::acked, o - 2), o)) << o;
        }
        EXPECT_EQ(lease_tag(lease_word(LeaseKind::acked, base)), 0u);
        EXPECT_EQ(lease_tag(lease_word(LeaseKind::acked, base - 1)), kLeaseTagMask);
        // The half-space line: [o - 2^35, o) is before o, [o, o + 2^35) is not.
        const uint64_t o = base + 1;
        EXPECT_TRUE(lease_before(lease_word(LeaseKind::acked, o - wrap / 2), o));
        EXPECT_FALSE(lease_before(lease_word(LeaseKind::acked, o + wrap / 2 - 1), o));
    }
    // A fresh region's lap -1 before offset 0: the wrap at 2^64.
    EXPECT_TRUE(lease_deliverable(lease_word(LeaseKind::acked, uint64_t{0} - 8), 0));
}

}  // namespace
}  // namespace shmq
