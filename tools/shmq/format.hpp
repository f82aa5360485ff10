// Human-friendly numbers and aligned text tables for the tool's listings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmq::cli {

std::string human_count(uint64_t n);      // 999, 1.2K, 35M, 4.1G
std::string human_bytes(uint64_t n);      // 512 B, 1.5 KiB, 32 MiB
std::string human_ms(uint64_t ms);        // 35 ms, 4.2 s, 3 min, 2.0 h
std::string human_rate(double per_s);     // 0/s, 950/s, 1.2M/s
std::string human_age_ms(uint64_t ms);    // "-" for 0 (no message), else human_ms
std::string octal_mode(uint32_t mode);    // "0600"

// Bytes the tool did not make itself (keys, payloads, names and texts read from
// a region, error lines quoting them) made safe and unambiguous on a terminal:
// printable ASCII stays, '\' becomes "\\", every other byte "\xNN" (lowercase).
std::string printable(std::string_view bytes);

// Every cell is shown through printable(): a table never writes a raw control
// or non-ASCII byte (the tool's own cells are printable ASCII without '\').
class Table {
public:
    explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
    void add(std::vector<std::string> row);
    std::string render(const std::string& indent = "") const;
    bool empty() const { return rows_.size() <= 1; }

private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace shmq::cli
