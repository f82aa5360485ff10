#include "shmq_tool.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "children.hpp"

namespace payments {

QueueCounters ShmqTool::stat(const std::string& queue) const {
    using nlohmann::json;
    json s;
    try {
        s = json::parse(run_capture(path_, {"stat", queue, "--json", "--sample-ms", "0"}));
    } catch (const json::exception& e) {
        throw std::runtime_error("malformed JSON from `shmq stat " + queue + " --json`: " + e.what());
    }
    auto u64 = [](const json& o, const char* key) { return o.value(key, uint64_t{0}); };
    QueueCounters q;
    q.published = u64(s, "published");
    for (const auto& g : s.at("groups"))
        q.groups.push_back({g.value("name", std::string()), u64(g, "lag"), u64(g, "in_flight"), u64(g, "redelivered")});
    return q;
}

}  // namespace payments
