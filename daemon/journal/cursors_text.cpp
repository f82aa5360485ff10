#include "cursors_text.hpp"

#include "shmq/internal/groups.hpp"
#include "restore/queue_file.hpp"

namespace shmq::daemon {

std::string cursors_text(const detail::Region& r, const ReplayPosition& replay_position) {
    std::string text = "shmq-cursors 1\nepoch " + hex64(r.epoch()) + "\n";
    for (uint32_t g = 0; g < r.max_groups(); ++g) {
        const uint64_t st = r.group(g).state.load(std::memory_order_acquire);
        if (layout::group_status(st) != layout::kGroupActive) continue;
        text += "group " + detail::group_name(r, g) + " " +
                detail::group_kind_name(static_cast<GroupKind>(layout::group_kind(st)));
        for (uint32_t p = 0; p < r.partitions(); ++p) {
            const std::optional<uint64_t> at = replay_position(g, p);
            text += " " + std::to_string(at ? *at : r.group_partition(g, p).floor.load(std::memory_order_acquire));
        }
        text += "\n";
    }
    return text;
}

}  // namespace shmq::daemon
