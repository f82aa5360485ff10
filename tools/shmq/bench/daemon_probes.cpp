#include "daemon_probes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "../command.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bench {

struct Probes::Ends {
    Queue queue;
    Producer producer;
    Consumer peer;
    std::optional<Consumer> holder;             // expiry probes only
    std::shared_ptr<detail::Region> watch;      // read-only, for the group's `expired` counter
    explicit Ends(const std::string& name)
        : queue(Queue::open(name)), producer(queue.producer()), peer(queue.consumer("bench", shared())) {}
    static ConsumerOptions shared() {
        ConsumerOptions o;
        o.kind = GroupKind::shared;
        return o;
    }
};

namespace {

constexpr Millis kWait{10'000};  // any step slower than this is a failure, not a figure

void send_one(Producer& p, uint64_t seq, const std::string& queue) {
    SendOptions o;
    o.timeout = kWait;
    const Status st = p.send(std::as_bytes(std::span(&seq, 1)), o);
    if (!st) throw BenchError("probe: send to " + queue + ": " + st.message());
}

// The offset the victim wrote into `fd` once it held the message.
uint64_t read_offset(int fd, Children& victim, const std::string& queue) {
    pollfd p{fd, POLLIN, 0};
    uint64_t offset = 0;
    if (::poll(&p, 1, static_cast<int>(kWait.count())) == 1 && ::read(fd, &offset, sizeof offset) == sizeof offset)
        return offset;
    victim.check();  // its own error first
    throw BenchError("probe: the consumer to be killed on " + queue + " did not get its message within 10 s");
}

}  // namespace

Probes::Probes() = default;
Probes::~Probes() = default;

Probes::Ends& Probes::ends(const std::string& queue) {
    auto& e = ends_[queue];
    if (!e) e = std::make_unique<Ends>(queue);
    return *e;
}

uint64_t Probes::kill_once(const std::string& queue) {
    Ends& e = ends(queue);
    send_one(e.producer, ++sent_, queue);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw BenchError(std::string("pipe: ") + std::strerror(errno));
    Children victim(errors_.get());
    const pid_t pid = victim.spawn(-1, [&] {
        ::close(fds[0]);
        Queue q = Queue::open(queue);
        Consumer c = q.consumer("bench", Ends::shared());
        auto m = c.receive(kWait);
        if (!m) throw BenchError(std::string("probe victim: receive: ") + to_string(m.code()));
        const uint64_t offset = m->offset();
        if (::write(fds[1], &offset, sizeof offset) != sizeof offset) throw BenchError("probe victim: write failed");
        for (;;) ::pause();  // holds the message until SIGKILLed
    });
    ::close(fds[1]);
    uint64_t offset = 0;
    try {
        offset = read_offset(fds[0], victim, queue);
    } catch (...) {
        ::close(fds[0]);
        throw;
    }
    ::close(fds[0]);
    // Let shmqd see the victim attached; the 0-9 ms spread samples its tick's phase.
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + sent_ * 7 % 10));
    const uint64_t t0 = now_ns();
    ::kill(pid, SIGKILL);
    auto m = e.peer.receive(kWait);
    const uint64_t t1 = now_ns();
    victim.kill_all();  // reaps it
    if (!m)
        throw BenchError("probe: no redelivery to a peer within 10 s of a consumer's SIGKILL on " + queue + " (" +
                         to_string(m.code()) + "); is shmqd serving it?");
    if (m->offset() != offset)
        throw BenchError("probe: the peer on " + queue + " got offset " + std::to_string(m->offset()) +
                         ", not the killed consumer's " + std::to_string(offset));
    (void)m->ack();
    return t1 - t0;
}

// Nobody of the group is in receive while the lease runs out (a waiting
// consumer's periodic scan would expire it too), so the group's `expired`
// counter moving is shmqd's doing; the peer takes the message afterwards.
int64_t Probes::expiry_once(const std::string& queue, uint32_t lease_ms) {
    Ends& e = ends(queue);
    if (!e.holder) {
        e.holder = e.queue.consumer("bench", Ends::shared());
        e.watch = open_region(queue, detail::Access::read_only);
    }
    send_one(e.producer, ++sent_, queue);
    const auto& expired = e.watch->group_partition(e.holder->group_index(), 0).expired;
    const uint64_t before = expired.load(std::memory_order_acquire);
    const uint64_t called = now_ns();  // the lease starts no earlier than this
    auto held = e.holder->receive(kWait);
    if (!held) throw BenchError(std::string("probe: receive on ") + queue + ": " + to_string(held.code()));
    const uint64_t due = called + uint64_t{lease_ms} * 1'000'000;
    const uint64_t give_up = due + static_cast<uint64_t>(kWait.count()) * 1'000'000;
    while (expired.load(std::memory_order_acquire) == before) {
        if (now_ns() > give_up)
            throw BenchError("probe: an unACKed message of " + queue + " did not expire within 10 s past its " +
                             std::to_string(lease_ms) + " ms lease; is shmqd serving it?");
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    const uint64_t t = now_ns();
    auto back = e.peer.receive(kWait);
    if (!back) throw BenchError("probe: an expired message of " + queue + " was not redelivered (" + to_string(back.code()) + ")");
    if (back->offset() != held->offset())
        throw BenchError("probe: the peer on " + queue + " got offset " + std::to_string(back->offset()) +
                         ", not the expired " + std::to_string(held->offset()));
    (void)back->ack();
    (void)held->ack();  // lease_lost: settles our stale copy
    return static_cast<int64_t>(t) - static_cast<int64_t>(due);
}

}  // namespace shmq::cli::bench
