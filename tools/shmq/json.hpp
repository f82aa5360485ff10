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

// A message's attributes (Publisher::publish's routing key and headers):
// "routing_key" (or _hex; "" when none), "headers": [{"key", "value"}] in
// publish order (each byte string by put_bytes), and "attributes_malformed":
// true only when the slot's attribute block did not check out.
template <class Headers>
void put_attributes(Json& object, std::string_view routing_key, const Headers& headers, bool malformed) {
    put_bytes(object, "routing_key", routing_key);
    Json list = Json::array();
    for (const auto& [k, v] : headers) {
        Json h;
        put_bytes(h, "key", k);
        put_bytes(h, "value", v);
        list.push_back(std::move(h));
    }
    object["headers"] = std::move(list);
    if (malformed) object["attributes_malformed"] = true;
}

// Rates and ratios: rounded to one decimal, 0 for NaN/inf (JSON has neither).
double one_decimal(double v);

// One line of compact JSON, without the newline.
std::string dump(const Json& j);

}  // namespace shmq::cli
