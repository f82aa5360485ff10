// Command-line flags of every role: "--name value" pairs and bare switches.
// Any problem throws std::runtime_error with one line naming the flag.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace examples {

class Args {
public:
    // argv[first..argc) against the known flags; unknown ones are errors.
    Args(int argc, char** argv, int first, std::vector<std::string_view> valued, std::vector<std::string_view> switches)
        : valued_(std::move(valued)), switches_(std::move(switches)) {
        for (int i = first; i < argc; ++i) {
            const std::string_view a = argv[i];
            if (known(switches_, a)) {
                set_.emplace_back(a);
            } else if (known(valued_, a)) {
                if (i + 1 >= argc) throw std::runtime_error("option " + std::string(a) + " needs a value");
                values_.emplace_back(a, argv[++i]);
            } else {
                throw std::runtime_error("unknown option '" + std::string(a) + "'; see --help");
            }
        }
    }

    std::optional<std::string> text(std::string_view flag) const {
        std::optional<std::string> found;
        for (auto& [f, v] : values_)
            if (f == flag) found = std::string(v);  // the last one wins
        return found;
    }
    std::string required(std::string_view flag) const {
        auto v = text(flag);
        if (!v) throw std::runtime_error("missing required option " + std::string(flag));
        return *v;
    }
    uint64_t number(std::string_view flag, uint64_t fallback, uint64_t min = 0, uint64_t max = UINT64_MAX) const {
        auto v = text(flag);
        if (!v) return fallback;
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (v->empty() || ec != std::errc() || p != v->data() + v->size() || n < min || n > max)
            throw std::runtime_error(std::string(flag) + " expects an integer in " + std::to_string(min) + ".." +
                                     std::to_string(max) + ", got '" + *v + "'");
        return n;
    }
    bool has(std::string_view sw) const { return known(set_, sw); }

private:
    static bool known(const std::vector<std::string_view>& v, std::string_view s) {
        for (auto x : v)
            if (x == s) return true;
        return false;
    }
    std::vector<std::string_view> valued_;
    std::vector<std::string_view> switches_;
    std::vector<std::pair<std::string_view, std::string_view>> values_;
    std::vector<std::string_view> set_;
};

}  // namespace examples
