// The segment writers' fsync policy of a queue (QueueParams::fsync).
#pragma once

#include "shmq/internal/region.hpp"
#include "segment_writer.hpp"

namespace shmq::daemon {

inline disk::FsyncPolicy fsync_policy_of(const detail::Region& r) {
    switch (static_cast<layout::FsyncPolicy>(r.params().fsync)) {
        case layout::FsyncPolicy::never: return disk::FsyncPolicy::never;
        case layout::FsyncPolicy::always: return disk::FsyncPolicy::always;
        case layout::FsyncPolicy::batch: break;
    }
    return disk::FsyncPolicy::batch;  // batch, or an unknown value (checked at open)
}

}  // namespace shmq::daemon
