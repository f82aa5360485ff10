#include "supervisor.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmq/internal/exchange_table.hpp"
#include "shmq/internal/inspect.hpp"
#include "log.hpp"
#include "metrics_text.hpp"
#include "restore/queue_restore.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/clock.hpp"

namespace shmq::daemon {

namespace {
constexpr uint64_t kSignalTag = UINT64_MAX;
constexpr uint64_t kInotifyTag = UINT64_MAX - 1;
// pidfd tags carry a queue id >= 1 in their high half (ids count up from 1)
// and the two above 0xffffffff: a zero high half is free for the metrics server.
constexpr uint64_t kMetricsTagPrefix = 0;
// A full look at /dev/shm (or the --queue names): inotify tells of every
// change, so this is a safety net; without inotify it is the only way.
constexpr uint64_t kDiscoveryPeriodNs = 30'000'000'000;
constexpr uint64_t kDiscoveryPollNs = 1'000'000'000;
constexpr uint64_t kDoorbellPollNs = 100'000'000;  // without inotify
constexpr uint64_t kSpillPollNs = 100'000;  // while spilling and idle: staging and ring room are polled
// The integrity check runs in slices of the shared budget this often.
constexpr uint64_t kIntegritySliceNs = 100'000'000;

// Cells per second the integrity check runs at: all of them once per
// period, but never slower than kIntegrityMinRate (a few small queues are
// then covered in milliseconds, for ~0.2% of a core) nor faster than the
// configured ceiling.
constexpr uint64_t kIntegrityMinRate = 100'000;
uint64_t integrity_rate(const Config& c, uint64_t total_cells) {
    const uint64_t per_period = total_cells * 1000 / c.integrity_period_ms + 1;
    return std::min(std::max(per_period, kIntegrityMinRate), c.integrity_max_cells_per_second);
}

// epoll with a nanosecond timeout (epoll_pwait2, Linux 5.11), else rounded up to milliseconds.
int wait_for_events(int epoll_fd, epoll_event* events, int max, uint64_t timeout_ns) {
    static bool have_pwait2 = true;
    if (have_pwait2) {
        const timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
        const int n = ::epoll_pwait2(epoll_fd, events, max, &ts, nullptr);
        if (n >= 0 || errno != ENOSYS) return n;
        have_pwait2 = false;
    }
    return ::epoll_wait(epoll_fd, events, max, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
}
constexpr uint64_t kRetryOpenNs = 5'000'000'000;
constexpr uint64_t kRetryYoungNs = 50'000'000;

void add_fd(int epoll_fd, int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

// Why shmqd must not open queue `name`'s region (nullopt: it may). /dev/shm
// is sticky like /tmp: only a file's owner (or root) can replace it, so the
// file this lstat judges is the one Region::open then gets (which refuses a
// symlink on its own, too).
std::optional<std::string> refuse_region(const Config& config, const std::string& name) {
    const std::string path = detail::region_path(name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;  // gone or unreadable: Region::open says why
    if (S_ISLNK(st.st_mode)) return path + " is a symlink; refused (remove it)";
    if (!S_ISREG(st.st_mode)) return path + " is not a regular file; refused";
    if (!serves_uid(config, st.st_uid))
        return path + " is owned by uid " + std::to_string(st.st_uid) + ", not by shmqd's uid " +
               std::to_string(::geteuid()) + "; to serve it, add --serve-uid " + std::to_string(st.st_uid) +
               " (config: serve-uid) or --serve-all-uids";
    return std::nullopt;
}

}  // namespace

Supervisor::Supervisor(int argc, char** argv, Config config)
    : argc_(argc),
      argv_(argv),
      config_(std::move(config)),
      named_(config_.queues.begin(), config_.queues.end()),
      notifier_(parse_notify_environment(std::getenv("NOTIFY_SOCKET"), std::getenv("WATCHDOG_USEC"),
                                         std::getenv("WATCHDOG_PID"), ::getpid())) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (epoll_fd_ < 0 || signal_fd_ < 0) throw std::runtime_error(std::string("epoll/signalfd: ") + std::strerror(errno));
    add_fd(epoll_fd_, signal_fd_, kSignalTag);
    inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd_ >= 0 &&
        ::inotify_add_watch(inotify_fd_, std::string(detail::kShmDir).c_str(),
                            IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_DELETE | IN_MOVED_FROM) >= 0) {
        add_fd(epoll_fd_, inotify_fd_, kInotifyTag);
    } else {
        if (inotify_fd_ >= 0) ::close(inotify_fd_);
        inotify_fd_ = -1;
        log(Level::warn, std::string("inotify on ") + std::string(detail::kShmDir) + ": " + std::strerror(errno) +
                             "; polling instead: new queues every second, every queue's doorbell every 100 ms "
                             "(raise fs.inotify.max_user_instances)");
    }
    listen_for_metrics(config_);
    write_metrics_textfile(config_);
}

Supervisor::~Supervisor() {
    metrics_http_.reset();
    queues_.clear();
    for (int fd : {inotify_fd_, signal_fd_, epoll_fd_})
        if (fd >= 0) ::close(fd);
}

void Supervisor::discover(uint64_t now) {
    // Journaled queues whose region is gone (a reboot): recreate them first.
    for (const auto& name : config_.queues.empty() ? journaled_queues(config_.data_dir) : config_.queues) {
        if (ids_.count(name) || Queue::exists(name)) continue;
        const std::string key = "restore " + name;
        auto retry = retry_after_ns_.find(key);
        if (retry != retry_after_ns_.end() && now < retry->second) continue;
        if (!restore_from_journal(config_.data_dir, name)) retry_after_ns_[key] = now + kRetryOpenNs;
    }
    std::vector<std::string> names = config_.queues.empty() ? inspect::list_queue_names() : config_.queues;
    for (const auto& name : names) discover_one(name, now);
}

void Supervisor::discover_one(const std::string& name, uint64_t now) {
    if (ids_.count(name)) return;
    if (!config_.queues.empty() && named_.count(name) == 0) return;
    auto retry = retry_after_ns_.find(name);
    if (retry != retry_after_ns_.end() && now < retry->second) return;
    if (!config_.queues.empty() && !Queue::exists(name)) return;  // named but not created yet
    if (auto why = refuse_region(config_, name)) {
        if (warned_.insert(name).second) log(Level::warn, "not serving queue " + name + ": " + *why);
        retry_after_ns_[name] = now + kRetryOpenNs;  // its owner may change (chown), or the config (SIGHUP)
        return;
    }
    try {
        const uint32_t id = next_queue_id_++;
        auto q = std::make_unique<WatchedQueue>(name, epoll_fd_, id, config_.data_dir, config_.journal_segment_bytes,
                                                uint64_t{config_.tick_ms} * 1'000'000);
        q->on_doorbell(now);  // its participants so far
        integrity_total_ += q->integrity_cells();
        queues_[id] = std::move(q);
        ids_[name] = id;
        retry_after_ns_.erase(name);
        warned_.erase(name);
        schedule(id);
    } catch (const std::exception& e) {
        // A region seen by inotify may still be being sized and filled by
        // its creator: retry soon, and complain only if it stays broken.
        struct stat st {};
        if (::stat(detail::region_path(name).c_str(), &st) != 0) {
            retry_after_ns_.erase(name);  // gone already: inotify says if it comes back
            return;
        }
        if (::time(nullptr) - st.st_ctime < 3) {
            retry_after_ns_[name] = now + kRetryYoungNs;
            return;
        }
        if (warned_.insert(name).second) log(Level::warn, "cannot watch queue " + name + ": " + e.what());
        retry_after_ns_[name] = now + kRetryOpenNs;
    }
}

void Supervisor::drop(uint32_t id, const char* why) {
    auto it = queues_.find(id);
    if (it == queues_.end()) return;
    if (why != nullptr) log(Level::info, "queue " + it->second->name() + " " + why);
    ids_.erase(it->second->name());
    integrity_total_ -= it->second->integrity_cells();
    queues_.erase(it);
    scheduled_.erase(id);  // its heap entries are skipped when they come up
    disk_ids_.erase(id);
    rescan_ = true;  // a journaled queue removed like a reboot would is restored from its journal
}

void Supervisor::schedule(uint32_t id) {
    auto it = queues_.find(id);
    if (it == queues_.end()) return;
    const uint64_t due = it->second->next_due();
    auto& at = scheduled_.try_emplace(id, UINT64_MAX).first->second;  // a new queue: nothing in the heap yet
    if (at != due) {
        at = due;
        if (due != UINT64_MAX) due_.emplace(due, id);
    }
    if (it->second->disk_active()) disk_ids_.insert(id);
}

void Supervisor::run_due_queues(uint64_t now) {
    while (!due_.empty() && due_.top().first <= now) {
        const auto [due, id] = due_.top();
        due_.pop();
        auto at = scheduled_.find(id);
        if (at == scheduled_.end() || at->second != due) continue;  // stale: rescheduled or dropped
        at->second = UINT64_MAX;
        WatchedQueue& q = *queues_.at(id);
        q.on_due(now);
        if (q.ended()) drop(id, "was deleted; no longer watching it");
        else schedule(id);
    }
}

// inotify's word on /dev/shm: queues made and removed, and the doorbell
// (IN_MODIFY: a participant's pwrite of daemon_bell, see ring_daemon).
void Supervisor::on_inotify(uint64_t now) {
    alignas(inotify_event) char buf[16384];
    for (;;) {
        const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t at = 0; at < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (ev->mask & IN_Q_OVERFLOW) {
                // Events were lost: look at everything once.
                rescan_ = true;
                for (auto& [id, q] : queues_) {
                    q->on_doorbell(now);
                    schedule(id);
                }
                continue;
            }
            if (ev->len == 0) continue;
            const std::string_view file(ev->name);
            if (file.substr(0, detail::kRegionPrefix.size()) != detail::kRegionPrefix) continue;
            const std::string name(file.substr(detail::kRegionPrefix.size()));
            const auto known = ids_.find(name);
            if (known == ids_.end()) {
                if (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_MODIFY)) {
                    retry_after_ns_.erase(name);  // something changed: judge it again now
                    discover_one(name, now);
                }
                continue;
            }
            WatchedQueue& q = *queues_.at(known->second);
            if ((ev->mask & (IN_DELETE | IN_MOVED_FROM | IN_CREATE | IN_MOVED_TO)) && q.has_reached_end_of_life()) {
                drop(known->second, "was deleted; no longer watching it");
                if (ev->mask & (IN_CREATE | IN_MOVED_TO)) discover_one(name, now);  // recreated under the same name
                continue;
            }
            if (ev->mask & IN_MODIFY) {
                q.on_doorbell(now);
                schedule(known->second);
            }
        }
    }
}

