// Reads the tool's JSON output in tests with nlohmann-json, strictly: malformed
// text, trailing characters, invalid UTF-8 and duplicate keys all throw.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmq::test {

using Value = nlohmann::json;

inline Value parse_json_text(const std::string& text) {
    using Event = Value::parse_event_t;
    std::vector<std::set<std::string>> keys;  // the keys seen so far, one set per open object
    std::string duplicate;
    Value v = Value::parse(text, [&](int, Event e, Value& parsed) {
        if (e == Event::object_start) keys.emplace_back();
        else if (e == Event::object_end) keys.pop_back();
        else if (e == Event::key && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
            duplicate = parsed.get<std::string>();
        return true;
    });
    if (!duplicate.empty()) throw std::runtime_error("JSON: duplicate key " + duplicate);
    return v;
}

}  // namespace shmq::test
