// The baselines of `shmq bench`, each a channel (see channels.hpp):
//   bare      a sequence word + payload in MAP_SHARED memory with std::atomic:
//             one mailbox per direction for latency (the cache-line hand-off,
//             the hardware limit), a single-producer single-consumer ring of
//             line-aligned slots signalled through each slot's sequence word
//             for throughput. Receivers spin.
//   bare_batch the bare ring's slots signalled through two index words, each
//             published once per batch of --batch N (throughput, N > 1 only).
//   futex     the bare mailbox whose receiver sleeps in FUTEX_WAIT and whose
//             sender always calls FUTEX_WAKE (wakeup only).
//   boost_mq  boost::interprocess::message_queue (blocking send/receive).
//   posix_mq  mq_send / mq_receive (blocking).
//   pipe      write / read on a pipe (blocking).
//   socketpair send / recv on an AF_UNIX SOCK_SEQPACKET socketpair (blocking).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "channels.hpp"
#include "harness.hpp"

namespace shmq::cli::bench {

// --- bare: mailbox (latency, wakeup) -------------------------------------
class BareMailbox {
public:
    explicit BareMailbox(const ChannelSpec& spec);
    static std::string how(const ChannelSpec&) {
        return "std::atomic sequence word and payload in one MAP_SHARED mailbox per direction; the receiver spins";
    }
    void forked() {}

    class End {
    public:
        End(std::atomic<uint64_t>* seq, std::byte* payload, std::size_t size) : seq_(seq), payload_(payload), size_(size) {}
        bool send(const std::byte* p) noexcept {
            std::memcpy(payload_, p, size_);
            seq_->store(++n_, std::memory_order_release);
            return true;
        }
        bool recv(std::byte* b) noexcept {
            ++n_;
            while (seq_->load(std::memory_order_acquire) != n_) {
            }
            std::memcpy(b, payload_, size_);
            return true;
        }
        std::size_t send_some(const std::byte* p) noexcept { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) noexcept { return recv(b) ? 1 : 0; }

    private:
        std::atomic<uint64_t>* seq_;
        std::byte* payload_;
        std::size_t size_;
        uint64_t n_ = 0;
    };
    End sender(int) { return End(seq_, payload_, size_); }
    End receiver(int) { return End(seq_, payload_, size_); }

private:
    std::shared_ptr<SharedMemory> mem_;
    std::atomic<uint64_t>* seq_;
    std::byte* payload_;
    std::size_t size_;
};

// --- futex: mailbox with a sleeping receiver (wakeup) ----------------------
class FutexMailbox {
public:
    explicit FutexMailbox(const ChannelSpec& spec);
    static std::string how(const ChannelSpec&) {
        return "sequence word and payload in MAP_SHARED memory; the receiver sleeps in FUTEX_WAIT, the sender always "
               "calls FUTEX_WAKE";
    }
    void forked() {}

    class End {
    public:
        End(std::atomic<uint32_t>* seq, std::byte* payload, std::size_t size) : seq_(seq), payload_(payload), size_(size) {}
        bool send(const std::byte* p) noexcept;
        bool recv(std::byte* b) noexcept;
        std::size_t send_some(const std::byte* p) noexcept { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) noexcept { return recv(b) ? 1 : 0; }

    private:
        std::atomic<uint32_t>* seq_;
        std::byte* payload_;
        std::size_t size_;
        uint32_t n_ = 0;
    };
    End sender(int) { return End(seq_, payload_, size_); }
    End receiver(int) { return End(seq_, payload_, size_); }

private:
    std::shared_ptr<SharedMemory> mem_;
    std::atomic<uint32_t>* seq_;
    std::byte* payload_;
    std::size_t size_;
};

// --- bare: SPSC ring (throughput) -------------------------------------------
class BareRing {
public:
    explicit BareRing(const ChannelSpec& spec);
    static std::string how(const ChannelSpec&) {
        return "single-producer single-consumer ring of line-aligned slots in MAP_SHARED memory, each signalled by its "
               "own std::atomic sequence word; both sides spin";
    }
    void forked() {}

    class Sender {
    public:
        Sender(std::byte* base, std::size_t stride, uint32_t depth, std::size_t size)
            : base_(base), stride_(stride), mask_(depth - 1), size_(size) {}
        bool send(const std::byte* p) noexcept {
            std::byte* slot = base_ + (i_ & mask_) * stride_;
            auto* seq = reinterpret_cast<std::atomic<uint64_t>*>(slot);
            for (int spin = 0; seq->load(std::memory_order_acquire) != i_; ++spin) {
                if (spin > 4096) return false;
                cpu_relax();
            }
            std::memcpy(slot + sizeof(uint64_t), p, size_);
            seq->store(i_ + 1, std::memory_order_release);
            ++i_;
            return true;
        }
        std::size_t send_some(const std::byte* p) noexcept { return send(p) ? 1 : 0; }

