// Checks a JSON value against the subset of JSON Schema (2020-12) that
// docs/schema/*.schema.json use: type, required, properties,
// additionalProperties: false, items, enum, const, minimum, pattern (as a
// POSIX ERE: keep patterns to the common subset), oneOf and allOf (beside the
// other keywords, as in JSON Schema) and local $ref ("#/$defs/NAME"). Returns every
// violation with its path, so a failing test names the undocumented or missing key.
#pragma once

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/json_value.hpp"
#include "support/posix_regex.hpp"

namespace shmq::test {

class SchemaChecker {
public:
    explicit SchemaChecker(Value schema) : root_(std::move(schema)) {}

    static SchemaChecker from_file(const std::string& path) {
        std::ifstream f(path);
        if (!f) throw std::runtime_error("cannot read schema " + path);
        std::stringstream s;
        s << f.rdbuf();
        return SchemaChecker(parse_json_text(s.str()));
    }

    std::vector<std::string> check(const Value& v) const {
        std::vector<std::string> errors;
        check(v, root_, "$", errors);
        return errors;
    }

private:
    const Value& resolve(const Value& schema) const {
        if (!schema.contains("$ref")) return schema;
        const std::string ref = schema.at("$ref").get<std::string>();
        const std::string prefix = "#/$defs/";
        const std::string name = ref.substr(std::min(ref.size(), prefix.size()));
        if (ref.rfind(prefix, 0) != 0 || !root_.contains("$defs") || !root_.at("$defs").contains(name))
            throw std::runtime_error("schema: unresolvable $ref " + ref);
        return root_.at("$defs").at(name);
    }

    static bool has_type(const Value& v, const std::string& type) {
        if (type == "object") return v.is_object();
        if (type == "array") return v.is_array();
        if (type == "string") return v.is_string();
        if (type == "boolean") return v.is_boolean();
        if (type == "null") return v.is_null();
        if (type == "number") return v.is_number();
        if (type == "integer") return v.is_number() && std::floor(v.get<double>()) == v.get<double>();
        throw std::runtime_error("schema: unknown type " + type);
    }

    void check(const Value& v, const Value& schema_ref, const std::string& path, std::vector<std::string>& errors) const {
        const Value& schema = resolve(schema_ref);
        if (schema.contains("oneOf")) {
            int matches = 0;
            for (const auto& alt : schema.at("oneOf")) {
                std::vector<std::string> sub;
                check(v, alt, path, sub);
                matches += sub.empty() ? 1 : 0;
            }
            if (matches != 1) errors.push_back(path + ": matches " + std::to_string(matches) + " of oneOf, not 1");
        }
        if (schema.contains("allOf"))
            for (const auto& part : schema.at("allOf")) check(v, part, path, errors);
        if (schema.contains("type") && !has_type(v, schema.at("type").get<std::string>())) {
            errors.push_back(path + ": not of type " + schema.at("type").get<std::string>());
            return;
        }
        if (schema.contains("const") && v != schema.at("const")) errors.push_back(path + ": not the const value");
        if (schema.contains("enum")) {
            bool found = false;
            for (const auto& e : schema.at("enum")) found = found || v == e;
            if (!found) errors.push_back(path + ": not one of the enum values (got " + v.dump() + ")");
        }
        if (schema.contains("minimum") && v.is_number() && v.get<double>() < schema.at("minimum").get<double>())
            errors.push_back(path + ": below minimum");
        if (schema.contains("pattern") && v.is_string() &&
            !ere_search(schema.at("pattern").get<std::string>(), v.get<std::string>()))
            errors.push_back(path + ": '" + v.get<std::string>() + "' does not match " +
                             schema.at("pattern").get<std::string>());
        if (v.is_object()) {
            if (schema.contains("required"))
                for (const auto& key : schema.at("required"))
                    if (!v.contains(key.get<std::string>()))
                        errors.push_back(path + ": missing required key '" + key.get<std::string>() + "'");
            const bool closed = schema.contains("additionalProperties") && !schema.at("additionalProperties").get<bool>();
            for (const auto& [key, child] : v.items()) {
                if (schema.contains("properties") && schema.at("properties").contains(key))
                    check(child, schema.at("properties").at(key), path + "." + key, errors);
                else if (closed)
                    errors.push_back(path + ": undocumented key '" + key + "'");
            }
        }
        if (v.is_array() && schema.contains("items"))
            for (std::size_t i = 0; i < v.size(); ++i)
                check(v.at(i), schema.at("items"), path + "[" + std::to_string(i) + "]", errors);
    }

    Value root_;
};

}  // namespace shmq::test
