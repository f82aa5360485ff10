// What a chaos run records (chaos_run.cpp) and its checks read: the
// processes it ran and killed, shmqd's down times, and the consumers'
// records.
#pragma once

#include <cstdint>
#include <filesystem>
#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

#include "chaos_status.hpp"
#include "shmq/shmq.hpp"

namespace shmq::chaos {

enum class Role { producer, shared, exclusive, shmqd };

// One producer process: its producer id is its index in the run's producers.
struct ProducerRun {
    std::filesystem::path status_file;
    uint64_t* page = nullptr;
    pid_t pid = -1;
    bool killed = false;
    uint64_t kill_ns = 0;
    // Read from the status page once it has ended.
    uint64_t acked = 0;
    bool in_flight = false;  // message `acked` was being sent when it died
    Phase phase = Phase::idle;
    uint32_t claim_partition = 0;
    uint64_t claim_offset = 0;
    bool claim_staged = false;
    uint64_t dwells = 0;
    // Killed holding a ring claim: kill -> the reaper aborted it (the
    // partition's aborted count rose), polled every 0.5 ms; 0 if unmeasured.
    uint64_t repair_ns = 0;
    bool repair_timed_out = false;  // no abort counted within 5 s of the kill
    bool repair_no_snapshot = false;  // the region could not be read just before the kill
};

// One consumer process (one record file).
struct ConsumerRun {
    uint32_t group = 0;  // index into kGroups
    std::filesystem::path file;
    pid_t pid = -1;
    bool killed = false;
    uint64_t kill_ns = 0;
};

struct GroupDef {
    const char* name;
    const char* kind;
    GroupKind group_kind;
    Role role;
};
constexpr GroupDef kGroups[2] = {{"shared", "shared", GroupKind::shared, Role::shared},
                                 {"excl", "exclusive", GroupKind::exclusive, Role::exclusive}};

// shmqd's down times: (kill, restart); restart 0 while still down.
struct ShmqdDowntime {
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    bool down_at(uint64_t t) const {
        for (auto& [from, to] : spans)
            if (t >= from && (to == 0 || t < to)) return true;
        return false;
    }
};

// Every message a producer may have sent, numbered: producer k's messages
// 0..acked_k are [base[k], base[k] + acked_k] (the last one: in flight at its
// kill, or never sent).
struct MessageSpace {
    std::vector<uint64_t> base;  // per producer, and one past the last
    uint64_t size() const { return base.back(); }
    std::string name_of(uint32_t msg) const;  // "k:seq", as the message's payload
};
MessageSpace message_space(const std::vector<ProducerRun>& producers);

// One record line: "K:i partition offset deliveries key received_ns".
struct Rec {
    uint64_t offset;
    uint64_t ns;
    uint32_t msg;  // index in the MessageSpace
    uint32_t partition;
    uint32_t deliveries;
    uint32_t file;  // index in the run's consumers
};

// Up to `max` examples of violations, in the order found.
inline void add_example(std::vector<std::string>& examples, std::string text, std::size_t max = 8) {
    if (examples.size() < max) examples.push_back(std::move(text));
}

}  // namespace shmq::chaos
