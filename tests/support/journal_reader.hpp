// Journaled queues in tests: their options, and reading a partition's
// journal back (read-only recovery).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "partition_dir.hpp"
#include "recovery.hpp"
#include "shmq/shmq.hpp"

namespace shmq::test {

inline QueueOptions journaled(uint32_t partitions, uint32_t capacity) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = capacity;
    o.max_message = 64;
    o.journal = true;
    return o;
}

struct JournalRecord {
    uint64_t offset;
    std::string payload;
    uint64_t publish_unix_ns;
};

// A small text file (the journal's `queue` and `cursors`), whole; "" if absent.
inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Every record of one partition's journal, in file order; `corrupt` counts skipped regions.
inline std::vector<JournalRecord> read_journal(const std::string& data_dir, const std::string& queue, uint32_t p,
                                               uint64_t& corrupt) {
    std::string error;
    disk::DirFd dir = disk::open_partition_dir(data_dir + "/journal", queue, p, false, error);
    EXPECT_TRUE(dir.valid()) << error;
    std::vector<JournalRecord> out;
    if (!dir.valid()) return out;
    disk::RecoveryOptions ro;
    ro.partition = p;
    ro.repair = false;
    const auto report = disk::recover_partition(dir.get(), ro, [&](const disk::RecordView& r) {
        out.push_back({r.offset, std::string(reinterpret_cast<const char*>(r.payload.data()), r.payload.size()),
                       r.publish_unix_ns});
    });
    corrupt = report.corrupt;
    return out;
}

}  // namespace shmq::test
