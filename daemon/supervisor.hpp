// shmqd's event loop: epoll over a signalfd, an inotify watch of /dev/shm
// (new queues) and one pidfd per participant; a tick drives every
// WatchedQueue's on_time_event. do_work(now) returns how much work it did.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "config.hpp"
#include "metrics_http.hpp"
#include "metrics_textfile.hpp"
#include "watched_queue.hpp"

namespace shmq::daemon {

class Supervisor {
public:
    Supervisor(int argc, char** argv, Config config);
    ~Supervisor();
    int run();  // until SIGTERM/SIGINT; returns the exit code
    int do_work(uint64_t now_mono);

private:
    void discover(uint64_t now_mono);
    void handle_signals();
    void reload();
    // Metrics: (re)started from a config; served and refreshed from run().
    void listen_for_metrics(const Config& c);  // throws std::runtime_error if it cannot bind
    void write_metrics_textfile(const Config& c);
    std::string render_metrics() const;
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
    std::map<uint32_t, std::unique_ptr<WatchedQueue>> queues_;  // id -> watcher
    std::map<std::string, uint64_t> retry_after_ns_;            // queues we could not open
    std::set<std::string> warned_;                              // ... and have said so
    std::unique_ptr<MetricsHttp> metrics_http_;                 // null without --metrics-listen
    std::unique_ptr<MetricsTextfile> metrics_textfile_;         // null without --metrics-textfile
};

}  // namespace shmq::daemon
