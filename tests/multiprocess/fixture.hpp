// The fixture of the multi-process tests: worker processes (shmq_test_worker)
// started per test, their record files in a scratch directory kept when the
// test failed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "support/processes.hpp"
#include "support/temp_queue.hpp"

namespace shmq::test {

class MultiProcessTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] record files kept in " << dir.path().string() << std::endl;
        }
    }

    // Starts n producers with ids first_id.. (payloads "K:i").
    void start_producers(const std::string& queue, uint32_t n, uint64_t count, uint32_t keys = 0,
                         uint32_t first_id = 0) {
        for (uint32_t k = first_id; k < first_id + n; ++k) {
            std::vector<std::string> args{"produce", queue, "--id", std::to_string(k)};
            args.insert(args.end(), {"--count", std::to_string(count)});
            if (keys != 0) args.insert(args.end(), {"--keys", std::to_string(keys)});
            producers.push_back(&workers.start("producer " + std::to_string(k), args));
        }
    }

    // Starts n consumers of `group`, writing to <dir>/<group>-c<i>.txt.
    void start_consumers(const std::string& queue, const std::string& group, const char* kind, uint32_t n,
                         const std::vector<std::string>& extra = {}) {
        auto& files = outputs[group];
        for (uint32_t i = 0; i < n; ++i) {
            const auto file = dir.file(group + "-c" + std::to_string(files.size()) + ".txt");
            std::vector<std::string> args{"consume", queue, "--group", group, "--kind", kind, "--out", file.string()};
            args.insert(args.end(), extra.begin(), extra.end());
            consumers.push_back(&workers.start("consumer " + file.stem().string(), args));
            files.push_back(file);
        }
    }

    TempDir dir{"mp"};
    Workers workers;  // after dir: its processes are killed before the directory goes
    std::vector<Worker*> producers;
    std::vector<Worker*> consumers;
    std::map<std::string, std::vector<std::filesystem::path>> outputs;  // group -> record files
};

}  // namespace shmq::test
