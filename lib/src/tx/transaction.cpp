// shmq::Transaction: the owner's side of tx_protocol.hpp. Outputs are
// claims turned prepared, inputs leases frozen; commit() takes the commit
// point and then finishes both; abort() gives everything back.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ring/ack_latency.hpp"
#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/fast_ack.hpp"
#include "shmq/internal/lease_protocol.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/tx_protocol.hpp"
#include "tx/tx_core.hpp"

namespace shmq::detail {

// Whether the owner may begin its next transaction on record `word`: not
// while one is open or prepared there (another Transaction of the same
// consumer or producer, or a record left undecided), nor a damaged one.
bool may_begin(const std::atomic<uint64_t>& word) noexcept {
    const uint64_t w = word.load(std::memory_order_acquire);
    return tx::tx_state_valid(w) && tx::tx_state(w) != tx::TxState::open && tx::tx_state(w) != tx::TxState::prepared;
}

Status TxCore::begin() noexcept {
    auto& e = record();
    // Checked before any field is written: an open transaction's record is
    // not touched by a second Transaction of the same consumer.
    if (!may_begin(e.word)) return Errc::invalid_argument;
    // The fields, then begin's release store publishes them with the open word.
    e.deadline_ns.store(sys::coarse_monotonic_ns() + timeout_ns, std::memory_order_relaxed);
    e.outputs.store(0, std::memory_order_relaxed);
    e.role.store(static_cast<uint64_t>(layout::TxRole::coordinator), std::memory_order_relaxed);
    if (!tx::begin(e.word, seq)) return Errc::invalid_argument;
    open = true;
    return Errc::ok;
}

TxCore::Output* TxCore::join(ProducerCore& pc, Status& st) noexcept {
    for (std::size_t k = 0; k < n_outputs; ++k)
        if (outputs[k].core == &pc) return &outputs[k];
    Region& q = *pc.region;
    auto& qe = q.tx_entry(pc.me.index);
    const bool coordinator = &pc == publisher;  // its record is open already: begin() opened it
    if (n_outputs >= layout::kMaxTxOutputs || (!coordinator && !may_begin(qe.word))) {
        st = Errc::invalid_argument;  // too many producers, or this one is in another open transaction
        return nullptr;
    }
    const uint64_t qseq = coordinator ? seq : tx::tx_seq(qe.word.load(std::memory_order_acquire)) + 1;
    // (T5): listed (release count) before the output record opens. Names are
    // written only when the entry named another queue or participant last
    // (only this owner writes them; the same epoch and index mean the same name).
    auto& rec = record();
    const auto k = static_cast<uint32_t>(n_outputs);
    auto& item = in().tx_outputs(coordinator_index())[k];
    if (item.epoch.load(std::memory_order_relaxed) != q.epoch() ||
        item.index.load(std::memory_order_relaxed) != pc.me.index) {
        store_name_words(item.name_words, q.name());
        item.epoch.store(q.epoch(), std::memory_order_relaxed);
        item.index.store(pc.me.index, std::memory_order_relaxed);
    }
    item.seq.store(qseq, std::memory_order_relaxed);
    rec.outputs.store(k + 1, std::memory_order_release);
    if (coordinator) {  // (T7) L0 as below; begin() loaded nothing yet that a resolver's round could follow
        ++pc.opened;
        if (n_outputs == outputs.size()) outputs.push_back({});
        Output& own = outputs[n_outputs++];
        own.core = &pc;
        own.seq = seq;
        own.resolutions = qe.resolutions.load(std::memory_order_relaxed);
        own.slots.clear();
        return &own;
    }
    qe.deadline_ns.store(rec.deadline_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (qe.coord_epoch.load(std::memory_order_relaxed) != in().epoch() ||
        qe.coord_index.load(std::memory_order_relaxed) != coordinator_index()) {
        store_name_words(qe.coord_name_words, in().name());
        qe.coord_epoch.store(in().epoch(), std::memory_order_relaxed);
        qe.coord_index.store(coordinator_index(), std::memory_order_relaxed);
    }
    qe.coord_seq.store(seq, std::memory_order_relaxed);
    qe.role.store(static_cast<uint64_t>(layout::TxRole::output), std::memory_order_relaxed);
    const uint64_t resolutions = qe.resolutions.load(std::memory_order_relaxed);  // (T7) L0: before any prepared store
    uint64_t got = 0;
    if (!tx::begin(qe.word, got) || got != qseq) {
        st = Errc::invalid_argument;
        return nullptr;
    }
    ++pc.opened;  // the producer stays attached while its claims are open (a Claim's reference)
    if (n_outputs == outputs.size()) outputs.push_back({});
    Output& out = outputs[n_outputs++];
    out.core = &pc;
    out.seq = qseq;
    out.resolutions = resolutions;
    out.slots.clear();
    return &out;
}

// The start of each send: the transaction open (still), `pc` one of its outputs.
TxCore::Output* TxCore::enter_send(ProducerCore& pc, const SendOptions& options, Status& st) noexcept {
    if (!options.dedup_id.empty()) {
        st = Errc::invalid_argument;
        return nullptr;
    }
    if (!open) {
        if (st = begin(); !st) return nullptr;
    } else if (!still_open()) {
        st = Errc::lease_lost;  // a peer aborted it (late): commit() will say so too
        return nullptr;
    }
    return join(pc, st);
}

Status TxCore::send(ProducerCore& pc, std::span<const std::byte> payload, const SendOptions& options,
                    std::span<const std::byte> block) noexcept {
    Status st;
    Output* out = enter_send(pc, options, st);
    if (out == nullptr) return st;
    PreparedSlot slot;
    if (st = pc.prepare(block.size() + payload.size(), options, slot); !st) return st;
    std::byte* to = slot.base + layout::kSlotHeaderBytes;
    if (!block.empty()) std::memcpy(to, block.data(), block.size());  // the attribute block first (layout.hpp)
    std::memcpy(to + block.size(), payload.data(), payload.size());
    const auto len = static_cast<uint32_t>(block.size() + payload.size());
    const auto key_len = static_cast<uint16_t>(options.key.size());
    const uint16_t flags = block.empty() ? uint16_t{0} : uint16_t{layout::kSlotAttributes};
    if (slot.staged)  // on_full=spill: a staging slot, which shmqd drains only once committed
        pc.write_staged_header(slot.partition, slot.offset, len, key_len, flags);
    else
        pc.write_header(slot.partition, slot.offset, len, key_len, sys::coarse_unix_ns(), flags);
    crash_point(CrashPoint::after_copy);  // an open claim, not yet prepared: the reaper aborts it
    const SlotRun one{slot.offset, slot.partition, 1, slot.staged};
    ring::mark_prepared(pc.ring_of(one), slot.offset, pc.me.id());
    append_slots(out->slots, one);
    return Errc::ok;
}

BatchResult TxCore::send_batch(ProducerCore& pc, std::span<const std::span<const std::byte>> payloads,
                               const SendOptions& options, std::span<const std::byte> block) noexcept {
    BatchResult done;
    if (payloads.empty()) return done;
    Output* out = enter_send(pc, options, done.status);
    if (out == nullptr) return done;
    // A spilling queue (each into the ring or staging), or a block in front
    // of each payload: message by message.
    if (!pc.staging.empty() || !block.empty()) {
        for (const auto& payload : payloads) {
            if (done.status = send(pc, payload, options, block); !done.ok()) break;
            ++done.count;
        }
        return done;
    }
    // Runs claimed at once, each claim word turned prepared ((T2) in send_run).
    done.status = pc.send_run(payloads, options, done.count, &out->slots);
    return done;
}

// Whether `m` may become an input: unsettled, and delivered to this consumer.
inline Status TxCore::may_take(const Message& m) const noexcept {
    if (m.settled_ || m.core_ == nullptr) return Errc::already_settled;
    if (m.core_ != consumer) return Errc::invalid_argument;
    return Errc::ok;
}
inline TxCore::Input TxCore::input_of(const Message& m) noexcept {
    return {m.offset_, m.lease_, m.revocations_, m.publish_unix_ns_, m.partition_};
}

// An input into the transaction: settled now, its reference kept until the end.
Status TxCore::take(Message& m) noexcept {
    if (Status st = may_take(m); !st) return st;
    if (!open) {
        if (Status st = begin(); !st) return st;
    }
    m.settled_ = true;
    inputs.push_back(input_of(m));
    return Errc::ok;
}

Status TxCore::ack(Message& m) noexcept {
    if (Status st = take(m); !st) return st;
    // An early answer for a lease already lost: commit() would fail.
    if (in().lease(consumer->group.index, m.partition_, m.offset_).word.load(std::memory_order_acquire) != m.lease_)
        return Errc::lease_lost;
    return Errc::ok;
}

BatchResult TxCore::ack_all(std::span<Message> messages) noexcept {
    BatchResult done;
    if (messages.empty()) return done;
    if (done.status = take(messages[0]); !done.ok()) return done;  // begins the transaction
    const std::size_t n = messages.size();
    std::size_t k = inputs.size();
    inputs.resize(k + n - 1);  // room once; a message that fails takes it back below
    done.count = 1;
    for (std::size_t j = 1; j < n; ++j) {  // take()'s, the transaction open and the room there
        Message& m = messages[j];
        if (done.status = may_take(m); !done.ok()) break;
        m.settled_ = true;
        inputs[k++] = input_of(m);
        ++done.count;
    }
    inputs.resize(k);
    return done;
}

// (T4): every input's exact lease frozen, or false (lease_lost). In an
// exclusive group, on the consumer's fast thread, a freeze is a release
// store inside fast_ack.hpp's bracket when no revocation round began since
// its delivery, as a fast ACK is (the same argument: a revoker's CAS,
// expecting the leased word, then fails on the frozen one and passes it
// over); otherwise the CAS.
bool TxCore::freeze_inputs() noexcept {
    if (inputs.empty()) return true;
    const bool fast = consumer->fast_acks && consumer->on_fast_thread();
    if (fast) ring::fast_ack_enter(*consumer->acking, in().header().commit_fence);  // S1, B
    bool ok = true;
    for (const auto& i : inputs) {
        const ring::PartitionView& v = consumer->views[i.partition];
        auto& e = v.lease(i.offset);
        if (fast && ring::fast_ack_valid(v.cursors->revocations, i.revocations)) {  // L2
            ring::lease_freeze_owned(e, i.lease);  // S3
        } else if (!ring::lease_freeze(e, i.lease)) {
            ok = false;
            break;
        }
        ++frozen;
    }
    if (fast) ring::fast_ack_leave(*consumer->acking);  // S4
    return ok;
}

// (T7), after the commit point: stores inside the handshake when no
// resolver round began since the output record opened, else CASes.
void TxCore::commit_slots(const Output& o) noexcept {
    Region& q = *o.core->region;
    auto& acking = q.participant(o.core->me.index).acking;
    ring::fast_ack_enter(acking, q.header().commit_fence);  // S1, B
    const bool fast = ring::fast_ack_valid(q.tx_entry(o.core->me.index).resolutions, o.resolutions);  // L2
    if (fast)
        for (const auto& s : o.slots) {
            const ring::RingRef& ring = o.core->ring_of(s);
            for (uint64_t x = s.offset; x != s.offset + s.count; ++x) ring::publish(ring, x);  // S3
        }
    ring::fast_ack_leave(acking);  // S4
    if (!fast)
        for (const auto& s : o.slots) {
            const ring::RingRef& ring = o.core->ring_of(s);
            for (uint64_t x = s.offset; x != s.offset + s.count; ++x) (void)ring::commit(ring, x);  // false: a resolver did
        }
}

Status TxCore::commit() noexcept {
    if (!open) return Errc::ok;  // nothing sent or acked
    Region& r = in();
    const uint32_t g = consumer != nullptr ? consumer->group.index : 0;
    for (std::size_t k = 0; k < n_outputs; ++k) {  // (T2)
        const Output& o = outputs[k];
        if (o.core != publisher && !tx::prepare_output(o.core->region->tx_entry(o.core->me.index).word, o.seq)) {
            abort();
            return Errc::lease_lost;
        }
    }
    if (!freeze_inputs()) {
        abort();
        return Errc::lease_lost;
    }
    crash_point(CrashPoint::after_tx_prepare);
    if (!tx::commit_point(record().word, seq)) {  // (T3): a peer aborted it first
        abort();
        return Errc::lease_lost;
    }
    crash_point(CrashPoint::after_tx_commit_point);
    // The outputs' state lines, which the readers polling them hold shared:
    // fetched for writing now, under the inputs' ACKs, so that the slots'
    // commits below find them owned.
    for (std::size_t k = 0; k < n_outputs; ++k)
        for (const auto& s : outputs[k].slots) {
            const ring::RingRef& ring = outputs[k].core->ring_of(s);
            for (uint64_t x = s.offset; x != s.offset + s.count; ++x) __builtin_prefetch(&ring.state(x), 1);
        }
    // (T4) committed: the inputs are acked; nobody else may thaw them now.
    // A partition's floor moves once per run of its inputs.
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Input& i = inputs[k];
        const ring::PartitionView& v = consumer->views[i.partition];
        ring::lease_ack_frozen_owned(v.lease(i.offset), i.offset);
        if (ring::ack_latency_sampled(i.offset)) ring::record_ack_latency(r.group(g).ack_latency, i.publish_unix_ns);
        if (k + 1 == inputs.size() || inputs[k + 1].partition != i.partition) ring::advance_floor(v);
    }
    crash_point(CrashPoint::after_tx_inputs);
    for (std::size_t k = 0; k < n_outputs; ++k) {  // (T1): committed(s), then its slots
        const Output& o = outputs[k];
        Region& q = *o.core->region;
        if (o.core != publisher) tx::commit_output(q.tx_entry(o.core->me.index).word, o.seq);
        commit_slots(o);
        wake_after_publish(q);
    }
    tx::mark_done(record().word, seq);  // (T5)
    reset();
    return Errc::ok;
}

void TxCore::abort() noexcept {
    if (!open) return;
    Region& r = in();
    const uint64_t now = sys::coarse_monotonic_ns();
    (void)tx::abort_open(record().word, seq);  // or a peer did (T3)
    for (std::size_t k = 0; k < n_outputs; ++k) {
        const Output& o = outputs[k];
        Region& q = *o.core->region;
        auto& word = q.tx_entry(o.core->me.index).word;
        if (o.core != publisher && !tx::abort_open(word, o.seq))  // the coordinator's own: aborted above
            (void)tx::move(word, o.seq, tx::TxState::prepared, tx::TxState::aborted);
        uint32_t aborted = 0;
        for (const auto& s : o.slots) {
            for (uint64_t x = s.offset; x != s.offset + s.count; ++x) {
                if (ring::finish_claim(o.core->ring_of(s), x, ring::SlotKind::aborted)) {
                    // A ring offset given up (stat's skipped); shmqd passes over a staged one.
                    if (!s.staged) q.partition(s.partition).aborted.fetch_add(1, std::memory_order_relaxed);
                    ++aborted;
                }
            }
        }
        if (aborted != 0) {
            wake_consumers(q);
            wake_daemon_if_asked(q);
        }
    }
    const uint32_t g = consumer != nullptr ? consumer->group.index : 0;
    for (std::size_t k = 0; k < inputs.size(); ++k) {  // (T4) aborted: back for redelivery, a failed delivery
        const Input& i = inputs[k];
        if (k < frozen)
            (void)ring::thaw(r, g, i.partition, i.offset, ring::frozen_word(i.lease), layout::DeadLetterReason::nacked,
                             now, consumer->me.id());
        else
            (void)ring::nack(r, g, i.partition, i.offset, i.lease, 0, now, consumer->me.id());
    }
    reset();
}

void TxCore::reset() noexcept {
    if (!inputs.empty()) consumer->release(static_cast<uint32_t>(inputs.size()));  // the messages' references
    inputs.clear();
    frozen = 0;
    for (std::size_t k = 0; k < n_outputs; ++k) outputs[k].core->release_claim();
    n_outputs = 0;
    open = false;
}

}  // namespace shmq::detail

