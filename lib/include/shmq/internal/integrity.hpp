// shmqd's integrity check of a live region: invariants that every honest
// process keeps at every instant, read in an order that makes each check
// sound while peers run (all cursors only grow; see the comments in
// integrity.cpp). Any violation means a process wrote what the protocol
// never writes — a rogue or a stray pointer — and the queue can no longer be
// served right (shmq/internal/damage.hpp retires it).
//
// run() checks the header against the copy taken at attach, every lease-table,
// group and partition entry, then `budget` slots and lease entries of a
// rolling scan, so a whole region is covered every few ticks without a
// tick costing more than `budget` cache lines.
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
    // The first violation found, in words for the log and `shmq stat`.
    std::optional<std::string> run(uint64_t budget);

private:
    std::optional<std::string> header() const;
    std::optional<std::string> participants() const;
    std::optional<std::string> groups() const;
    std::optional<std::string> partitions() const;
    std::optional<std::string> dlq() const;
    std::optional<std::string> bridges() const;
    std::optional<std::string> scan(uint64_t budget);
    std::optional<std::string> ring_slot(uint32_t p, uint64_t index) const;
    std::optional<std::string> staging_slot(uint32_t p, uint64_t index) const;
    std::optional<std::string> dlq_slot(uint64_t index) const;
    std::optional<std::string> lease(uint32_t g, uint32_t p, uint64_t index) const;
    bool valid_token(uint64_t token) const noexcept;

    const Region& r_;
    // The header's fixed part (bytes [0, 320) but lifecycle) as validated at attach.
    std::array<std::byte, offsetof(layout::RegionHeader, damaged_unix_ns)> fixed_{};
    // Rolling scan position: which table, and the cell in it.
    enum class Table { ring, staging, dlq, leases };
    Table table_ = Table::ring;
    uint64_t cell_ = 0;
};

}  // namespace shmq::detail
