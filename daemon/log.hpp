// shmqd's log: one line per event on stderr, with a UTC timestamp and level.
#pragma once

#include <string>
#include <string_view>

namespace shmq::daemon {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
bool enabled(Level level);
void log(Level level, const std::string& line);

}  // namespace shmq::daemon
