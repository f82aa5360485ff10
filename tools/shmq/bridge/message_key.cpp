#include "message_key.hpp"

#include <algorithm>

namespace shmq::cli::bridge {

bool printable_key(std::string_view key) {
    return std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

bool plain_header_text(std::string_view s) {
    return printable_key(s) && (s.empty() || (s.front() != ' ' && s.back() != ' '));
}

std::string header_value(std::string_view key, std::string_view value) {
    if (plain_header_text(key) && plain_header_text(value) && key.find('=') == std::string_view::npos)
        return std::string(key) + "=" + std::string(value);
    return "=" + to_hex(key) + "=" + to_hex(value);
}

std::optional<std::pair<std::string, std::string>> parse_header_value(std::string_view v) {
    const bool hex = !v.empty() && v.front() == '=';
    if (hex) v.remove_prefix(1);
    const auto eq = v.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    if (!hex) return std::pair{std::string(v.substr(0, eq)), std::string(v.substr(eq + 1))};
    auto k = from_hex(v.substr(0, eq));
    auto val = from_hex(v.substr(eq + 1));
    if (!k || !val || k->empty()) return std::nullopt;
    return std::pair{std::move(*k), std::move(*val)};
}

}  // namespace shmq::cli::bridge
