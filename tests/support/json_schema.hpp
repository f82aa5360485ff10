// Checks a JSON value against the subset of JSON Schema (2020-12) that
// docs/schema/*.schema.json use: type, required, properties,
// additionalProperties: false, items, enum, const, minimum, pattern (as a
// POSIX ERE: keep patterns to the common subset), oneOf
// and local $ref ("#/$defs/NAME"). Returns every violation with its path, so
// a failing test names the undocumented or missing key.
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
        if (!schema.has("$ref")) return schema;
        const std::string& ref = schema["$ref"].string;
        const std::string prefix = "#/$defs/";
        if (ref.rfind(prefix, 0) != 0 || !root_["$defs"].has(ref.substr(prefix.size())))
            throw std::runtime_error("schema: unresolvable $ref " + ref);
        return root_["$defs"][ref.substr(prefix.size())];
    }

    static bool same(const Value& a, const Value& b) {
        if (a.kind != b.kind) return false;
        switch (a.kind) {
            case Value::Kind::string: return a.string == b.string;
            case Value::Kind::number: return a.number == b.number;
            case Value::Kind::boolean: return a.boolean == b.boolean;
            case Value::Kind::null: return true;
            default: return false;  // enums here hold scalars only
        }
    }

    static bool has_type(const Value& v, const std::string& type) {
        if (type == "object") return v.kind == Value::Kind::object;
        if (type == "array") return v.kind == Value::Kind::array;
        if (type == "string") return v.kind == Value::Kind::string;
        if (type == "boolean") return v.kind == Value::Kind::boolean;
        if (type == "null") return v.kind == Value::Kind::null;
        if (type == "number") return v.kind == Value::Kind::number;
        if (type == "integer") return v.kind == Value::Kind::number && std::floor(v.number) == v.number;
        throw std::runtime_error("schema: unknown type " + type);
    }

    void check(const Value& v, const Value& schema_ref, const std::string& path, std::vector<std::string>& errors) const {
        const Value& schema = resolve(schema_ref);
        if (schema.has("oneOf")) {
            int matches = 0;
            for (const auto& alt : schema["oneOf"].array) {
                std::vector<std::string> sub;
                check(v, alt, path, sub);
                matches += sub.empty() ? 1 : 0;
            }
            if (matches != 1) errors.push_back(path + ": matches " + std::to_string(matches) + " of oneOf, not 1");
            return;
        }
        if (schema.has("type") && !has_type(v, schema["type"].string)) {
            errors.push_back(path + ": not of type " + schema["type"].string);
            return;
        }
        if (schema.has("const") && !same(v, schema["const"])) errors.push_back(path + ": not the const value");
        if (schema.has("enum")) {
            bool found = false;
            for (const auto& e : schema["enum"].array) found = found || same(v, e);
            if (!found) errors.push_back(path + ": not one of the enum values (got '" + v.string + "')");
        }
        if (schema.has("minimum") && v.kind == Value::Kind::number && v.number < schema["minimum"].number)
            errors.push_back(path + ": below minimum");
        if (schema.has("pattern") && v.kind == Value::Kind::string &&
            !ere_search(schema["pattern"].string, v.string))
            errors.push_back(path + ": '" + v.string + "' does not match " + schema["pattern"].string);
        if (v.kind == Value::Kind::object) {
            for (const auto& key : schema["required"].array)
                if (!v.has(key.string)) errors.push_back(path + ": missing required key '" + key.string + "'");
            const Value& props = schema["properties"];
            for (const auto& [key, child] : v.object) {
                if (props.has(key))
                    check(child, props[key], path + "." + key, errors);
                else if (schema.has("additionalProperties") && !schema["additionalProperties"].boolean)
                    errors.push_back(path + ": undocumented key '" + key + "'");
            }
        }
        if (v.kind == Value::Kind::array && schema.has("items"))
            for (std::size_t i = 0; i < v.array.size(); ++i)
                check(v.array[i], schema["items"], path + "[" + std::to_string(i) + "]", errors);
    }

    Value root_;
};

}  // namespace shmq::test
