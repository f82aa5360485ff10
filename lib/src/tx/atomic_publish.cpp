// publish_atomically: a transaction without inputs (tx_core.hpp). The
// coordinator record is the first target's producer entry; its own claims
// are governed by that record directly, the other targets' by output records
// naming it, exactly as a Transaction's outputs are.
#include "tx/atomic_publish.hpp"

#include "tx/tx_core.hpp"

namespace shmq::detail {

Status TxCore::publish(std::span<Producer* const> targets, std::span<const std::byte> payload,
                       const SendOptions& options, std::span<const std::byte> block) noexcept {
    if (targets.empty() || targets.size() > layout::kMaxTxOutputs) return Errc::invalid_argument;
    if (options.partition.has_value() || !options.dedup_id.empty()) return Errc::invalid_argument;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (targets[i] == nullptr || targets[i]->core_ == nullptr) return Errc::invalid_argument;
        for (std::size_t j = 0; j < i; ++j)  // one record per queue and producer: each queue once
            if (targets[j]->core_->region->name() == targets[i]->core_->region->name()) return Errc::invalid_argument;
    }
    if (targets.size() == 1)
        return block.empty() ? targets[0]->send(payload, options) : targets[0]->core_->send_attributed(payload, options, block);
    ProducerCore* first = targets[0]->core_;
    // The deadline past which a peer may abort it: the first queue's lease,
    // stretched by a bounded block wait (an unbounded one keeps the lease:
    // a publish stuck that long gives up rather than hold every queue).
    uint64_t ms = first->region->params().lease_ms;
    if (options.timeout != kForever && options.timeout.count() > 0)
        ms += static_cast<uint64_t>(options.timeout.count());
    // One per thread, reused: its output entries and their slot vectors keep
    // their room (no allocation per publish). A publish leaves it reset.
    thread_local TxCore tx{nullptr, 0};
    tx.timeout_ns = ms * 1'000'000;
    tx.publisher = first;
    for (Producer* t : targets) {
        if (Status st = tx.send(*t->core_, payload, options, block); !st) {
            tx.abort();
            return st;
        }
    }
    const Status st = tx.commit();
    // lease_lost: a peer aborted it past its deadline (a long block wait).
    return st.code() == Errc::lease_lost ? Status(Errc::timeout) : st;
}

Status publish_atomically(std::span<Producer* const> targets, std::span<const std::byte> payload,
                          const SendOptions& options, std::span<const std::byte> attribute_block) noexcept {
    return TxCore::publish(targets, payload, options, attribute_block);
}

}  // namespace shmq::detail
