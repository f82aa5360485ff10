// A queue's spill directory, DATA/spill/<queue>.<epoch>/p<N>/*.seg
// (restore/queue_file.hpp spill_dir_name; partition_spill.hpp writes it).
#pragma once

#include <cstdint>
#include <string>

namespace shmq::daemon {

// The queue is gone, and its spilled messages with it: removes the segments
// of partitions 0..partitions-1, their directories and <spill_root>/<dir_name>.
// unlinkat never follows a symlink. True when <dir_name> itself was removed.
bool remove_spill_dir(const std::string& spill_root, const std::string& dir_name, uint32_t partitions);

}  // namespace shmq::daemon
