#include "tx/atomic_publish.hpp"

namespace shmq::detail {

Status publish_atomically(std::span<Producer* const> targets, std::span<const std::byte> payload,
                          const SendOptions& options) noexcept {
    if (targets.size() == 1) return targets[0]->send(payload, options);
    (void)payload;
    (void)options;
    return Errc::invalid_argument;  // not built yet: the coordinator-only transaction
}

}  // namespace shmq::detail