// One slice of the shared integrity budget. Rate: every cell of every
// queue once per --integrity-period-ms, at most --integrity-max-cells-per-
// second; the queues take turns, each finishing its pass before the next
// starts, so a pass of all of them takes total cells / rate.
void Supervisor::check_integrity(uint64_t now) {
    if (now < next_integrity_ns_ || queues_.empty()) return;
    next_integrity_ns_ = (now / kIntegritySliceNs + 1) * kIntegritySliceNs;  // on the queues' grid (watched_queue.cpp)
    uint64_t budget = (integrity_rate(config_, integrity_total_) * kIntegritySliceNs + 999'999'999) / 1'000'000'000;
    auto it = queues_.lower_bound(integrity_cursor_);
    for (size_t turns = 0; budget > 0 && turns <= 2 * queues_.size(); ++turns) {
        if (it == queues_.end()) it = queues_.begin();
        if (it->first != integrity_cursor_) {
            integrity_cursor_ = it->first;
            integrity_done_ = 0;
        }
        const uint64_t cells = it->second->integrity_cells();
        const uint64_t take = std::min(budget, cells > integrity_done_ ? cells - integrity_done_ : 0);
        if (take > 0) it->second->check_integrity(take);  // damage: logged and marked; its deadlines stop
        budget -= take;
        integrity_done_ += take;
        if (integrity_done_ >= cells) {
            ++it;
            integrity_cursor_ = it == queues_.end() ? 0 : it->first;
            integrity_done_ = 0;
        }
    }
}

