// JSON renderings of inspect snapshots, shared by stat and groups.
// The schemas are docs/schema/{stat,groups}.schema.json, kept stable.
#pragma once

#include "shmq/internal/inspect.hpp"
#include "json.hpp"
#include "rates.hpp"

namespace shmq::cli {

Json options_json(const QueueOptions& o);
// `rates` may be null (groups --json without sampling): rate fields are then 0.
Json group_json(const inspect::GroupStats& g, bool with_partitions, const GroupRates* rates = nullptr);
Json snapshot_json(const inspect::QueueSnapshot& s, const QueueRates& rates);

}  // namespace shmq::cli
