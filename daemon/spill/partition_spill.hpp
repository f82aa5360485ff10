// shmqd's side of on_full=spill for one partition (shmq/internal/spill_protocol.hpp):
// drains the staging ring to disk segments (daemon/disk, io_uring), refills
// the partition's ring from them in spill-sequence order as room frees, and
// moves staged messages straight into the ring when nothing is on disk.
//
// State that matters lives in the region (spill_head, spill_refilled) and in
// the segments; this object caches descriptors and counts. A restarted shmqd
// rebuilds it: refilled from the marks of refilled ring slots, the disk
// backlog from recovery, the drain position from spill_head.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shmq/internal/participants.hpp"
#include "partition_dir.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "segment_writer.hpp"
#include "spill_reader.hpp"

namespace shmq::daemon {

class PartitionSpill {
public:
    // Segments go to <spill_root>/<dir_name>/p<partition> (dir_name names the
    // queue and its epoch: a recreated queue never reads an old one's files).
    PartitionSpill(detail::Region& region, uint32_t partition, const detail::Participant& me, std::string spill_root,
                   std::string dir_name);
    ~PartitionSpill();
    PartitionSpill(const PartitionSpill&) = delete;
    PartitionSpill& operator=(const PartitionSpill&) = delete;

    // One turn: drain staging, poll writes, advance spill_head, refill the
    // ring, stop spilling when all is refilled. Returns the work done.
    int run(uint64_t now_mono);
    bool active() const;

private:
    bool restart(uint64_t now_mono);  // (re)builds the cache from the region and the disk
    int drain(uint64_t now_mono);
    int refill();
    // A message into the ring with its key, dedup id (empty: none) and redrive
    // count; `attributes`: `payload` begins with its attribute block (kSlotAttributes).
    bool into_ring(uint64_t seq, std::span<const std::byte> key, std::span<const std::byte> id, uint16_t redrives,
                   std::span<const std::byte> payload, uint64_t publish_unix_ns, bool attributes);
    bool open_writer();
    void on_write_error(uint64_t now_mono);
    void publish_stats();
    void set_refilled(uint64_t seq);
    void remove_segments();

    detail::Region& r_;
    uint32_t p_;
    detail::Participant me_;
    std::string spill_root_;
    std::string dir_name_;
    std::string label_;
    disk::DirFd dir_;
    ring::RingRef ring_;
    ring::RingRef staging_;
    uint64_t ring_limit_ = 0;
    std::unique_ptr<disk::SegmentWriter> writer_;
    std::unique_ptr<SpillReader> reader_;
    uint64_t drained_ = 0;        // next staging sequence to look at
    uint64_t disk_messages_ = 0;  // on disk, not yet refilled
    uint64_t disk_bytes_ = 0;
    uint64_t retry_at_ns_ = 0;    // after a disk error: when to try again
    bool broken_ = false;         // waiting for retry_at_ns_
};

}  // namespace shmq::daemon