    private:
        std::byte* base_;
        std::size_t stride_;
        uint64_t mask_;
        std::size_t size_;
        uint64_t i_ = 0;
    };
    class Receiver {
    public:
        Receiver(std::byte* base, std::size_t stride, uint32_t depth, std::size_t size)
            : base_(base), stride_(stride), mask_(depth - 1), depth_(depth), size_(size) {}
        bool recv(std::byte* b) noexcept {
            std::byte* slot = base_ + (i_ & mask_) * stride_;
            auto* seq = reinterpret_cast<std::atomic<uint64_t>*>(slot);
            for (int spin = 0; seq->load(std::memory_order_acquire) != i_ + 1; ++spin) {
                if (spin > 4096) return false;
                cpu_relax();
            }
            std::memcpy(b, slot + sizeof(uint64_t), size_);
            seq->store(i_ + depth_, std::memory_order_release);
            ++i_;
            return true;
        }
        std::size_t recv_some(std::byte* b) noexcept { return recv(b) ? 1 : 0; }

    private:
        std::byte* base_;
        std::size_t stride_;
        uint64_t mask_, depth_;
        std::size_t size_;
        uint64_t i_ = 0;
    };
    Sender sender(int) { return Sender(base_, stride_, depth_, size_); }
    Receiver receiver(int) { return Receiver(base_, stride_, depth_, size_); }

private:
    std::shared_ptr<SharedMemory> mem_;
    std::byte* base_;
    std::size_t stride_;
    uint32_t depth_;
    std::size_t size_;
};

// --- bare_batch: SPSC ring, indices published per batch (throughput) --------
// Slots as BareRing's (same stride, payload after the unused sequence word);
// the producer index `head` and consumer index `tail` live before them, each
// on its own line. Slot i holds message i (mod depth) while tail <= i < head.
// Ordering: payload stores precede the release of head, so an acquire of head
// makes every slot below it readable; copies out precede the release of tail,
// so an acquire of tail frees every slot below it. A cached peer index only lags.
class BareBatchRing {
public:
    explicit BareBatchRing(const ChannelSpec& spec);
    static std::string how(const ChannelSpec& spec);
    void forked() {}

    struct Ring {
        std::atomic<uint64_t>* head;  // written by the producer only
        std::atomic<uint64_t>* tail;  // written by the consumer only
        std::byte* slots;
        std::size_t stride, size;
        uint64_t mask, depth, batch;
        std::byte* payload(uint64_t i) const noexcept { return slots + (i & mask) * stride + sizeof(uint64_t); }
    };
    class Sender {
    public:
        explicit Sender(const Ring& r) : r_(r) {}
        // N payloads, then one release of head; 0 when the ring stayed full.
        std::size_t send_some(const std::byte* p) noexcept {
            if (!room(r_.batch)) return 0;
            for (uint64_t k = 0; k < r_.batch; ++k) std::memcpy(r_.payload(i_ + k), p, r_.size);
            i_ += r_.batch;
            r_.head->store(i_, std::memory_order_release);
            return r_.batch;
        }
        bool send(const std::byte* p) noexcept {  // the channel interface; the bench calls send_some
            if (!room(1)) return false;
            std::memcpy(r_.payload(i_), p, r_.size);
            r_.head->store(++i_, std::memory_order_release);
            return true;
        }

    private:
        // Waits (spinning) for n free slots; tail is re-read only when the ring looks full.
        bool room(uint64_t n) noexcept {
            for (int spin = 0; i_ + n - tail_ > r_.depth; ++spin) {
                if (spin > 4096) return false;
                if (spin > 0) cpu_relax();
                tail_ = r_.tail->load(std::memory_order_acquire);
            }
            return true;
        }
        Ring r_;
        uint64_t i_ = 0;     // next message to write (head as published)
        uint64_t tail_ = 0;  // cached consumer index, <= the real one
    };
    class Receiver {
    public:
        explicit Receiver(const Ring& r) : r_(r) {}
        // Copies out up to N of what head showed, then one release of tail; 0 when empty.
        std::size_t recv_some(std::byte* b) noexcept { return take(b, r_.batch); }
        bool recv(std::byte* b) noexcept { return take(b, 1) != 0; }  // the channel interface

