// shmqd's integrity check of a live region: invariants that every honest
// process keeps at every instant, read in an order that makes each check
// sound while peers run (all cursors only grow; see the comments in
// integrity.cpp). Any violation means a process wrote what the protocol
// never writes — a rogue or a stray pointer — and the queue can no longer be
// served right (shmq/internal/damage.hpp retires it).
//
// One rolling pass over the region, in this fixed order of cells:
//   header (1: its fixed part against the copy taken at attach, lifecycle, lock)
//   participants (max_participants)   groups (max_groups x (1 + partitions):
//   each entry, then its cursors in each partition)   partition controls
//   (partitions)   DLQ control (1)   bridges (kMaxBridges)   ring slots
//   (partitions x capacity)   staging slots (partitions x spill_capacity)
//   DLQ slots (dlq_capacity)   lease entries (max_groups x partitions x capacity).
// cells() is their sum, a constant of the region. run(b) checks the next b
// cells and stops early only at a violation, so b units of budget move the
// pass exactly b cells on: every cell is read again within every cells()
// units, and damage is found at most cells() units (cells() / R seconds for
// a scheduler giving the region R units a second) after it is made.
//
// Cost: a cell reads a few cache lines at most (a ring slot: its first and
// last; a partition control or the header: one per word checked; a lease
// entry: half of one), so run(b) costs O(b) lines however big the tables
// are. The lease entries of a group that is not active mean nothing yet:
// passed over unread in O(1) per run() and group, still one unit of budget
// each (so cells() stays exact, an upper bound of a pass's work). Measured
// (bench/micro_bench.cpp, BM_IntegrityCheck*): about 3-4 ns a cell when the
// region is in cache, about 19 ns when it comes from memory (1000 queues).
// The clean path allocates nothing and formats nothing: a check yields a
// trivially copyable Violation, turned into words only when one is found.
//
// It does not see damage that leaves every invariant true (a payload byte, a
// counter, a doorbell): those cannot mislead the protocol.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "shmq/internal/region.hpp"

namespace shmq::detail {

class IntegrityCheck {
public:
    explicit IntegrityCheck(const Region& r);
    // Checks up to `budget` cells of the rolling pass, continuing where the
    // last call stopped and wrapping to a new pass. Returns the first
    // violation found (words for the log and `shmq stat`), else nullopt; the
    // pass then stays at that cell, so the next call finds it again.
    // No allocation or formatting unless a violation is found.
    std::optional<std::string> run(uint64_t budget);
    uint64_t cells() const noexcept { return cells_; }    // cells in one whole pass of this region
    uint64_t passes() const noexcept { return passes_; }  // whole passes completed so far

    // What a check found: `form` is static text in which each '#' stands for
    // the next of `v` in decimal and '@' for `word` (static too).
    struct Violation {
        const char* form;
        std::array<uint64_t, 4> v{};
        const char* word = "";
    };

private:
    enum Section : uint32_t {
        header_cell, participants, groups, partitions, dlq_control, bridges,
        ring_slots, staging_slots, dlq_slots, tx_records, leases, kSections
    };
    std::optional<Violation> sweep(Section s, uint64_t from, uint64_t& n) const;
    std::optional<Violation> header() const;
    std::optional<Violation> participant(uint32_t i) const;
    std::optional<Violation> group(uint32_t g) const;
    std::optional<Violation> group_cursors(uint32_t g, uint32_t p) const;
    std::optional<Violation> partition(uint32_t p) const;
    std::optional<Violation> dlq() const;
    std::optional<Violation> bridge(uint32_t i) const;
    std::optional<Violation> tx_record(uint32_t i) const;
    std::optional<Violation> leases_of(uint32_t g, uint64_t from, uint64_t& n) const;
    bool valid_token(uint64_t token) const noexcept;

    const Region& r_;
    // The header's fixed part (bytes [0, 320) but lifecycle) as validated at attach.
    std::array<std::byte, offsetof(layout::RegionHeader, damaged_unix_ns)> fixed_{};
    // Cells of each section (from the region's parameters, fixed at attach) and their sum.
    std::array<uint64_t, kSections> size_{};
    uint64_t cells_ = 0;
    // Rolling position: the section, the cell in it; whole passes done.
    Section sec_ = header_cell;
    uint64_t at_ = 0;
    uint64_t passes_ = 0;
};

}  // namespace shmq::detail
