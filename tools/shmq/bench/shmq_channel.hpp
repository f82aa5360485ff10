// shmq as a `shmq bench` channel (see channels.hpp), through the public API
// only: one queue per channel, one group ("bench") made before any message.
//   latency:    exclusive group, ACK per message; the receiver spins on
//               receive(0ms) (poll) or calls receive(kForever) (--wait).
//   throughput: the spec's partitions, group kind and ACK mode; --batch N > 1
//               uses send_batch / receive_batch; send and receive time out
//               after 20 ms so processes notice the end of the run.
//   wakeup:     exclusive group; the receiver calls receive(kForever), which
//               spins briefly and then sleeps on the queue's futex.
#pragma once

#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "channels.hpp"
#include "harness.hpp"

namespace shmq::cli::bench {

class ShmqChannel {
public:
    explicit ShmqChannel(const ChannelSpec& spec);
    ~ShmqChannel();
    ShmqChannel(const ShmqChannel&) = delete;
    ShmqChannel& operator=(const ShmqChannel&) = delete;
    static std::string how(const ChannelSpec& spec);
    void forked() {}
    const std::string& name() const noexcept { return name_; }

    class Sender {
    public:
        Sender(const std::string& name, const ChannelSpec& spec);
        bool send(const std::byte* p) {
            const Status st = producer_.send(std::span<const std::byte>(p, size_), options_);
            if (st) return true;
            if (st.code() == Errc::timeout) return false;
            throw BenchError(std::string("shmq send: ") + st.message());
        }
        std::size_t send_some(const std::byte* p);

    private:
        Queue queue_;
        Producer producer_;
        SendOptions options_;
        std::size_t size_;
        std::vector<std::span<const std::byte>> batch_;
    };

    class Receiver {
    public:
        Receiver(const std::string& name, const ChannelSpec& spec);
        bool recv(std::byte* b) {
            auto m = poll_ ? spin_receive() : consumer_.receive(timeout_);
            if (!m) {
                if (m.code() == Errc::timeout) return false;
                throw BenchError(std::string("shmq receive: ") + to_string(m.code()));
            }
            copy_out(*m, b);
            if (ack_ != AckMode::none) {
                const Status st = m->ack();
                if (!st) throw BenchError(std::string("shmq ack: ") + st.message());
            }
            return true;
        }
        std::size_t recv_some(std::byte* b);

    private:
        Result<Message> spin_receive() {
            for (;;) {
                auto m = consumer_.receive(Millis(0));
                if (m || m.code() != Errc::timeout) return m;
            }
        }
        void copy_out(const Message& m, std::byte* b) const noexcept {
            const auto d = m.data();
            std::memcpy(b, d.data(), std::min(d.size(), size_));
        }
        Queue queue_;
        Consumer consumer_;
        std::size_t size_;
        AckMode ack_;
        bool poll_;
        Millis timeout_;
        std::vector<Message> batch_;
    };

    Sender sender(int) { return Sender(name_, spec_); }
    Receiver receiver(int) { return Receiver(name_, spec_); }

private:
    ChannelSpec spec_;
    std::string name_;
};

}  // namespace shmq::cli::bench
