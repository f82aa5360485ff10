// Takes and ACKs everything a queue holds for `group`, as text: waits up to
// `first_wait` for the first message and `next_wait` for each one after.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "shmq/shmq.hpp"

namespace shmq::test {

inline std::vector<std::string> drain(Queue& q, const char* group, Millis first_wait,
                                      Millis next_wait = std::chrono::milliseconds(300)) {
    std::vector<std::string> out;
    auto c = q.consumer(group);
    Millis wait = first_wait;
    while (auto m = c.receive(wait)) {
        out.emplace_back(m->text());
        EXPECT_TRUE(m->ack().ok());
        wait = next_wait;
    }
    return out;
}

}  // namespace shmq::test
