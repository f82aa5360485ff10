#include "shmq_channel.hpp"

#include <algorithm>

namespace shmq::cli::bench {

namespace {

const char* writer_name(WriterMode w) {
    switch (w) {
        case WriterMode::automatic: return "auto";
        case WriterMode::shared: return "shared";
        case WriterMode::exclusive: return "exclusive";
    }
    return "?";
}
constexpr const char* kGroup = "bench";
constexpr Millis kStreamTimeout{20};

ConsumerOptions consumer_options(const ChannelSpec& spec) {
    ConsumerOptions o;
    o.kind = spec.use == Use::throughput ? spec.kind : GroupKind::exclusive;
    o.at_most_once = spec.ack == AckMode::none;
    o.max_in_flight = std::max<uint32_t>(256, spec.batch);
    return o;
}
}  // namespace

ShmqChannel::ShmqChannel(const ChannelSpec& spec) : spec_(spec), name_(unique_name("q")) {
    QueueOptions o;
    o.partitions = spec.partitions;
    o.capacity = spec.depth;
    o.max_message = static_cast<uint32_t>(spec.size);
    o.max_groups = 1;
    o.max_participants = static_cast<uint32_t>(std::max(16, 2 * (spec.producers + spec.consumers) + 4));
    try {
        auto q = Queue::create(name_, o);
        register_name(NameKind::shmq_queue, name_);
        // The group exists before the first message, so nothing waits for it.
        ConsumerOptions c = consumer_options(spec_);
        c.at_most_once = false;
        (void)q.consumer(kGroup, c);
    } catch (const Error& e) {
        throw BenchError(std::string("cannot create the bench queue: ") + e.what());
    }
}

ShmqChannel::~ShmqChannel() { remove_name(NameKind::shmq_queue, name_); }

std::string ShmqChannel::how(const ChannelSpec& spec) {
    std::string s = "shmq " + std::to_string(spec.partitions) + " partition(s) x " + std::to_string(spec.depth) + " slots; ";
    switch (spec.use) {
        case Use::latency:
            s += writer_name(spec.writer);
            s += " Producer::send; exclusive group; ";
            s += spec.poll ? "receive(0ms) in a spin loop" : "receive(kForever)";
            s += ", copy out, ack";
            break;
        case Use::wakeup:
            s += "Producer::send; exclusive group; receive(kForever) (spins, then sleeps on the futex), copy out, ack";
            break;
        case Use::throughput: {
            const bool batched = spec.batch > 1;
            s += writer_name(spec.writer);
            s += " ";
            s += batched ? "send_batch(" + std::to_string(spec.batch) + ")" : std::string("send");
            s += spec.kind == GroupKind::exclusive ? "; exclusive group; " : "; shared group; ";
            const uint32_t rb = spec.ack == AckMode::batch && spec.batch <= 1 ? 64 : spec.batch;
            s += rb > 1 ? "receive_batch(" + std::to_string(rb) + ")" : std::string("receive");
            s += ", copy out, ";
            s += spec.ack == AckMode::none ? "at-most-once (no ack)"
                 : spec.ack == AckMode::each ? "ack each"
                                            : "ack_all per batch";
            break;
        }
    }
    return s;
}

ShmqChannel::Sender::Sender(const std::string& name, const ChannelSpec& spec)
    : queue_(Queue::open(name)), producer_(queue_.producer({.writer = spec.writer})), size_(spec.size) {
    options_.timeout = spec.use == Use::throughput ? kStreamTimeout : kForever;
    batch_.resize(std::max<uint32_t>(1, spec.batch));
}

std::size_t ShmqChannel::Sender::send_some(const std::byte* p) {
    if (batch_.size() <= 1) return send(p) ? 1 : 0;
    for (auto& s : batch_) s = std::span<const std::byte>(p, size_);
    const BatchResult sent = producer_.send_batch(batch_, options_);
    if (!sent.ok() && sent.code() != Errc::timeout)
        throw BenchError(std::string("shmq send_batch: ") + sent.status.message());
    return sent.count;
}

ShmqChannel::Receiver::Receiver(const std::string& name, const ChannelSpec& spec)
    : queue_(Queue::open(name)),
      consumer_(queue_.consumer(kGroup, consumer_options(spec))),
      size_(spec.size),
      ack_(spec.ack),
      poll_(spec.use == Use::latency && spec.poll),
      timeout_(spec.use == Use::throughput ? kStreamTimeout : kForever) {
    const uint32_t n = spec.ack == AckMode::batch && spec.batch <= 1 ? 64 : spec.batch;
    if (n > 1) batch_.resize(n);
}

std::size_t ShmqChannel::Receiver::recv_some(std::byte* b) {
    if (batch_.empty()) return recv(b) ? 1 : 0;
    const BatchResult received = consumer_.receive_batch(batch_, timeout_);
    if (received.count == 0) {
        if (received.code() == Errc::timeout || received.ok()) return 0;
        throw BenchError(std::string("shmq receive_batch: ") + received.status.message());
    }
    const std::size_t n = received.count;
    const std::span<Message> got(batch_.data(), n);
    for (auto& m : got) copy_out(m, b);
    switch (ack_) {
        case AckMode::batch:
            if (ack_all(got) != n) throw BenchError("shmq ack_all: some messages had lost their lease");
            break;
        case AckMode::each:
            for (auto& m : got)
                if (Status st = m.ack(); !st) throw BenchError(std::string("shmq ack: ") + st.message());
            break;
        case AckMode::none:
            for (auto& m : got) m = Message();  // releases the at-most-once pickup
            break;
    }
    return n;
}

}  // namespace shmq::cli::bench
