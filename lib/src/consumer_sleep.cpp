// shmq/internal/consumer_sleep.hpp: receive's sleeper protocol, split at the
// wait, for a caller that waits on many consumers at once.
#include "shmq/internal/consumer_sleep.hpp"

#include "consumer_core.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::detail {

namespace {
constexpr int64_t kPrefetchSliceNs = 100'000'000;  // as receive's wait for room
constexpr int64_t kHandoffSliceNs = 10'000'000;
}  // namespace

Result<Message> ConsumerSleep::begin(Consumer& consumer, Ticket& ticket) noexcept {
    ticket = {};
    ConsumerCore& core = *consumer.core_;
    Region& r = *core.region;
    if (r.damaged()) return Errc::region_corrupt;
    // Prefetch limit: wait for our messages to be settled (a release wakes refs).
    const uint32_t seen = core.refs.load(std::memory_order_acquire);
    if (core.in_flight(seen) >= core.options.max_in_flight) {
        const bool exclusive = core.group.kind == GroupKind::exclusive;
        if (exclusive) core.rebalance(sys::coarse_monotonic_ns());  // a full member still hands over
        ticket = {&core.refs, seen, exclusive ? kHandoffSliceNs : kPrefetchSliceNs, nullptr};
        return Errc::timeout;
    }
    Message m;
    if (core.try_once(m)) return Result<Message>(std::move(m));
    if (r.deleted()) return r.gone_error();
    ConsumerCore::SleepPlan plan;
    if (core.sleep_begin(m, plan)) {
        core.sleep_end();
        return Result<Message>(std::move(m));
    }
    ticket = {&r.header().consumer_doorbell, plan.seen, plan.slice_ns, &r.header().consumer_waiters};
    if (r.deleted()) {  // after registering: a deletion's wake may have been for us
        end(ticket);
        return r.gone_error();
    }
    return Errc::timeout;
}

void ConsumerSleep::end(Ticket& ticket) noexcept {
    // As ConsumerCore::sleep_end.
    if (ticket.waiters != nullptr) ticket.waiters->fetch_sub(1, std::memory_order_relaxed);
    ticket.waiters = nullptr;
}

}  // namespace shmq::detail
