// The run's result as a table and one JSON line ({"chaos_run":...};
// docs/RELIABILITY.md defines each figure): what the run did and what the
// checks found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "check_delivery.hpp"
#include "check_journal.hpp"
#include "check_order.hpp"
#include "figures.hpp"
#include "read_records.hpp"
#include "run_data.hpp"

namespace shmq::chaos {

struct RunSummary {
    uint64_t seed = 0;
    double minutes = 0;
    double kill_seconds = 0, drain_seconds = 0;
    bool drained = false;
    std::map<Role, uint64_t> kills;
    std::size_t producer_processes = 0;
    uint64_t sent = 0, in_flight = 0, dwells = 0;  // over the producer processes
    // Sampled every 100 ms while killing: how much spilling really happened.
    uint64_t spilled = 0, max_spill_backlog = 0, max_spill_disk = 0;
    uint64_t dlq_depth = 0;  // at the end of the drain
    uint64_t shmqd_starts = 0;
};

// Each check's findings about one group.
struct GroupFindings {
    DeliveryResult delivery;
    RedeliveryFigures redelivery;
    ExclusiveOrderResult order;  // exclusive group only
    std::vector<std::string> examples;  // at most 8
};

struct Findings {
    RecordFiles records;
    StorageOrderResult storage;
    GroupFindings groups[2];  // as kGroups
    ProducerKillFigures producer_kills;
    JournalResult journal;
    std::vector<std::string> examples;  // of records, storage and journal: at most 8

    bool lost_any() const { return groups[0].delivery.lost + groups[1].delivery.lost != 0; }
    uint64_t violations() const;  // every check's, loss aside
};

// `problems`: what went wrong in the run, one line each is shown.
void print_report(std::ostream& out, const RunSummary& run, const Findings& f, const std::vector<std::string>& problems,
                  bool pass);

}  // namespace shmq::chaos
