// JSON renderings of inspect snapshots, shared by stat, groups and ls.
// The schema is documented in docs/CLI.md and kept stable.
#pragma once

#include "inspect/inspect.hpp"
#include "json.hpp"

namespace shmq::cli {

void write_options(Json& j, const QueueOptions& o);
void write_group(Json& j, const inspect::GroupStats& g, bool with_partitions);
void write_snapshot(Json& j, const inspect::QueueSnapshot& s);

}  // namespace shmq::cli
