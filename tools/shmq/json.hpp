// A minimal streaming JSON writer: objects, arrays, strings, integers, bools, rates.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

namespace shmq::cli {

class Json {
public:
    Json& begin_object(std::string_view key = {}) { return open(key, '{'); }
    Json& end_object() { return close('}'); }
    Json& begin_array(std::string_view key = {}) { return open(key, '['); }
    Json& end_array() { return close(']'); }
    Json& field(std::string_view key, std::string_view v) {
        prefix(key);
        quote(v);
        return *this;
    }
    Json& field(std::string_view key, const char* v) { return field(key, std::string_view(v)); }
    Json& field(std::string_view key, const std::string& v) { return field(key, std::string_view(v)); }
    Json& field(std::string_view key, bool v) {
        prefix(key);
        out_ += v ? "true" : "false";
        return *this;
    }
    template <class T>
        requires std::is_integral_v<T>
    Json& field(std::string_view key, T v) {
        prefix(key);
        out_ += std::to_string(v);
        return *this;
    }
    // Rates and ratios: one decimal, and never NaN/inf (JSON has neither).
    template <class T>
        requires std::is_floating_point_v<T>
    Json& field(std::string_view key, T v) {
        prefix(key);
        char buf[48];
        std::snprintf(buf, sizeof buf, "%.1f", std::isfinite(v) ? static_cast<double>(v) : 0.0);
        out_ += buf;
        return *this;
    }
    Json& value(uint64_t v) { return field({}, v); }
    Json& value(std::string_view v) { return field({}, v); }
    const std::string& str() const { return out_; }

private:
    Json& open(std::string_view key, char c) {
        prefix(key);
        out_ += c;
        first_.push_back(true);
        return *this;
    }
    Json& close(char c) {
        out_ += c;
        first_.pop_back();
        return *this;
    }
    void prefix(std::string_view key) {
        if (!first_.empty()) {
            if (!first_.back()) out_ += ',';
            first_.back() = false;
        }
        if (!key.empty()) {
            quote(key);
            out_ += ':';
        }
    }
    void quote(std::string_view s) {
        out_ += '"';
        for (unsigned char c : s) {
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                default:
                    if (c < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        out_ += buf;
                    } else {
                        out_ += static_cast<char>(c);
                    }
            }
        }
        out_ += '"';
    }
    std::string out_;
    std::vector<bool> first_;
};

}  // namespace shmq::cli
