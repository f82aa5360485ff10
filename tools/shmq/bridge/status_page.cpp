#include "status_page.hpp"

#include <cstdio>

#include "../command.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::cli::bridge {

StatusPage::StatusPage(const std::string& queue, layout::BridgeDirection direction, const std::string& group,
                       const std::string& stream, const std::string& consumer)
    : region_(open_region(queue, detail::Access::read_write)) {
    try {
        me_.emplace(*region_, layout::Role::admin);
    } catch (const Error& e) {
        throw CommandError(1, e.what());
    }
    uint16_t g = layout::kNoGroup;
    if (direction == layout::BridgeDirection::out) {
        const auto found = detail::find_group(*region_, group);
        if (!found) throw CommandError(1, "group '" + group + "' of queue '" + queue + "' vanished as the bridge joined it");
        g = static_cast<uint16_t>(*found);
    }
    if (auto claimed = detail::BridgeStatus::claim(*region_, me_->get().token(), direction, g, stream, consumer))
        status_.emplace(std::move(*claimed));
    else
        std::fprintf(stderr,
                     "shmq bridge: queue %s already has %u running bridges; this one runs, but its figures are not in "
                     "shmq stat or /metrics\n",
                     queue.c_str(), layout::kMaxBridges);
}

void StatusPage::publish(const Figures& f, bool connected) noexcept {
    if (!status_) return;
    using C = layout::BridgeCounter;
    status_->set(C::messages, f.messages);
    status_->set(C::pending_acks, f.pending_acks);
    status_->set(C::held, f.held);
    status_->set(C::errors, f.errors);
    status_->set(C::redeliveries, f.redeliveries);
    status_->set(C::duplicates, f.duplicates);
    status_->set(C::lag, f.lag);
    status_->set_connected(connected);
    status_->touch(sys::unix_ns());
}

}  // namespace shmq::cli::bridge
