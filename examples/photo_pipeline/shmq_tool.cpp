#include "shmq_tool.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "children.hpp"

namespace photo_pipeline {

namespace {

using nlohmann::json;

// The tool's JSON, read strictly; a malformed document throws, naming the verb.
json parse(const std::string& text, std::string_view verb) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        throw std::runtime_error("malformed JSON from `shmq " + std::string(verb) + "`: " + e.what());
    }
}

uint64_t u64(const json& o, const char* key) { return o.value(key, uint64_t{0}); }

// A byte string the tool gives as `field`, or as `field_hex` when it is not UTF-8.
std::string bytes(const json& o, const std::string& field) {
    if (o.contains(field)) return o.at(field).get<std::string>();
    const std::string hex = o.value(field + "_hex", std::string());
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

}  // namespace

QueueCounters ShmqTool::stat(const std::string& queue) const {
    const json s = parse(run_capture(path_, {"stat", queue, "--json"}), "stat");
    QueueCounters q;
    q.published = u64(s, "published");
    q.dlq_depth = u64(s.at("dlq"), "depth");
    for (const auto& g : s.at("groups"))
        q.groups.push_back({bytes(g, "name"), g.at("members").size(), u64(g, "lag"), u64(g, "in_flight"),
                            u64(g, "retrying"), u64(g, "redelivered"), u64(g, "dead_lettered")});
    return q;
}

std::vector<DeadLetter> ShmqTool::dlq(const std::string& queue) const {
    const json d = parse(run_capture(path_, {"dlq", "ls", queue, "--json"}), "dlq ls");
    std::vector<DeadLetter> out;
    for (const auto& m : d.at("messages"))
        out.push_back({bytes(m, "key"), bytes(m, "group"), u64(m, "deliveries"), m.value("reason", std::string())});
    return out;
}

}  // namespace photo_pipeline
