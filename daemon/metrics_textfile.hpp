// The metrics as a file for node_exporter's textfile collector
// (--collector.textfile.directory; the file's name must end in .prom).
// Each refresh replaces PATH atomically: the text goes to PATH.tmp.<pid>,
// is fsync'ed, and is renamed over PATH, so a reader sees the old file or
// the new one, never a mix. The temporary name does not end in .prom, so
// the collector never reads it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shmq::daemon {

// Writes `text` to `path` as above. Returns one line saying what failed, or nullopt.
std::optional<std::string> write_file_atomically(const std::string& path, std::string_view text);

class MetricsTextfile {
public:
    MetricsTextfile(std::string path, uint64_t interval_ns) : path_(std::move(path)), interval_ns_(interval_ns) {}

    const std::string& path() const { return path_; }
    uint64_t next_due() const { return next_due_ns_; }  // the first refresh is due at once
    bool due(uint64_t now_mono) const { return now_mono >= next_due_ns_; }
    // Writes what `render` returns and schedules the next refresh. A failure
    // (rendering or writing; the old file then stays) is logged when it
    // starts and again if its reason changes, and the recovery once: a
    // missing directory does not fill the log every interval.
    void refresh(const std::function<std::string()>& render, uint64_t now_mono);

private:
    std::string path_;
    uint64_t interval_ns_;
    uint64_t next_due_ns_ = 0;
    std::string failing_;  // the last failure; empty while writes succeed
};

}  // namespace shmq::daemon
