// Keeps every shmqd away from one queue while it lives: holds the queue's
// daemon lock byte (layout::kDaemonLockByte), as the shmqd serving it would.
// For tests of what producers and consumers do alone, which other tests'
// daemons (watching every queue on the host) must not disturb.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/process.hpp"

namespace shmq::test {

class NoShmqd {
public:
    explicit NoShmqd(const std::string& queue) : region_(detail::Region::open(queue)) {
        if (!sys::try_lock_byte(region_->lock_fd(), layout::kDaemonLockByte))
            throw std::runtime_error("a shmqd already serves queue " + queue);
    }
    // Lets a shmqd take the queue (closing our descriptor drops the lock).
    void release() { region_.reset(); }

private:
    std::shared_ptr<detail::Region> region_;
};

}  // namespace shmq::test
