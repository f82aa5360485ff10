// The owner's side of a transaction (tx_protocol.hpp): shmq::Transaction
// (transaction.cpp) and an exchange's publish into several queues
// (atomic_publish.cpp), which is a transaction without inputs whose
// coordinator record is the first target's producer entry.
#pragma once

#include <vector>

#include "consumer_core.hpp"
#include "producer_core.hpp"
#include "shmq/internal/tx_protocol.hpp"

namespace shmq::detail {

static_assert(kMaxTransactionOutputs == layout::kMaxTxOutputs);

struct TxCore {
    struct Input {
        uint64_t offset;
        uint64_t lease;        // the leased word its delivery installed
        uint64_t revocations;  // exclusive groups: the partition's revocation rounds at delivery (fast_ack.hpp L0)
        uint64_t publish_unix_ns;
        uint32_t partition;
    };
    struct Output {
        ProducerCore* core;  // one reference (ProducerCore::opened) while it takes part
        uint64_t seq;        // of its output record
        uint64_t resolutions;  // the record's resolver rounds when it opened ((T7) L0)
        std::vector<SlotRun> slots;
    };

    // The coordinator record's owner: the input consumer (one reference while
    // the Transaction lives), or, for a publish without inputs, the first
    // target's producer (`publisher`; consumer null). The publisher's own
    // output record is the coordinator record itself: listed like any
    // output (so a resolver finishes its claims), never prepared on its own.
    ConsumerCore* consumer;
    uint64_t timeout_ns;
    ProducerCore* publisher = nullptr;
    bool open = false;
    uint64_t seq = 0;  // of the coordinator record, while open
    std::vector<Input> inputs{};
    std::size_t frozen = 0;  // inputs[0, frozen) are frozen: freeze_inputs goes in order
    // outputs[0, n_outputs) take part; the rest are kept, with their slot
    // vectors' room, for the next transactions (no allocation per commit).
    std::vector<Output> outputs{};
    std::size_t n_outputs = 0;

    Region& in() const noexcept { return publisher != nullptr ? *publisher->region : *consumer->region; }
    uint32_t coordinator_index() const noexcept {
        return publisher != nullptr ? publisher->me.index : consumer->me.index;
    }
    layout::TxEntry& record() const noexcept { return in().tx_entry(coordinator_index()); }
    bool still_open() const noexcept {
        return record().word.load(std::memory_order_acquire) == tx::tx_word(seq, tx::TxState::open);
    }

    Status begin() noexcept;
    Output* join(ProducerCore& pc, Status& st) noexcept;
    Output* enter_send(ProducerCore& pc, const SendOptions& options, Status& st) noexcept;
    // `block`: an attribute block before the payload (publish_atomically), empty: none.
    Status send(ProducerCore& pc, std::span<const std::byte> payload, const SendOptions& options,
                std::span<const std::byte> block = {}) noexcept;
    BatchResult send_batch(ProducerCore& pc, std::span<const std::span<const std::byte>> payloads,
                           const SendOptions& options, std::span<const std::byte> block = {}) noexcept;
    Status may_take(const Message& m) const noexcept;
    static Input input_of(const Message& m) noexcept;
    Status take(Message& m) noexcept;
    Status ack(Message& m) noexcept;
    BatchResult ack_all(std::span<Message> messages) noexcept;
    bool freeze_inputs() noexcept;
    void commit_slots(const Output& o) noexcept;
    Status commit() noexcept;
    void abort() noexcept;
    void reset() noexcept;

    // atomic_publish.hpp's publish_atomically (TxCore is Producer's friend).
    static Status publish(std::span<Producer* const> targets, std::span<const std::byte> payload,
                          const SendOptions& options, std::span<const std::byte> block) noexcept;
};

}  // namespace shmq::detail
