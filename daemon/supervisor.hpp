// shmqd's event loop (docs/ARCHITECTURE.md, "shmqd's event loop"): epoll
// over a signalfd, an inotify watch of /dev/shm and one pidfd per
// participant, and a heap of the queues' deadlines. inotify tells of new
// and deleted queues (IN_CREATE, IN_DELETE) and carries the participants'
// doorbell (IN_MODIFY: a pwrite of RegionHeader::daemon_bell). The loop
// sleeps until the earliest deadline, event, integrity slice or --tick-ms,
// whichever comes first; an idle queue costs nothing between its deadlines.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <vector>
#include <set>
#include <string>

#include "config.hpp"
#include "metrics_http.hpp"
#include "metrics_text.hpp"
#include "metrics_textfile.hpp"
#include "sd_notify.hpp"
#include "watched_queue.hpp"

namespace shmq::daemon {

class Supervisor {
public:
    Supervisor(int argc, char** argv, Config config);
    ~Supervisor();
    int run();  // until SIGTERM/SIGINT; returns the exit code

private:
    void discover(uint64_t now_mono);  // every queue: at start, on SIGHUP, on inotify overflow, then rarely
    void discover_one(const std::string& name, uint64_t now_mono);
    void drop(uint32_t id, const char* why);
    void on_inotify(uint64_t now_mono);
    void run_due_queues(uint64_t now_mono);
    void schedule(uint32_t id);
    void check_integrity(uint64_t now_mono);
    int run_disk(uint64_t now_mono);  // queues with disk work; returns the work done
    void handle_signals();
    void notify_status();  // STATUS= to systemd when the number of queues served changed
    void reload();
    // Metrics: (re)started from a config; served and refreshed from run().
    void listen_for_metrics(const Config& c);  // throws std::runtime_error if it cannot bind
    void write_metrics_textfile(const Config& c);
    std::string render_metrics() const;
    static std::vector<metrics::ExchangeSample> exchange_samples();
    int do_metrics_work(uint64_t now_mono);
    uint64_t next_metrics_wake() const;

    int argc_;
    char** argv_;
    Config config_;
    int epoll_fd_ = -1;
    int signal_fd_ = -1;
    int inotify_fd_ = -1;
    bool stop_ = false;
    bool rescan_ = true;
    uint64_t next_discovery_ns_ = 0;
    uint32_t next_queue_id_ = 1;
    std::map<std::string, uint32_t> ids_;                       // queue name -> id
    std::set<std::string> named_;                               // config_.queues, for lookups
    std::map<uint32_t, std::unique_ptr<WatchedQueue>> queues_;  // id -> watcher
    std::map<uint32_t, uint64_t> scheduled_;                    // id -> due time in due_ (lazy deletion)
    std::priority_queue<std::pair<uint64_t, uint32_t>, std::vector<std::pair<uint64_t, uint32_t>>,
                        std::greater<>> due_;                   // (due, id), earliest first
    std::set<uint32_t> disk_ids_;                               // queues whose disk_active()
    uint64_t next_integrity_ns_ = 0;
    uint64_t integrity_total_ = 0;    // cells of every watched queue (each a constant of its region)
    uint32_t integrity_cursor_ = 0;   // queue id whose pass is under way
    uint64_t integrity_done_ = 0;     // cells of its pass already checked
    std::map<std::string, uint64_t> retry_after_ns_;            // queues we could not open
    std::set<std::string> warned_;                              // ... and have said so
    std::unique_ptr<MetricsHttp> metrics_http_;                 // null without --metrics-listen
    std::unique_ptr<MetricsTextfile> metrics_textfile_;         // null without --metrics-textfile
    SystemdNotifier notifier_;                                  // a no-op without $NOTIFY_SOCKET
    bool ready_due_ = true;                 // READY=1 after the next discovery: at start and after SIGHUP
    std::size_t status_queues_ = SIZE_MAX;  // the queue count systemd was last told
};

}  // namespace shmq::daemon
