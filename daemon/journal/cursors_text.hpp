// The text of a journal's `cursors` file (format: restore/queue_file.hpp):
// each active group's floors, so a journal says what every group had
// finished. A replaying group stands where its replay does, below the ring.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "shmq/internal/region.hpp"

namespace shmq::daemon {

// Where group `group`'s replay stands in `partition`; nullopt when the group
// is not replaying (then its floor in the ring counts).
using ReplayPosition = std::function<std::optional<uint64_t>(uint32_t group, uint32_t partition)>;

// "shmq-cursors 1 / epoch <16 hex> / group <name> <exclusive|shared> <floor p0> <floor p1> ...".
std::string cursors_text(const detail::Region& r, const ReplayPosition& replay_position);

}  // namespace shmq::daemon