int Supervisor::run_disk(uint64_t now) {
    int work = 0;
    for (auto it = disk_ids_.begin(); it != disk_ids_.end();) {
        auto q = queues_.find(*it);
        if (q == queues_.end()) {
            it = disk_ids_.erase(it);
            continue;
        }
        work += q->second->on_disk_event(now);
        const uint32_t id = *it;
        it = q->second->disk_active() ? std::next(it) : disk_ids_.erase(it);
        schedule(id);  // going idle set its housekeeping deadline
    }
    return work;
}

void Supervisor::listen_for_metrics(const Config& c) {
    if (metrics_http_) log(Level::info, "metrics no longer listening on " + metrics_http_->bound());
    metrics_http_.reset();  // frees the port before binding again
    if (c.metrics_listen.empty()) return;
    ListenAddress at;
    if (auto err = parse_listen_address(c.metrics_listen, c.metrics_allow_remote, at))
        throw std::runtime_error("--metrics-listen: " + *err);  // parse_config refused it already
    metrics_http_ = std::make_unique<MetricsHttp>(at, epoll_fd_, kMetricsTagPrefix, [this] { return render_metrics(); });
    log(Level::info, "metrics listening on " + metrics_http_->bound());
}

void Supervisor::write_metrics_textfile(const Config& c) {
    if (metrics_textfile_) log(Level::info, "metrics textfile " + metrics_textfile_->path() + " no longer refreshed");
    metrics_textfile_.reset();
    if (c.metrics_textfile.empty()) return;
    metrics_textfile_ = std::make_unique<MetricsTextfile>(c.metrics_textfile, uint64_t{c.metrics_interval_ms} * 1'000'000);
    log(Level::info, "metrics textfile " + c.metrics_textfile + ", every " + std::to_string(c.metrics_interval_ms) + " ms");
}

