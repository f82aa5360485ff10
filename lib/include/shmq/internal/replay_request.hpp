// `shmq replay`: rewinding a group (layout.hpp, GroupEntry, "Replay").
// The tool only asks; shmqd, which owns the journal, does the rewind and
// serves the journal's messages through the group's replay region
// (`shmq-replay.<queue>.<group>`, a region of the queue's layout whose
// partition p holds offsets [base_p, replay_end_p) and one group).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

// "shmq-replay.<queue>.<group>": outside "shmq." so no tool or shmqd takes
// it for a queue.
std::string replay_object_name(std::string_view queue, std::string_view group);

// Under the group-table lock: checks that `group` exists, is not replaying
// and has no live consumer, then stores the request (replay_state =
// requested). Returns the group's index. Throws Error naming what to do.
uint32_t request_replay(Region& r, std::string_view group, layout::ReplayFrom from, uint64_t value,
                        const Participant& me);
// Withdraws a request shmqd has not taken yet; false when it has.
bool cancel_replay(Region& r, uint32_t g) noexcept;

// Progress of a running replay, read from its replay region.
struct ReplayProgress {
    bool running = false;
    uint64_t acked = 0;  // offsets of the replay range the group has finished
    uint64_t total = 0;  // offsets in the replay range (aborted gaps included)
};
ReplayProgress replay_progress(const Region& r, uint32_t g);

// True when some shmqd serves the queue (holds its daemon lock byte).
bool served_by_shmqd(const Region& r) noexcept;

}  // namespace shmq::detail
