// A rogue process scribbles random bytes over a live region — its header,
// lease table, group table, partition controls or slot headers — while a
// producer and consumers of both group kinds (real processes) and shmqd run.
// shmqd must find the damage, log it and mark the queue unusable; `shmq
// stat` must say why; the honest processes must stop with region_corrupt
// (one line, exit 2), never crash or hang; shmqd must keep running, stop
// cleanly on SIGTERM, and a restarted shmqd must refuse the queue, not
// serve it.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/region.hpp"
#include "support/processes.hpp"
#include "support/shell.hpp"
#include "support/shmqd_process.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::Worker;

struct Target {
    const char* name;
    // The byte ranges the rogue overwrites, from the region's section table.
    std::function<std::vector<std::pair<uint64_t, uint64_t>>(const layout::SectionTable&, const layout::QueueParams&)>
        ranges;
};

std::ostream& operator<<(std::ostream& os, const Target& t) { return os << t.name; }

const Target kTargets[] = {
    {"header", [](const auto&, const auto&) { return std::vector<std::pair<uint64_t, uint64_t>>{{0, 1024}}; }},
    {"lease_table",
     [](const auto& s, const auto& p) {
         return std::vector<std::pair<uint64_t, uint64_t>>{
             {s.participants, s.participants + uint64_t{p.max_participants} * sizeof(layout::ParticipantEntry)}};
     }},
    {"group_table",
     [](const auto& s, const auto& p) {
         return std::vector<std::pair<uint64_t, uint64_t>>{
             {s.groups, s.groups + uint64_t{p.max_groups} * sizeof(layout::GroupEntry)}};
     }},
    {"partition_control",
     [](const auto& s, const auto&) {
         return std::vector<std::pair<uint64_t, uint64_t>>{{s.partitions, s.partitions + sizeof(layout::PartitionControl)}};
     }},
    {"tx_records",
     [](const auto& s, const auto& p) {
         return std::vector<std::pair<uint64_t, uint64_t>>{
             {s.tx, s.tx + uint64_t{p.max_participants} * sizeof(layout::TxEntry)},
             {s.tx_outputs, s.tx_outputs + uint64_t{p.max_participants} * layout::kMaxTxOutputs * sizeof(layout::TxOutput)}};
     }},
    {"slot_headers",
     [](const auto& s, const auto& p) {
         std::vector<std::pair<uint64_t, uint64_t>> out;
         for (uint64_t i = 0; i < p.capacity; ++i) {
             const uint64_t at = s.slots + i * p.slot_size;
             out.push_back({at, at + layout::kSlotHeaderBytes});
         }
         return out;
     }},
};

