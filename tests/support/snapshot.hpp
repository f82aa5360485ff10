// A read-only snapshot of a queue by name (inspect::snapshot), for checks.
#pragma once

#include <string>

#include "inspect/inspect.hpp"
#include "region.hpp"

namespace shmq::test {

inline inspect::QueueSnapshot snapshot_of(const std::string& queue) {
    return inspect::snapshot(*detail::Region::open(queue, detail::Access::read_only));
}

}  // namespace shmq::test
