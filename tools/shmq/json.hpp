// The tool's JSON output: nlohmann::ordered_json values (keys stay in the order
// they are set), and the one rule for bytes the tool did not make itself (keys,
// names and texts read from a region, error texts): valid UTF-8 goes in `field`,
// anything else in `field_hex` as lowercase hex, so exactly one of the two is
// present and dump() never meets invalid UTF-8.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace shmq::cli {

using Json = nlohmann::ordered_json;

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool is_utf8(std::string_view bytes);
std::string to_hex(std::string_view bytes);  // lowercase, two digits a byte
void put_bytes(Json& object, const std::string& field, std::string_view bytes);

// Rates and ratios: rounded to one decimal, 0 for NaN/inf (JSON has neither).
double one_decimal(double v);

// One line of compact JSON, without the newline.
std::string dump(const Json& j);

}  // namespace shmq::cli
