// shmqd's side of `shmq replay` for one group (layout.hpp, GroupEntry,
// "Replay"): rewinds the group in the ring, and serves what lies below the
// ring from the journal through the group's replay region
// (shmq/internal/replay_request.hpp), in offset order, until the group has acked
// every partition of it to its end; then removes the region.
//
// The replay region's partition p holds offsets [base_p, end_p): the same
// offsets as the journal and the queue, end_p being where the group goes on
// in the queue's ring. shmqd is its only producer: it writes a slot, then
// moves its state from the previous lap to committed(o) (aborted(o) for a
// gap in the journal) with one seq_cst CAS (shmq/internal/commit_protocol.hpp (3):
// release publishes the payload to consumers, who acquire-load the state),
// then stores tail = o + 1. A shmqd killed between the two finds the slot
// already finished at tail and moves on; killed before the CAS, it writes
// the slot again. So each offset is put in once, and nothing is skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "journal_cursor.hpp"
#include "shmq/internal/participants.hpp"
#include "partition_dir.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::daemon {

// Creates the replay region of `group` of queue `queue` (options: the
// queue's): partition p holds [base[p], end[p]), the group in place with
// its floors at base, owned like the queue's region (uid, gid) so its
// consumers may open it. A region left by a crash is removed first. Throws Error.
std::shared_ptr<detail::Region> make_replay_region(const std::string& queue, const QueueOptions& queue_options,
                                                   uint32_t uid, uint32_t gid, const std::string& group, GroupKind kind,
                                                   const std::vector<uint64_t>& base, const std::vector<uint64_t>& end);
// Gives the region's file to uid:gid (shmqd may run as another user); logs a failure.
void give_region_to(const detail::Region& r, uint32_t uid, uint32_t gid);
// uid, gid of the region's file (ours if it cannot be read).
std::pair<uint32_t, uint32_t> region_owner(const detail::Region& r);

class GroupReplay {
public:
    // Takes group g's request (replay_state requested, or preparing after a
    // crash): rewinds the group and, when journal messages lie below the
    // ring, creates the replay region and returns the replay that feeds it.
    // Otherwise finishes the request (replay_result says how) and returns null.
    static std::unique_ptr<GroupReplay> prepare(detail::Region& q, uint32_t g, const detail::Participant& me,
                                                const std::string& journal_root);
    // A replay found running: after a restart of shmqd, or a queue restored
    // from its journal. Null (and the state cleared) if its region is gone.
    static std::unique_ptr<GroupReplay> resume(detail::Region& q, uint32_t g, const detail::Participant& me,
                                               const std::string& journal_root);
    ~GroupReplay();
    GroupReplay(const GroupReplay&) = delete;
    GroupReplay& operator=(const GroupReplay&) = delete;

    int feed();                   // a disk turn: journal records into the replay ring
    int tick(uint64_t now_mono);  // reap, expire; finish once every partition is acked to its end
    bool feeding() const;         // journal messages still to put into the replay ring
    bool done() const { return done_; }
    void abandon();               // the queue is going away: remove the replay region
    // The group's position in p while its replay there is not finished: the
    // replay floor (what the cursors file must say), else nullopt.
    std::optional<uint64_t> position(uint32_t p) const;

private:
    GroupReplay(detail::Region& q, uint32_t g, const detail::Participant& q_me, uint64_t group_gen,
                std::shared_ptr<detail::Region> rr, const std::string& journal_root);
    bool finish();

    detail::Region& q_;
    uint32_t g_;
    detail::Participant q_me_;  // shmqd in the queue's region: owner of its DLQ claims
    uint64_t group_gen_;
    std::string label_;
    std::shared_ptr<detail::Region> rr_;
    detail::Participant me_{};  // in the replay region: mover of its leases
    std::vector<disk::DirFd> dirs_;
    std::vector<std::unique_ptr<JournalCursor>> cursors_;
    std::vector<uint64_t> next_;  // next offset to put into the replay ring, per partition
    std::vector<uint64_t> end_;
    uint64_t gaps_ = 0;
    bool done_ = false;
};

}  // namespace shmq::daemon
