// Just enough JSON to read `shmq stat --json` and `shmq dlq ls --json`:
// objects, arrays, strings, numbers, true/false/null. Throws
// std::runtime_error naming the offset on malformed input.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace photo_pipeline::json {

struct Value {
    enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
    double number = 0;
    bool boolean = false;
    std::string string;
    std::vector<Value> array;
    std::map<std::string, Value, std::less<>> object;

    // Missing members read as null (0, "", []).
    const Value& operator[](std::string_view key) const;
    uint64_t u64() const { return number > 0 ? static_cast<uint64_t>(number) : 0; }
};

Value parse(std::string_view text);

}  // namespace photo_pipeline::json
