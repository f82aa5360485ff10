// The bridge's entry in its queue's bridge table (lib: shmq/internal/bridge_table.hpp),
// where `shmq stat` and shmqd's /metrics read its figures.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "shmq/internal/bridge_table.hpp"
#include "shmq/internal/participants.hpp"

namespace shmq::cli::bridge {

struct Figures {
    uint64_t messages = 0, pending_acks = 0, held = 0, errors = 0, redeliveries = 0, duplicates = 0, lag = 0;
};

class StatusPage {
public:
    // Attaches to QUEUE as an admin participant and takes a table entry; when
    // every entry is held by a live bridge, says so on stderr once and runs
    // without one.
    StatusPage(const std::string& queue, layout::BridgeDirection direction, const std::string& group,
               const std::string& stream, const std::string& consumer);
    void publish(const Figures& f, bool connected) noexcept;

private:
    std::shared_ptr<detail::Region> region_;
    std::optional<detail::ScopedParticipant> me_;
    std::optional<detail::BridgeStatus> status_;  // destroyed before me_
};

}  // namespace shmq::cli::bridge