    private:
        std::size_t take(std::byte* b, uint64_t most) noexcept {
            for (int spin = 0; head_ == i_; ++spin) {  // head is re-read only when the ring looks empty
                if (spin > 4096) return 0;
                if (spin > 0) cpu_relax();
                head_ = r_.head->load(std::memory_order_acquire);
            }
            const uint64_t n = std::min(head_ - i_, most);
            for (uint64_t k = 0; k < n; ++k) std::memcpy(b, r_.payload(i_ + k), r_.size);
            i_ += n;
            r_.tail->store(i_, std::memory_order_release);
            return n;
        }
        Ring r_;
        uint64_t i_ = 0;     // next message to read (tail as published)
        uint64_t head_ = 0;  // cached producer index, <= the real one
    };
    Sender sender(int) { return Sender(ring_); }
    Receiver receiver(int) { return Receiver(ring_); }

private:
    std::shared_ptr<SharedMemory> mem_;
    Ring ring_{};
};

// --- pipe ----------------------------------------------------------------
class PipeChannel {
public:
    explicit PipeChannel(const ChannelSpec& spec);
    ~PipeChannel();
    PipeChannel(const PipeChannel&) = delete;
    PipeChannel& operator=(const PipeChannel&) = delete;
    static std::string how(const ChannelSpec&) { return "write() / read() on a pipe; the reader blocks"; }
    void forked();

    class End {
    public:
        End(int fd, std::size_t size) : fd_(fd), size_(size) {}
        bool send(const std::byte* p);
        bool recv(std::byte* b);
        std::size_t send_some(const std::byte* p) { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) { return recv(b) ? 1 : 0; }

    private:
        int fd_;
        std::size_t size_;
    };
    End sender(int);
    End receiver(int);

private:
    int fds_[2] = {-1, -1};
    std::size_t size_;
};

// --- socketpair (AF_UNIX, SOCK_SEQPACKET) ---------------------------------
class SocketpairChannel {
public:
    explicit SocketpairChannel(const ChannelSpec& spec);
    ~SocketpairChannel();
    SocketpairChannel(const SocketpairChannel&) = delete;
    SocketpairChannel& operator=(const SocketpairChannel&) = delete;
    static std::string how(const ChannelSpec&) {
        return "send() / recv() on an AF_UNIX SOCK_SEQPACKET socketpair; the reader blocks";
    }
    void forked();

    class End {
    public:
        End(int fd, std::size_t size) : fd_(fd), size_(size) {}
        bool send(const std::byte* p);
        bool recv(std::byte* b);
        std::size_t send_some(const std::byte* p) { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) { return recv(b) ? 1 : 0; }

    private:
        int fd_;
        std::size_t size_;
    };
    End sender(int);
    End receiver(int);

private:
    int fds_[2] = {-1, -1};
    std::size_t size_;
};

// --- POSIX message queue ----------------------------------------------------
class PosixMqChannel {
public:
    explicit PosixMqChannel(const ChannelSpec& spec);
    ~PosixMqChannel();
    PosixMqChannel(const PosixMqChannel&) = delete;
    PosixMqChannel& operator=(const PosixMqChannel&) = delete;
    static std::string how(const ChannelSpec&) { return "mq_send() / mq_receive() on a POSIX message queue; both block"; }
    void forked() {}
    uint32_t depth() const noexcept { return depth_; }

    class End {
    public:
        End(int mqd, std::size_t size) : mqd_(mqd), size_(size) {}
        bool send(const std::byte* p);
        bool recv(std::byte* b);
        std::size_t send_some(const std::byte* p) { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) { return recv(b) ? 1 : 0; }

    private:
        int mqd_;
        std::size_t size_;
    };
    End sender(int);
    End receiver(int);

private:
    std::string name_;
    std::size_t size_;
    uint32_t depth_;
};

// --- boost::interprocess::message_queue --------------------------------------
class BoostMqChannel {
public:
    explicit BoostMqChannel(const ChannelSpec& spec);
    ~BoostMqChannel();
    BoostMqChannel(const BoostMqChannel&) = delete;
    BoostMqChannel& operator=(const BoostMqChannel&) = delete;
    static std::string how(const ChannelSpec&) {
        return "boost::interprocess::message_queue send() / receive(); both block";
    }
    void forked() {}
    uint32_t depth() const noexcept { return depth_; }

    class End {
    public:
        End(const std::string& name, std::size_t size);
        ~End();
        End(End&&) noexcept;
        End(const End&) = delete;
        End& operator=(const End&) = delete;
        End& operator=(End&&) = delete;
        bool send(const std::byte* p);
        bool recv(std::byte* b);
        std::size_t send_some(const std::byte* p) { return send(p) ? 1 : 0; }
        std::size_t recv_some(std::byte* b) { return recv(b) ? 1 : 0; }

    private:
        struct Impl;
        std::unique_ptr<Impl> impl_;
        std::size_t size_;
    };
    End sender(int) { return End(name_, size_); }
    End receiver(int) { return End(name_, size_); }

private:
    std::string name_;
    std::size_t size_;
    uint32_t depth_;
};

}  // namespace shmq::cli::bench
