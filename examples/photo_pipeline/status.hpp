// A worker's status page: a 64-byte file both the worker and the
// orchestrator map. The worker publishes; the orchestrator only reads.
// The orchestrator uses it to start the upload once every worker has joined
// its group, and to SIGKILL a worker at an instant it holds unACKed messages.
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

namespace photo_pipeline {

struct WorkerStatus {
    uint32_t ready;      // 1 once the worker's consumer has joined its group
    uint32_t held;       // messages received and not yet settled (0 between batches)
    uint64_t processed;  // photos recorded and ACKed so far
};

class StatusPage {
public:
    // create: the orchestrator makes it (zeroed) before starting the worker,
    // which then opens it with create = false.
    StatusPage(const std::string& path, bool create) {
        const int fd = ::open(path.c_str(), (create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR) | O_CLOEXEC, 0600);
        if (fd < 0) throw std::runtime_error("cannot open status page " + path + ": " + std::strerror(errno));
        if (create && ::ftruncate(fd, sizeof(WorkerStatus)) != 0) {
            ::close(fd);
            throw std::runtime_error("cannot size status page " + path + ": " + std::strerror(errno));
        }
        void* p = ::mmap(nullptr, sizeof(WorkerStatus), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) throw std::runtime_error("cannot map status page " + path + ": " + std::strerror(errno));
        page_ = static_cast<WorkerStatus*>(p);
    }
    ~StatusPage() { ::munmap(page_, sizeof(WorkerStatus)); }
    StatusPage(const StatusPage&) = delete;
    StatusPage& operator=(const StatusPage&) = delete;

    // Release: what the worker did before publishing is done (held: its receive).
    void set_ready() { std::atomic_ref(page_->ready).store(1, std::memory_order_release); }
    void set_held(uint32_t n) { std::atomic_ref(page_->held).store(n, std::memory_order_release); }
    void add_processed(uint64_t n) { std::atomic_ref(page_->processed).fetch_add(n, std::memory_order_release); }

    bool ready() const { return std::atomic_ref(page_->ready).load(std::memory_order_acquire) != 0; }
    uint32_t held() const { return std::atomic_ref(page_->held).load(std::memory_order_acquire); }
    uint64_t processed() const { return std::atomic_ref(page_->processed).load(std::memory_order_acquire); }

private:
    WorkerStatus* page_ = nullptr;
};

}  // namespace photo_pipeline
