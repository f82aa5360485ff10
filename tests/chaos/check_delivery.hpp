// Loss and duplicates, per group: every message whose send was acknowledged
// is recorded by the group (lost must be 0), and every record beyond a
// message's first comes from a redelivery (a record with deliveries >= 2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace shmq::chaos {

struct DeliveryResult {
    uint64_t records = 0;
    uint64_t received = 0;            // distinct messages recorded that were sent
    uint64_t in_flight_received = 0;  // distinct messages recorded that were in flight at a kill
    uint64_t lost = 0;                // sent and never recorded: a violation
    uint64_t duplicates = 0;          // records beyond a message's first
    uint64_t duplicated_messages = 0;
    uint64_t unexplained = 0;  // messages recorded twice, never redelivered: a violation
    std::vector<std::string> examples;
};

// `records`: one group's.
DeliveryResult check_delivery(const std::vector<Rec>& records, const std::vector<ProducerRun>& producers,
                              const MessageSpace& space);

}  // namespace shmq::chaos
