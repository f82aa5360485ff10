#include "format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace shmq::cli {

namespace {
std::string scaled(double v, const char* unit) {
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.1f%s" : "%.0f%s", v, unit);
    return buf;
}
}  // namespace

std::string human_count(uint64_t n) {
    if (n < 1000) return std::to_string(n);
    if (n < 1'000'000) return scaled(static_cast<double>(n) / 1e3, "K");
    if (n < 1'000'000'000) return scaled(static_cast<double>(n) / 1e6, "M");
    return scaled(static_cast<double>(n) / 1e9, "G");
}

std::string human_rate(double per_s) { return human_count(static_cast<uint64_t>(std::llround(per_s))) + "/s"; }

std::string human_age_ms(uint64_t ms) { return ms == 0 ? "-" : human_ms(ms); }

std::string human_bytes(uint64_t n) {
    if (n < 1024) return std::to_string(n) + " B";
    if (n < (1ull << 20)) return scaled(static_cast<double>(n) / 1024.0, " KiB");
    if (n < (1ull << 30)) return scaled(static_cast<double>(n) / 1048576.0, " MiB");
    return scaled(static_cast<double>(n) / 1073741824.0, " GiB");
}

std::string human_ms(uint64_t ms) {
    if (ms < 1000) return std::to_string(ms) + " ms";
    if (ms < 60'000) return scaled(static_cast<double>(ms) / 1e3, " s");
    if (ms < 3'600'000) return scaled(static_cast<double>(ms) / 6e4, " min");
    return scaled(static_cast<double>(ms) / 3.6e6, " h");
}

std::string octal_mode(uint32_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0%03o", mode & 0777);
    return buf;
}

std::string printable(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 0xf];
        }
    }
    return out;
}

void Table::add(std::vector<std::string> row) {
    for (auto& cell : row) cell = printable(cell);
    rows_.push_back(std::move(row));
}

std::string Table::render(const std::string& indent) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (const auto& row : rows_) {
        std::string line = indent;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace shmq::cli
