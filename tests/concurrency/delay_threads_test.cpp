// Delayed delivery with threads standing in for processes, so that
// ThreadSanitizer sees the delay store's lock, its entries and the movers:
// two producers add delayed messages while they, and a consumer, move the
// due ones (no shmqd serves the queue). Each message comes once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/scale.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

TEST(DelayThreadsTest, producersAndAConsumerMoveDueMessagesOnceEach) {
    const uint64_t per_producer = test::scaled(5000, 200);
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 1024;
    o.max_message = 64;
    o.delay_capacity = static_cast<uint32_t>(2 * per_producer);
    test::TempQueue q("delay-threads", o);
    auto c = q->consumer("g");
    std::vector<std::thread> producers;
    for (int id = 0; id < 2; ++id)
        producers.emplace_back([&, id] {
            auto p = q->producer();
            for (uint64_t i = 0; i < per_producer; ++i) {
                const std::string text = std::to_string(id) + ":" + std::to_string(i);
                // Every other message undelayed: the producers' own sends move what is due.
                const Millis delay = i % 2 == 0 ? Millis(1 + i % 50) : Millis(0);
                while (true) {
                    const Status s = p.send(text, {.key = "k" + std::to_string(i % 7), .delay = delay});
                    if (s.ok()) break;
                    ASSERT_EQ(s.code(), Errc::overloaded) << text;  // the store full: the movers catch up
                    std::this_thread::sleep_for(1ms);
                }
            }
        });
    std::set<std::string> seen;
    uint64_t duplicates = 0;
    while (seen.size() < 2 * per_producer) {
        auto m = c.receive(5000ms);
        ASSERT_TRUE(m.ok()) << "after " << seen.size() << ": " << to_string(m.code());
        if (!seen.insert(std::string(m->text())).second) ++duplicates;
        ASSERT_TRUE(m->ack().ok());
    }
    for (auto& t : producers) t.join();
    EXPECT_EQ(duplicates, 0u);
}

}  // namespace
}  // namespace shmq
