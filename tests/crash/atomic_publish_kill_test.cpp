// Publishers into three queues at once (tx/atomic_publish.hpp) SIGKILLed at
// random instants, over and over, while readers drain the queues: every
// message is in all three queues or in none, at most once in each, in order
// per key; and every publish that returned ok is in all three. Each
// publisher process sends payloads of its own (generation * 10^7 + i), so a
// publish cut short by the kill can be told apart from the next one.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "support/temp_queue.hpp"
#include "support/scale.hpp"
#include "tx/atomic_publish.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kGeneration = 10'000'000;
constexpr int kKeys = 8;

QueueOptions options(uint32_t partitions) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = 256;
    return o;
}

// The child: publishes generation g's messages until killed (or `count`),
// writing each published index to `fd` once publish_atomically returned ok.
[[noreturn]] void publisher(const std::vector<std::string>& names, uint64_t g, uint64_t count, int fd) {
    int code = 0;
    try {
        std::vector<Queue> queues;
        std::vector<Producer> producers;
        for (const auto& n : names) queues.push_back(Queue::open(n));
        for (auto& q : queues) producers.push_back(q.producer());
        std::vector<Producer*> targets;
        for (auto& p : producers) targets.push_back(&p);
        for (uint64_t i = 0; i < count; ++i) {
            const uint64_t v = g * kGeneration + i;
            const std::string payload = std::to_string(v);
            const std::string key = "k" + std::to_string(i % kKeys);
            const Status st =
                detail::publish_atomically(targets, std::as_bytes(std::span(payload)), {.key = key, .timeout = 10'000ms});
            if (!st) {
                code = 3;
                break;
            }
            if (::write(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) {
                code = 4;
                break;
            }
        }
    } catch (...) {
        code = 5;
    }
    ::_exit(code);
}

TEST(AtomicPublishKill, aPublisherKilledAtRandomLeavesEachMessageInAllQueuesOrInNone) {
    test::TempQueue a("apk-a", options(1)), b("apk-b", options(2)), c("apk-c", options(4));
    const std::vector<std::string> names{a.name, b.name, c.name};
    const int kills = static_cast<int>(test::scaled(40, 10));

    // Readers: one process (the test forks publishers, so it runs no
    // threads) with an exclusive consumer per queue, from the start to the
    // end; it writes what each queue delivered, in order, to a file.
    const std::filesystem::path got_file =
        std::filesystem::temp_directory_path() / ("shmq-apk-" + std::to_string(::getpid()) + ".got");
    int done_pipe[2];
    ASSERT_EQ(::pipe(done_pipe), 0);
    const pid_t reader = ::fork();
    if (reader == 0) {
        ::close(done_pipe[1]);
        ::fcntl(done_pipe[0], F_SETFL, O_NONBLOCK);
        int code = 0;
        try {
            std::vector<Queue> queues;
            std::vector<Consumer> consumers;
            for (const auto& n : names) queues.push_back(Queue::open(n));
            for (auto& q : queues) consumers.push_back(q.consumer("r", {.kind = GroupKind::exclusive}));
            std::vector<std::vector<uint64_t>> got(names.size());
            bool publishing = true;
            auto idle_since = std::chrono::steady_clock::now();
            while (publishing || std::chrono::steady_clock::now() - idle_since < 2s) {
                bool any = false;
                for (std::size_t k = 0; k < consumers.size(); ++k)
                    while (auto m = consumers[k].receive(Millis(0))) {
                        got[k].push_back(std::stoull(std::string(m->text())));
                        if (!m->ack().ok()) code = 3;
                        any = true;
                    }
                char byte;
                if (publishing && ::read(done_pipe[0], &byte, 1) == 0) publishing = false;
                if (any) idle_since = std::chrono::steady_clock::now();
                else std::this_thread::sleep_for(1ms);
            }
            std::ofstream out(got_file);
            for (const auto& g : got) {
                for (uint64_t v : g) out << v << ' ';
                out << '\n';
            }
        } catch (...) {
            code = 5;
        }
        ::_exit(code);
    }
    ::close(done_pipe[0]);

    std::set<uint64_t> acked;
    std::mt19937_64 rng(::getpid());
    for (int round = 0; round <= kills; ++round) {
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        const bool last = round == kills;
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(fds[0]);
            publisher(names, static_cast<uint64_t>(round) + 1, last ? 2000 : kGeneration, fds[1]);
        }
        ::close(fds[1]);
        if (!last) {
            std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30'000));
            ::kill(child, SIGKILL);
        }
        uint64_t v = 0;
        while (::read(fds[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) acked.insert(v);
        ::close(fds[0]);
        int status = 0;
        ::waitpid(child, &status, 0);
        if (last) {
            ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the last publisher failed";
        }
    }
    ::close(done_pipe[1]);  // publishing is over: the reader drains and stops
    int reader_status = 0;
    ::waitpid(reader, &reader_status, 0);
    ASSERT_TRUE(WIFEXITED(reader_status) && WEXITSTATUS(reader_status) == 0) << "the reader failed";
    std::vector<std::vector<uint64_t>> got(names.size());
    {
        std::ifstream in(got_file);
        std::string line;
        for (auto& g : got) {
            ASSERT_TRUE(std::getline(in, line));
            std::stringstream ls(line);
            for (uint64_t v; ls >> v;) g.push_back(v);
        }
    }
    std::filesystem::remove(got_file);

    // All or nothing, once each, in order per key.
    std::vector<std::map<uint64_t, int>> seen(names.size());
    for (std::size_t k = 0; k < names.size(); ++k) {
        std::map<uint64_t, uint64_t> last_of_key;
        for (uint64_t v : got[k]) {
            EXPECT_EQ(++seen[k][v], 1) << names[k] << " got " << v << " twice";
            const uint64_t key = (v % kGeneration) % kKeys;
            if (last_of_key.count(key) != 0) {
                EXPECT_LT(last_of_key[key], v) << names[k] << ": out of order per key";
            }
            last_of_key[key] = v;
        }
    }
    for (std::size_t k = 1; k < names.size(); ++k) {
        for (const auto& [v, n] : seen[0])
            EXPECT_EQ(seen[k].count(v), 1u) << v << " is in " << names[0] << " but not in " << names[k];
        for (const auto& [v, n] : seen[k])
            EXPECT_EQ(seen[0].count(v), 1u) << v << " is in " << names[k] << " but not in " << names[0];
    }
    for (uint64_t v : acked) EXPECT_EQ(seen[0].count(v), 1u) << "publish of " << v << " returned ok but it is missing";
    EXPECT_GE(seen[0].size(), acked.size());
    std::cout << kills << " kills, " << acked.size() << " publishes acknowledged, " << seen[0].size()
              << " in every queue (" << seen[0].size() - acked.size() << " committed as their publisher died)\n";
}

}  // namespace
}  // namespace shmq
