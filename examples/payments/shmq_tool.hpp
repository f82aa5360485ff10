// What the orchestrator asks the `shmq` tool (built beside it) about a queue:
// `shmq stat NAME --json`. The public library has no stats API; the tool
// reads the region read-only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace payments {

struct GroupCounters {
    std::string name;
    uint64_t lag = 0;          // published, not yet finished by the group
    uint64_t in_flight = 0;    // leased right now
    uint64_t redelivered = 0;  // deliveries after the first (dead consumers, aborted transactions)
};

struct QueueCounters {
    uint64_t published = 0;  // messages that entered the queue (a duplicate send or an aborted output is not one)
    std::vector<GroupCounters> groups;
    const GroupCounters* group(const std::string& name) const {
        for (const auto& g : groups)
            if (g.name == name) return &g;
        return nullptr;
    }
};

class ShmqTool {
public:
    explicit ShmqTool(std::string path) : path_(std::move(path)) {}
    QueueCounters stat(const std::string& queue) const;

private:
    std::string path_;
};

}  // namespace payments
