// Queue and group names, and the paths derived from them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shmq::detail {

// Error sentence for a bad queue/group name (`what` names which), or nullopt.
// Valid: [A-Za-z0-9._-]{1,64}.
std::optional<std::string> check_name(std::string_view name, const char* what);
// "shmq.<name>": the shared-memory object name (Boost/shm_open, no slash).
std::string region_object_name(std::string_view queue);
// "/dev/shm/shmq.<name>"
std::string region_path(std::string_view queue);
inline constexpr std::string_view kRegionPrefix = "shmq.";
inline constexpr std::string_view kShmDir = "/dev/shm";

}  // namespace shmq::detail