// Snapshots every watched queue (read-only, see inspect.hpp) and renders them.
std::string Supervisor::render_metrics() const {
    const uint64_t start = sys::monotonic_ns();
    std::vector<inspect::QueueSnapshot> snapshots;
    snapshots.reserve(queues_.size());
    for (const auto& [id, q] : queues_) snapshots.push_back(inspect::snapshot(q->region()));
    std::sort(snapshots.begin(), snapshots.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    const auto exchanges = exchange_samples();
    metrics::ScrapeInfo info;
    info.duration_seconds = static_cast<double>(sys::monotonic_ns() - start) / 1e9;
    return metrics::render(snapshots, info, exchanges);
}

// Every exchange's publish counters, in name order. Read-only, never waiting
// for a creator; one that cannot be read (being created, corrupt, removed
// meanwhile) is left out of this scrape.
std::vector<metrics::ExchangeSample> Supervisor::exchange_samples() {
    std::vector<metrics::ExchangeSample> out;
    for (auto& name : detail::ExchangeTable::list_names()) {
        try {
            const auto x = detail::ExchangeTable::open_if_finished(name);
            if (!x || x->deleted()) continue;
            const auto c = x->counters_guess();
            out.push_back({std::move(name), c.routed, c.unroutable});
        } catch (const Error&) {
        }
    }
    return out;
}

// Connection deadlines and the textfile's refresh: checked on every turn of
// the loop, so a long --tick-ms (the longest sleep) delays neither.
int Supervisor::do_metrics_work(uint64_t now) {
    if (metrics_http_) metrics_http_->on_time_event(now);
    if (!metrics_textfile_ || !metrics_textfile_->due(now)) return 0;
    metrics_textfile_->refresh([this] { return render_metrics(); }, now);
    return 1;
}

uint64_t Supervisor::next_metrics_wake() const {
    uint64_t wake = metrics_http_ ? metrics_http_->next_wake() : UINT64_MAX;
    if (metrics_textfile_) wake = std::min(wake, metrics_textfile_->next_due());
    return wake;
}

void Supervisor::reload() {
    Config fresh;
    if (parse_config(argc_, argv_, fresh) >= 0) {
        log(Level::error, "SIGHUP: the configuration has errors; keeping the old one");
        return;
    }
    Level level;
    if (parse_level(fresh.log_level, level)) set_level(level);
    if (fresh.queues != config_.queues) {
        // Drop watchers of queues no longer named.
        for (auto it = queues_.begin(); it != queues_.end();) {
            const bool keep = fresh.queues.empty() ||
                              std::find(fresh.queues.begin(), fresh.queues.end(), it->second->name()) != fresh.queues.end();
            if (keep) {
                ++it;
                continue;
            }
            const uint32_t id = (it++)->first;
            drop(id, nullptr);
        }
    }
    // Queues whose owner the fresh config no longer serves.
    for (auto it = queues_.begin(); it != queues_.end();) {
        struct stat st {};
        if (::fstat(it->second->region().probe_fd(), &st) != 0 || serves_uid(fresh, st.st_uid)) {
            ++it;
            continue;
        }
        log(Level::info, "SIGHUP: no longer serving queue " + it->second->name() + " (owned by uid " +
                             std::to_string(st.st_uid) + ")");
        const uint32_t id = (it++)->first;
        drop(id, nullptr);
    }
    retry_after_ns_.clear();  // queues refused under the old config are judged again at once
    warned_.clear();
    if (fresh.metrics_listen != config_.metrics_listen || fresh.metrics_allow_remote != config_.metrics_allow_remote ||
        (!metrics_http_ && !fresh.metrics_listen.empty())) {
        try {
            listen_for_metrics(fresh);
        } catch (const std::exception& e) {
            log(Level::error, std::string("SIGHUP: ") + e.what() + "; /metrics is off until a reload succeeds");
        }
    }
    if (fresh.metrics_textfile != config_.metrics_textfile || fresh.metrics_interval_ms != config_.metrics_interval_ms)
        write_metrics_textfile(fresh);
    config_ = fresh;
    named_ = std::set<std::string>(config_.queues.begin(), config_.queues.end());
    rescan_ = true;
    log(Level::info, "SIGHUP: configuration reloaded (tick " + std::to_string(config_.tick_ms) + " ms, " +
                         (config_.queues.empty() ? std::string("all queues") : std::to_string(config_.queues.size()) + " queue(s)") +
                         ")");
}

void Supervisor::handle_signals() {
    signalfd_siginfo info{};
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo == SIGHUP) {
            notifier_.reloading(sys::monotonic_ns());
            reload();
            ready_due_ = true;  // once the reloaded config's queues are discovered
        } else {
            if (!stop_) notifier_.stopping();
            stop_ = true;
        }
    }
}

