// The message channels `shmq bench` measures: shmq itself and the baselines.
// A channel carries fixed-size messages one way. The parent constructs it
// (creating and naming what it needs; a baseline that cannot run here throws
// Skip), forks, and each child opens its end: sender(i) or receiver(j).
// After forking, the parent calls forked() (dropping descriptors it must not
// keep); its destructor removes whatever was created.
//
// Every sender copies the message in and every receiver copies it out into
// a private buffer, so each transport does the same work per message.
//   send(p) -> true when sent; false when nothing could be sent for a while
//              (only where the channel has a timeout: the caller retries).
//   recv(b) -> true when a message was copied into b; false on a timeout or
//              when every sender has gone away.
//   send_some / recv_some -> how many messages (batch APIs where they exist).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

enum class Use { latency, throughput, wakeup };
enum class AckMode { none, each, batch };

struct ChannelSpec {
    Use use = Use::latency;
    std::size_t size = 64;  // bytes per message
    uint32_t depth = 1024;  // messages the channel can hold (rings, queues, pipe buffer)
    int producers = 1;
    int consumers = 1;
    // shmq only:
    uint32_t partitions = 1;
    GroupKind kind = GroupKind::exclusive;
    AckMode ack = AckMode::each;
    uint32_t batch = 1;     // messages per send_batch / receive_batch call (1: one call per message)
    bool poll = true;       // latency: spin on receive(0ms) rather than receive(kForever)
    WriterMode writer = WriterMode::exclusive;  // ProducerOptions::writer (exclusive: one producer per queue only)
};

inline constexpr std::size_t kCacheLine = 64;
inline std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace shmq::cli::bench
