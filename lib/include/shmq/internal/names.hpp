// Queue and group names, and the paths derived from them.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shmq/internal/layout.hpp"

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

// A name in shared memory as kNameMax / 8 atomic words, so a racing reader
// never sees a torn word (layout::GroupEntry, layout::BridgeEntry): stored
// NUL-padded, at most kNameMax bytes; loaded up to the first NUL.
using NameWords = std::atomic<uint64_t>[layout::kNameMax / 8];
void store_name_words(NameWords& words, std::string_view name) noexcept;
std::string load_name_words(const NameWords& words, std::memory_order order);

}  // namespace shmq::detail