void Supervisor::notify_status() {
    if (queues_.size() == status_queues_ || !notifier_.enabled()) return;
    status_queues_ = queues_.size();
    notifier_.status("serving " + std::to_string(status_queues_) + (status_queues_ == 1 ? " queue" : " queues"));
}

int Supervisor::run() {
    log(Level::info, "started (tick " + std::to_string(config_.tick_ms) + " ms: the longest sleep; data dir " + config_.data_dir + ")");
    epoll_event events[64];
    uint64_t logged_total_cells = 0;
    uint64_t next_integrity_log_ns = 0;
    uint64_t next_doorbell_poll_ns = 0;
    while (!stop_) {
        uint64_t now = sys::monotonic_ns();
        if (rescan_ || now >= next_discovery_ns_) {
            rescan_ = false;
            next_discovery_ns_ = now + (inotify_fd_ >= 0 ? kDiscoveryPeriodNs : kDiscoveryPollNs);
            discover(now);
        }
        if (ready_due_) {
            // Queues discovered, metrics listening (since the constructor): clients can rely on us.
            ready_due_ = false;
            notify_status();
            notifier_.ready();
        }
        // The integrity bound the queues served now get (at most every 10 s: queues come and go).
        if (integrity_total_ != logged_total_cells && now >= next_integrity_log_ns) {
            logged_total_cells = integrity_total_;
            next_integrity_log_ns = now + 10'000'000'000;
            const uint64_t rate = integrity_rate(config_, logged_total_cells);
            log(Level::info, "integrity: " + std::to_string(queues_.size()) + " queue(s), " +
                                 std::to_string(logged_total_cells) + " cells, each checked at least every " +
                                 std::to_string((logged_total_cells * 1000 + rate - 1) / rate + kIntegritySliceNs / 1'000'000) +
                                 " ms (" + std::to_string(rate) + " cells/s)");
        }
        uint64_t next_retry = UINT64_MAX;
        for (auto it = retry_after_ns_.begin(); it != retry_after_ns_.end();) {
            const std::string name = it->first;
            const uint64_t at = it->second;
            if (at > now) {
                ++it;
            } else if (name.rfind("restore ", 0) == 0) {
                it = retry_after_ns_.erase(it);
                rescan_ = true;  // discover() restores it, or sets the next retry
            } else {
                ++it;
                discover_one(name, now);
            }
        }
        for (const auto& [name, at] : retry_after_ns_) next_retry = std::min(next_retry, at);
        if (inotify_fd_ < 0 && now >= next_doorbell_poll_ns) {
            // No inotify, no doorbell: take every queue's turn as if it rang.
            next_doorbell_poll_ns = now + kDoorbellPollNs;
            for (auto& [id, q] : queues_) {
                q->on_doorbell(now);
                schedule(id);
            }
        }
        run_due_queues(now);
        check_integrity(now);
        const int disk_work = run_disk(now);
        do_metrics_work(now);
        notifier_.on_time_event(now);  // WATCHDOG=1 from this loop, so a stuck loop starves it
        notify_status();
        const uint64_t after = sys::monotonic_ns();
        // No queue, no integrity slice: its deadline stays in the past then (check_integrity
        // does not move it), and waiting for it would turn the loop into a busy spin.
        const uint64_t next_integrity = queues_.empty() ? UINT64_MAX : next_integrity_ns_;
        uint64_t wake = std::min({after + uint64_t{config_.tick_ms} * 1'000'000, next_metrics_wake(), next_discovery_ns_,
                                  next_retry, next_integrity, due_.empty() ? UINT64_MAX : due_.top().first,
                                  notifier_.next_watchdog_ns()});
        // Queues with disk work (spilling, journal behind) are served on
        // every turn: producers wait on staging room or on the journal,
        // consumers on refills. Busy: turn again at once; else within kSpillPollNs.
        if (!disk_ids_.empty()) wake = std::min(wake, now + (disk_work > 0 ? 0 : kSpillPollNs));
        if (inotify_fd_ < 0) wake = std::min(wake, next_doorbell_poll_ns);
        const int n = wait_for_events(epoll_fd_, events, 64, after >= wake ? 0 : wake - after);
        now = sys::monotonic_ns();
        for (int i = 0; i < n; ++i) {
            const uint64_t tag = events[i].data.u64;
            if (tag == kSignalTag) {
                handle_signals();
            } else if (tag == kInotifyTag) {
                on_inotify(now);
            } else if (metrics_http_ && metrics_http_->owns(tag)) {
                metrics_http_->on_event(tag, now);
            } else {
                const auto id = static_cast<uint32_t>(tag >> 32);
                auto q = queues_.find(id);
                if (q == queues_.end()) continue;
                q->second->on_process_exit(static_cast<uint32_t>(tag & 0xffffffff));
                schedule(id);
            }
        }
    }
    log(Level::info, "stopping");
    return 0;
}

}  // namespace shmq::daemon
