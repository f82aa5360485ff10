// The journal's description of its queue, DATA/journal/<queue>/queue, and
// its group positions, DATA/journal/<queue>/cursors: what shmqd needs to
// recreate the queue from its journal (restore/queue_restore.hpp). Both are
// text, "key value" per line, replaced atomically (disk/small_file.hpp), and
// untrusted when read back: every value is parsed and range-checked.
//
//   queue:   shmq-journal 1 / name N / epoch <16 hex> / partitions / capacity /
//            max_message / on_full / lease_ms / max_deliveries / retain_bytes /
//            retain_ms / dlq_capacity / max_groups / max_participants / mode (octal) /
//            high_watermark_pct / fsync / spill_buffer / dedup_window_ms / dedup_capacity /
//            dedup_content (0|1) / owner <uid>:<gid> (of the region)
//   cursors: shmq-cursors 1 / epoch <16 hex> / group <name> <exclusive|shared> <floor p0> <floor p1> ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shmq/shmq.hpp"

namespace shmq::daemon {

struct QueueFile {
    std::string name;
    uint64_t epoch = 0;
    QueueOptions options;
    std::optional<std::pair<uint32_t, uint32_t>> owner;  // uid, gid of the region file
};

struct GroupCursor {
    std::string name;
    GroupKind kind = GroupKind::shared;
    std::vector<uint64_t> floors;  // per partition
};

std::string format_queue_file(const std::string& name, uint64_t epoch, const QueueOptions& o, uint32_t uid,
                              uint32_t gid);
// nullopt with `error` set (one line) when the text is not a queue file.
std::optional<QueueFile> parse_queue_file(const std::string& text, std::string& error);
// Groups of a cursors file written for `epoch` with `partitions` floors each;
// lines that do not parse are left out and reported in `error`.
std::vector<GroupCursor> parse_cursors_file(const std::string& text, uint64_t epoch, uint32_t partitions,
                                            std::string& error);

std::string hex64(uint64_t v);
// DATA/spill/<this>: a queue's spill segments, per incarnation (epoch).
inline std::string spill_dir_name(const std::string& queue, uint64_t epoch) { return queue + "." + hex64(epoch); }

}  // namespace shmq::daemon
