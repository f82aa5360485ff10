// A queue with a unique name, removed when the test ends.
#pragma once

#include <atomic>
#include <string>
#include <unistd.h>

#include "shmq/shmq.hpp"

namespace shmq::test {

inline std::string unique_queue_name(const char* tag) {
    static std::atomic<int> counter{0};
    return std::string("t-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

struct TempQueue {
    std::string name;
    Queue queue;
    explicit TempQueue(const char* tag, const QueueOptions& options = {})
        : name(unique_queue_name(tag)), queue(Queue::create(name, options)) {}
    ~TempQueue() {
        try {
            Queue::remove(name);
        } catch (...) {
        }
    }
    Queue* operator->() { return &queue; }
};

}  // namespace shmq::test
