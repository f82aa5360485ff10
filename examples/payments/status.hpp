// A stage slot's status page: a small file the stage process and the
// orchestrator both map. The orchestrator creates it zeroed; every
// incarnation of the slot (a killed process is restarted in the same slot)
// adds to the same counters, so they survive the kills. A process killed
// between doing something and counting it misses that one count: these are
// observations for the report. The checks use what cannot be lost (the
// SQLite ledger, the receipts themselves, the queues' counters).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace payments {

struct StageStatus {
    uint64_t ready;         // the incarnation number that joined its group (the orchestrator waits for it)
    uint64_t finished;      // checkout: 1 once it sent (or found duplicate) every payment
    uint64_t new_sends;     // checkout: sends that enqueued a request
    uint64_t duplicates;    // checkout: resends answered SendOutcome::duplicate
    uint64_t applied;       // charger: charges applied (new inbox rows); receipts: receipts sent
    uint64_t already;       // charger: requests the inbox said were applied already
    uint64_t commits;       // chargers and receipts: shmq transactions committed
    uint64_t lease_lost;    // chargers and receipts: commits answered lease_lost (inputs redelivered)
    uint64_t phase;         // where the process is now: a Phase; the orchestrator aims its kills with it
};

// A charger goes idle -> holding -> charged -> committing -> idle for each
// batch; a receipts worker idle -> holding -> committing -> idle.
enum Phase : uint64_t {
    idle = 0,     // between batches
    holding = 1,  // it holds received messages; nothing of the batch is committed anywhere
    charged = 2,  // charger: a charge of the batch is committed in SQLite, its shmq commit not yet begun
    committing = 3,  // in Transaction::commit (or just out of it)
};

class StatusPage {
public:
    StatusPage(const std::string& path, bool create) {
        const int fd = ::open(path.c_str(), (create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR) | O_CLOEXEC, 0600);
        if (fd < 0) throw std::runtime_error("cannot open status page " + path + ": " + std::strerror(errno));
        if (create && ::ftruncate(fd, sizeof(StageStatus)) != 0) {
            ::close(fd);
            throw std::runtime_error("cannot size status page " + path + ": " + std::strerror(errno));
        }
        void* p = ::mmap(nullptr, sizeof(StageStatus), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) throw std::runtime_error("cannot map status page " + path + ": " + std::strerror(errno));
        page_ = static_cast<StageStatus*>(p);
    }
    ~StatusPage() { ::munmap(page_, sizeof(StageStatus)); }
    StatusPage(const StatusPage&) = delete;
    StatusPage& operator=(const StatusPage&) = delete;

    void add(uint64_t StageStatus::*field, uint64_t n = 1) {
        std::atomic_ref(page_->*field).fetch_add(n, std::memory_order_release);
    }
    void set(uint64_t StageStatus::*field, uint64_t v) {
        std::atomic_ref(page_->*field).store(v, std::memory_order_release);
    }
    uint64_t get(uint64_t StageStatus::*field) const {
        return std::atomic_ref(page_->*field).load(std::memory_order_acquire);
    }

private:
    StageStatus* page_ = nullptr;
};

}  // namespace payments
