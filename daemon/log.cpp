#include "log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace shmq::daemon {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
const char* name(Level level) {
    switch (level) {
        case Level::error: return "error";
        case Level::warn: return "warn";
        case Level::info: return "info";
        case Level::debug: return "debug";
    }
    return "?";
}
}  // namespace

bool parse_level(std::string_view text, Level& out) {
    for (Level l : {Level::error, Level::warn, Level::info, Level::debug})
        if (text == name(l)) {
            out = l;
            return true;
        }
    return false;
}

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
bool enabled(Level level) { return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed); }

void log(Level level, const std::string& line) {
    if (!enabled(level)) return;
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    ::gmtime_r(&ts.tv_sec, &utc);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ts.tv_nsec / 1'000'000);
    std::string out = std::string(stamp) + " shmqd " + name(level) + ": " + line + "\n";
    // One write per line: lines of concurrent writers never interleave.
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace shmq::daemon
