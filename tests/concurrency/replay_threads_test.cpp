// A replay as threads of one process, each with its own mapping (as separate
// processes would have): a thread plays shmqd (daemon's WatchedQueue: the
// journal, the replay request, feeding the replay region), a producer sends
// while the rewound group replays, a consumer reads the replay region and
// then the ring. ThreadSanitizer sees the replay feed (slot writes, the
// state CAS, tail) against the consumer's reads, and the request handshake.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <sys/epoll.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/replay_request.hpp"
#include "support/scale.hpp"
#include "support/scratch_dir.hpp"
#include "support/temp_queue.hpp"
#include "shmq/internal/clock.hpp"
#include "watched_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

TEST(ReplayThreadsTest, aRewoundGroupGetsTheJournalThenTheRingInOrder) {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 32;
    o.journal = true;
    o.fsync = Fsync::never;
    test::TempQueue q("replay-threads", o);
    test::ScratchDir dir("replay-threads");
    ASSERT_FALSE(dir.path.empty());
    const std::string data = dir.path.string();
    const uint64_t n = test::scaled(5000), live = 500;

    std::atomic<bool> stop{false};
    std::thread daemon([&] {
        const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
        daemon::WatchedQueue watched(q.name, epoll_fd, 1, data, 4096);
        while (!stop.load(std::memory_order_relaxed)) {
            const uint64_t now = sys::monotonic_ns();
            // As shmqd's loop, with every turn taken for a doorbell (no inotify here).
            int work = watched.on_doorbell(now) + watched.on_disk_event(now);
            if (now >= watched.next_due()) work += watched.on_due(now);
            if (work == 0) std::this_thread::sleep_for(50us);
        }
        ::close(epoll_fd);
    });

    auto send = [&](uint64_t from, uint64_t to) {
        Queue mine = Queue::open(q.name);
        Producer p = mine.producer();
        for (uint64_t i = from; i < to; ++i) ASSERT_TRUE(p.send(std::to_string(i), {.timeout = Millis(30000)}).ok()) << i;
    };
    auto receive = [&](Consumer& c, uint64_t count) {
        std::vector<uint64_t> got;
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
            auto m = c.receive(50ms);
            if (!m) continue;
            got.push_back(std::stoull(std::string(m->text())));
            EXPECT_EQ(m->offset(), got.back()) << "one partition, one producer: offset = payload";
            EXPECT_TRUE(m->ack().ok());
        }
        return got;
    };
    {
        Queue mine = Queue::open(q.name);
        Consumer c = mine.consumer("g", {.kind = GroupKind::exclusive});
        std::thread producer([&] { send(0, n); });
        EXPECT_EQ(receive(c, n).size(), n);
        producer.join();
    }
    {
        auto r = detail::Region::open(q.name);
        detail::ScopedParticipant me(*r, layout::Role::admin);
        const uint32_t g = detail::request_replay(*r, "g", layout::ReplayFrom::start, 0, me.get());
        for (int i = 0; i < 2000 && r->group(g).replay_result.load() == 0; ++i) std::this_thread::sleep_for(5ms);
        EXPECT_EQ(r->group(g).replay_result.load(), static_cast<uint32_t>(layout::ReplayResult::started));
    }
    Queue mine = Queue::open(q.name);
    Consumer c = mine.consumer("g", {.kind = GroupKind::exclusive});
    std::thread producer([&] { send(n, n + live); });
    const auto got = receive(c, n + live);
    producer.join();
    stop.store(true);
    daemon.join();
    ASSERT_EQ(got.size(), n + live);
    for (uint64_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i) << "the journal from the start, then the ring";
}

}  // namespace
}  // namespace shmq
