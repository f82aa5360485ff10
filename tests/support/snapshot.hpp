// A read-only snapshot of a queue by name (inspect::snapshot), for checks.
#pragma once

#include <string>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::test {

inline inspect::QueueSnapshot snapshot_of(const std::string& queue) {
    return inspect::snapshot(*detail::Region::open(queue, detail::Access::read_only));
}

}  // namespace shmq::test
