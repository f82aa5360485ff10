// Recreating a journaled queue from its journal after its region is gone (a
// reboot, or `shmq delete --region-only`): the region comes back with the
// same parameters and epoch, each partition starting at the journal's end,
// and every group of the cursors file in place. A group whose saved position
// lies below the journal's end gets a replay region holding the rest
// (replay/group_replay.hpp): it is delivered those messages first, in
// offset order, then the ring. So every message not ACKed by a group when
// its position was last saved (at most a second before) reaches it again:
// at-least-once across the reboot. Messages the journal had not yet written
// are lost with the region (stat shows that lag as journal_lag).
//
// Order for a shmqd killed half-way: replay regions first, the queue last; a
// next attempt removes the replay regions it finds and makes them again.
#pragma once

#include <string>
#include <vector>

namespace shmq::daemon {

// Queues with a journal under DATA/journal whose description names them.
std::vector<std::string> journaled_queues(const std::string& data_dir);
// Recreates queue `name` from DATA/journal/<name> if its region does not
// exist. True when it created it; logs what it did or why it could not.
bool restore_from_journal(const std::string& data_dir, const std::string& name);
// The queue was deleted for good: its journal is set aside as
// DATA/journal/<name>.deleted-<time>, never restored.
void retire_journal(const std::string& data_dir, const std::string& name);

}  // namespace shmq::daemon
