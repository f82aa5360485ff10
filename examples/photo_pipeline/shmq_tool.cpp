#include "shmq_tool.hpp"

#include "children.hpp"
#include "json.hpp"

namespace photo_pipeline {

QueueCounters ShmqTool::stat(const std::string& queue) const {
    const json::Value s = json::parse(run_capture(path_, {"stat", queue, "--json"}));
    QueueCounters q;
    q.published = s["published"].u64();
    q.dlq_depth = s["dlq"]["depth"].u64();
    for (const auto& g : s["groups"].array)
        q.groups.push_back({g["name"].string, g["members"].u64(), g["lag"].u64(), g["in_flight"].u64(),
                            g["retrying"].u64(), g["redelivered"].u64(), g["dead_lettered"].u64()});
    return q;
}

std::vector<DeadLetter> ShmqTool::dlq(const std::string& queue) const {
    const json::Value d = json::parse(run_capture(path_, {"dlq", "ls", queue, "--json"}));
    std::vector<DeadLetter> out;
    for (const auto& m : d["messages"].array)
        out.push_back({m["key"].string, m["group"].string, m["deliveries"].u64(), m["reason"].string});
    return out;
}

}  // namespace photo_pipeline
