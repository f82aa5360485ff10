// A thread playing shmqd's spill work for partition 0 of one queue
// (daemon/spill's PartitionSpill over its own mapping, segments in a scratch
// dir), for tests linked with shmqd_spill. It holds the queue's daemon lock
// byte, so a shmqd of another test leaves the queue to it.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "partition_spill.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/process.hpp"
#include "shmq/internal/region.hpp"
#include "support/scratch_dir.hpp"

namespace shmq::test {

class SpillThread {
public:
    explicit SpillThread(const std::string& queue) : dir_("spill-thread"), region_(detail::Region::open(queue)) {
        EXPECT_FALSE(dir_.path.empty());
        EXPECT_TRUE(sys::try_lock_byte(region_->lock_fd(), layout::kDaemonLockByte));
        me_ = detail::attach_participant(*region_, layout::Role::admin, layout::kNoGroup, 0);
        thread_ = std::thread([this] {
            daemon::PartitionSpill spill(*region_, 0, me_, (dir_.path / "spill").string(), "q.0");
            while (!stop_.load(std::memory_order_relaxed))
                if (spill.run(sys::monotonic_ns()) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        });
    }
    SpillThread(const SpillThread&) = delete;
    SpillThread& operator=(const SpillThread&) = delete;
    ~SpillThread() {
        stop_.store(true);
        thread_.join();
        detail::detach_participant(*region_, me_);
    }
    const detail::Region& region() const { return *region_; }

private:
    ScratchDir dir_;
    std::shared_ptr<detail::Region> region_;
    detail::Participant me_{};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace shmq::test
