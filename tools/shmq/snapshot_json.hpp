// JSON renderings of inspect snapshots, shared by stat, groups and ls.
// The schema is documented in docs/CLI.md and kept stable.
#pragma once

#include "inspect/inspect.hpp"
#include "json.hpp"
#include "rates.hpp"

namespace shmq::cli {

void write_options(Json& j, const QueueOptions& o);
// `rates` may be null (groups --json without sampling): rate fields are then 0.
void write_group(Json& j, const inspect::GroupStats& g, bool with_partitions, const GroupRates* rates = nullptr);
void write_snapshot(Json& j, const inspect::QueueSnapshot& s, const QueueRates& rates);

}  // namespace shmq::cli
