// The run's timing figures, each also "with shmqd up at the kill":
//   redelivery  kill of a consumer -> the first redelivery of a message it
//               had recorded, i.e. held unACKed
//   stall       kill of a producer holding a ring claim at partition p,
//               offset o -> the first delivery, in any group, of an offset
//               >= o in p (a consumer waits at o until the reaper aborts the
//               claim; this includes waiting for the next send to p)
//   repair      the same kills -> the reaper aborted the claim (measured by
//               the run while it kills: ProducerRun::repair_ns)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace shmq::chaos {

std::string fixed(double v, int digits = 1);

struct Percentiles {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, max = 0;  // ms
};
Percentiles percentiles(std::vector<uint64_t> ns);
std::string json(const Percentiles& p);   // {"n":..,"p50_ms":..,"p99_ms":..,"max_ms":..}
std::string words(const Percentiles& p);  // "max .. ms, p99 .. ms, p50 .. ms over N kills"

struct RedeliveryFigures {
    Percentiles all, shmqd_up;
    uint64_t kills_without_redelivery = 0;  // the killed consumer held nothing recorded
};

// Kills of group `group`'s consumers; `records`: that group's.
RedeliveryFigures redelivery_after_consumer_kills(const std::vector<Rec>& records, uint32_t group,
                                                  const std::vector<ConsumerRun>& consumers,
                                                  const ShmqdDowntime& shmqd_down);

struct ProducerKillFigures {
    // Where killed producers were.
    uint64_t ring_claim = 0, staged_claim = 0, in_send = 0, idle = 0;
    Percentiles stall, stall_up, repair, repair_up;
    uint64_t stall_unmeasured = 0;  // no offset >= the claim's was ever delivered
    // Ring-claim kills whose repair was not timed:
    uint64_t repair_timed_out = 0, repair_no_snapshot = 0, repair_in_commit = 0;
};

// `by_group`: every group's records.
ProducerKillFigures producer_kill_figures(const std::vector<std::vector<Rec>>& by_group,
                                          const std::vector<ProducerRun>& producers, uint32_t partitions,
                                          const ShmqdDowntime& shmqd_down);

}  // namespace shmq::chaos
