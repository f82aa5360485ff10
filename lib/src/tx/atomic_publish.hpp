// One message into several queues at once: all or nothing. The seam between
// the exchange's publish (lib/src/exchange/publisher.cpp: which queues) and
// the transaction machinery (how). docs/ARCHITECTURE.md, "Exchanges".
#pragma once

#include <cstddef>
#include <span>

#include "shmq/shmq.hpp"

namespace shmq::detail {

// Sends `payload` through every producer of `targets` (each of a different
// queue, at least two), so that every queue shows it or none does, even if
// this process dies midway. `options` as for Producer::send (key, timeout;
// no partition, no dedup_id). Errors as Producer::send (overloaded, timeout,
// message_too_large, key_too_large, queue_deleted, ...); on any error no
// queue shows the message. `attribute_block` (shmq/internal/attributes.hpp;
// empty: none) goes before the payload in every queue's slot.
[[nodiscard]] Status publish_atomically(std::span<Producer* const> targets, std::span<const std::byte> payload,
                                        const SendOptions& options,
                                        std::span<const std::byte> attribute_block = {}) noexcept;

}  // namespace shmq::detail