namespace shmq {

Transaction::Transaction(Consumer& input, const TransactionOptions& options) {
    detail::ConsumerCore* c = input.core_;
    if (c == nullptr) throw Error(Errc::invalid_argument, "transaction: the consumer was moved from");
    if (c->options.at_most_once)
        throw Error(Errc::invalid_argument, "transaction: an at-most-once consumer has no lease to commit; use an at-least-once one");
    if (static_cast<OnFull>(c->region->params().on_full) == OnFull::drop_oldest)
        throw Error(Errc::invalid_argument,
                    "transaction: queue '" + c->region->name() + "' is on_full=drop_oldest, which may drop an input under a transaction");
    const uint64_t ms = options.timeout.count() > 0 ? static_cast<uint64_t>(options.timeout.count())
                                                    : uint64_t{c->region->params().lease_ms};
    c->take_refs(1);  // the transaction's reference
    core_ = new detail::TxCore{c, ms * 1'000'000};
}

Transaction::Transaction(Transaction&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}

Transaction& Transaction::operator=(Transaction&& o) noexcept {
    if (this != &o) {
        this->~Transaction();
        core_ = std::exchange(o.core_, nullptr);
    }
    return *this;
}

Transaction::~Transaction() {
    if (core_ == nullptr) return;
    core_->abort();
    detail::ConsumerCore* c = core_->consumer;
    delete std::exchange(core_, nullptr);
    c->release();  // may delete the consumer's core
}

Status Transaction::send(Producer& producer, std::span<const std::byte> payload, const SendOptions& options) noexcept {
    if (core_ == nullptr || producer.core_ == nullptr || options.delay.count() != 0) return Errc::invalid_argument;
    if (options.ttl.count() == 0) return core_->send(*producer.core_, payload, options);
    attrs::Block block;  // SendOptions::ttl: in an attribute block, as Producer::send's
    if (Status st = producer.core_->ttl_block(options, block); !st) return st;
    return core_->send(*producer.core_, payload, options, block.span());
}

Status Transaction::ack(Message& message) noexcept {
    if (core_ == nullptr) return Errc::invalid_argument;
    return core_->ack(message);
}

BatchResult Transaction::send_batch(Producer& producer, std::span<const std::span<const std::byte>> payloads,
                                   const SendOptions& options) noexcept {
    if (core_ == nullptr || producer.core_ == nullptr || options.delay.count() != 0)
        return BatchResult{0, Errc::invalid_argument};
    if (options.ttl.count() == 0) return core_->send_batch(*producer.core_, payloads, options);
    attrs::Block block;
    if (Status st = producer.core_->ttl_block(options, block); !st) return BatchResult{0, st};
    return core_->send_batch(*producer.core_, payloads, options, block.span());
}

BatchResult Transaction::ack_all(std::span<Message> messages) noexcept {
    if (core_ == nullptr) return BatchResult{0, Errc::invalid_argument};
    return core_->ack_all(messages);
}

Status Transaction::commit() noexcept {
    if (core_ == nullptr) return Errc::invalid_argument;
    return core_->commit();
}

void Transaction::abort() noexcept {
    if (core_ != nullptr) core_->abort();
}

std::size_t Transaction::sends() const noexcept {
    if (core_ == nullptr) return 0;
    std::size_t n = 0;
    for (std::size_t k = 0; k < core_->n_outputs; ++k)
        for (const auto& s : core_->outputs[k].slots) n += s.count;
    return n;
}

std::size_t Transaction::acks() const noexcept { return core_ == nullptr ? 0 : core_->inputs.size(); }

}  // namespace shmq