class HostileRegionTest : public testing::TestWithParam<Target> {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log and worker logs kept in " << dir.path().string() << std::endl;
        }
    }

    Worker& start_worker(const std::string& label, const std::string& args) {
        const std::string cmd = std::string("exec '") + SHMQ_TEST_WORKER + "' " + args + " 2>" +
                                dir.file(label + ".err").string();
        return workers.start_program(label, "/bin/sh", {"-c", cmd});
    }
    std::string read(const std::string& file) {
        std::ifstream f(dir.file(file));
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

    // Writes random bytes over `ranges` of the region file, as a rogue
    // process with write access would (its own mapping, no shmq code).
    void scribble(const std::string& queue, const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t seed) {
        const std::string path = "/dev/shm/shmq." + queue;
        const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0) << path;
        const off_t size = ::lseek(fd, 0, SEEK_END);
        void* map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        ASSERT_NE(map, MAP_FAILED);
        std::mt19937_64 rng(seed);
        auto* bytes = static_cast<volatile unsigned char*>(map);
        for (const auto& [begin, end] : ranges) {
            ASSERT_LE(end, static_cast<uint64_t>(size));
            for (uint64_t at = begin; at < end; ++at) bytes[at] = static_cast<unsigned char>(rng());
        }
        ::munmap(map, static_cast<std::size_t>(size));
    }

    test::TempDir dir{"hostile"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_P(HostileRegionTest, damageIsFoundReportedAndNobodyCrashesOrHangs) {
    const Target& target = GetParam();
    const uint64_t seed = std::random_device{}();
    std::cout << "[ shmq ] target " << target.name << ", seed " << seed << std::endl;
    QueueOptions o;
    o.partitions = 2;
    o.capacity = 64;
    o.max_groups = 4;
    o.max_participants = 16;
    o.lease_ms = 2000;
    test::TempQueue q("hostile", o);
    Worker& daemon = shmqd.start("--queue " + q.name);
    ASSERT_TRUE(shmqd.wait_for_log("watching queue " + q.name)) << shmqd.log_text();

    std::vector<Worker*> peers;
    // A shared producer: one holding the writer role (alone, a default producer
    // does) claims with plain stores and never reads the slot words it
    // overwrites, so scribbled slot headers ahead of it would be repaired by
    // its next lap before the integrity check saw them (docs/RELIABILITY.md).
    peers.push_back(&start_worker("producer", "produce " + q.name + " --id 1 --count 100000000 --keys 8 --shared"));
    for (const char* kind : {"shared", "exclusive"})
        for (int i = 0; i < 2; ++i)
            peers.push_back(&start_worker(std::string(kind) + std::to_string(i),
                                          "consume " + q.name + " --group g-" + kind + " --kind " + kind + " --out " +
                                              dir.file(std::string(kind) + std::to_string(i) + ".out").string() +
                                              " --idle-ms 600000"));
    // Traffic flowing, every consumer joined: each has written a message out
    // (a fixed sleep was too short under TSan, where a consumer still
    // joining met the damage as a full group table or a bad magic).
    const auto joined_by = std::chrono::steady_clock::now() + 30s;
    for (const char* kind : {"shared", "exclusive"})
        for (int i = 0; i < 2; ++i) {
            const std::string out = std::string(kind) + std::to_string(i) + ".out";
            while (read(out).empty() && std::chrono::steady_clock::now() < joined_by)
                std::this_thread::sleep_for(5ms);
            ASSERT_FALSE(read(out).empty()) << out << ": no message within 30 s";
        }
    for (Worker* w : peers) ASSERT_TRUE(workers.running(*w)) << w->label << ": " << read(w->label + ".err");

    const auto region = detail::Region::open(q.name, detail::Access::read_only);
    scribble(q.name, target.ranges(region->sections(), region->params()), seed);

    ASSERT_TRUE(shmqd.wait_for_log("region damaged", "shmqd.log", 5s)) << shmqd.log_text();
    EXPECT_TRUE(workers.running(daemon)) << "shmqd must survive a damaged region";

    // Every honest peer stops on its own, with one line naming the damage.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (Worker* w : peers) {
        while (workers.running(*w) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        ASSERT_FALSE(workers.running(*w)) << w->label << " hangs on a damaged region";
        EXPECT_TRUE(WIFEXITED(w->status)) << w->label << " crashed: " << w->describe();
        if (WIFEXITED(w->status)) {
            EXPECT_EQ(WEXITSTATUS(w->status), 2) << w->label;
        }
        const std::string err = read(w->label + ".err");
        EXPECT_NE(err.find("corrupt"), std::string::npos) << w->label << ": " << err;
    }

    // `shmq stat` says why (and exits non-zero if the header itself is gone).
    const test::ShellRun stat = test::sh("\"$SHMQ\" stat " + q.name + " 2>&1");
    EXPECT_NE(stat.out.find("damaged"), std::string::npos) << stat.out;
    EXPECT_NE(stat.out.find("shmq delete " + q.name), std::string::npos) << stat.out;

    ::kill(daemon.pid, SIGTERM);
    EXPECT_EQ(shmqd.wait_exit(daemon), 0) << "shmqd must stop cleanly: " << shmqd.log_text();

    // A new shmqd refuses the queue instead of serving it.
    Worker& again = shmqd.start("--queue " + q.name, "", "shmqd2.log");
    EXPECT_TRUE(shmqd.wait_for_log("cannot watch queue " + q.name, "shmqd2.log", 5s)) << shmqd.log_text("shmqd2.log");
    EXPECT_NE(shmqd.log_text("shmqd2.log").find("damaged"), std::string::npos) << shmqd.log_text("shmqd2.log");
    ::kill(again.pid, SIGTERM);
    EXPECT_EQ(shmqd.wait_exit(again), 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, HostileRegionTest, testing::ValuesIn(kTargets),
                         [](const testing::TestParamInfo<Target>& param) { return std::string(param.param.name); });

}  // namespace
}  // namespace shmq
