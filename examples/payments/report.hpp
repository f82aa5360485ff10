// The run's report: what was sent, charged, receipted and killed, and the
// verdict. ok() is the exit status: every check below must hold.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit.hpp"
#include "shmq_tool.hpp"
#include "status.hpp"

namespace payments {

struct StageSummary {
    uint32_t processes = 0;  // slots: processes alive at once
    uint64_t starts = 0;     // incarnations over all slots (the first ones included)
    uint64_t kills = 0;      // SIGKILLs by the orchestrator
    uint64_t aimed = 0;      // of them, in the target phase (chargers: after a SQLite commit, before the shmq commit)
    StageStatus totals{};    // the slots' status pages, summed
};

struct RunSummary {
    std::string prefix;
    std::string dir;
    pid_t shmqd_pid = -1;
    uint64_t payments = 0;
    uint64_t rate = 0;
    bool kill = true;
    uint64_t kill_min_ms = 0, kill_max_ms = 0;
    uint64_t seed = 0;
    double seconds = 0;
    StageSummary checkout, chargers, receipts;
    std::optional<QueueCounters> requests_q, charged_q, receipts_q;  // shmq stat, after the stages stopped
    ReceiptCounts audit;
    std::string first_missing;
    LedgerCounts ledger;
    std::vector<std::string> problems;  // a process failed, a timeout, ...

    bool ok() const;
};

void print_report(std::ostream& out, const RunSummary& s);

}  // namespace payments
