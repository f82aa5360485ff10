// What the orchestrator asks the `shmq` tool (built beside it): the queue's
// counters (`shmq stat NAME --json`) and the DLQ (`shmq dlq ls NAME --json`).
// The public library has no stats API; the tool reads the region read-only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace photo_pipeline {

struct GroupCounters {
    std::string name;
    uint64_t members = 0;    // consumers in the group (pids listed by stat)
    uint64_t lag = 0;        // published, not yet finished by the group
    uint64_t in_flight = 0;  // leased right now
    uint64_t retrying = 0;   // waiting for redelivery
    uint64_t redelivered = 0;    // deliveries after the first (NACKs, expiries, dead consumers)
    uint64_t dead_lettered = 0;  // moved to the DLQ by this group
};

struct QueueCounters {
    uint64_t published = 0;
    uint64_t dlq_depth = 0;
    std::vector<GroupCounters> groups;

    // Every group has finished every message (ACKed or dead-lettered).
    bool drained() const {
        for (const auto& g : groups)
            if (g.lag != 0 || g.in_flight != 0 || g.retrying != 0) return false;
        return true;
    }
};

struct DeadLetter {
    std::string key;  // the photo id
    std::string group;
    uint64_t deliveries = 0;
    std::string reason;
};

class ShmqTool {
public:
    explicit ShmqTool(std::string path) : path_(std::move(path)) {}
    QueueCounters stat(const std::string& queue) const;
    std::vector<DeadLetter> dlq(const std::string& queue) const;

private:
    std::string path_;
};

}  // namespace photo_pipeline
