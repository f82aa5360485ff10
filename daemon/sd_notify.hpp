// systemd's readiness protocol (sd_notify(3)), spoken without libsystemd:
// newline-separated KEY=VALUE lines in one datagram to the AF_UNIX socket
// named by $NOTIFY_SOCKET (an absolute path, or '@' for the abstract
// namespace). Without $NOTIFY_SOCKET every call is a no-op. The watchdog
// ($WATCHDOG_USEC, for us if $WATCHDOG_PID is unset or our pid) is fed at
// half its interval by whoever calls on_time_event() by next_watchdog_ns().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace shmq::daemon {

// What the environment asks for; parse_notify_environment() reads it.
struct NotifyEnvironment {
    std::string socket;         // empty: not started by systemd (or not Type=notify)
    uint64_t watchdog_ns = 0;   // 0: no watchdog for us
    std::optional<std::string> problem;  // a malformed variable: logged once, that part ignored
};
NotifyEnvironment parse_notify_environment(const char* notify_socket, const char* watchdog_usec,
                                           const char* watchdog_pid, pid_t self);

class SystemdNotifier {
public:
    explicit SystemdNotifier(const NotifyEnvironment& env);  // logs env.problem
    ~SystemdNotifier();
    SystemdNotifier(const SystemdNotifier&) = delete;
    SystemdNotifier& operator=(const SystemdNotifier&) = delete;

    bool enabled() const { return fd_ >= 0; }
    void ready();
    void reloading(uint64_t monotonic_ns);  // RELOADING=1 with MONOTONIC_USEC
    void stopping();
    void status(const std::string& text);  // sent only when it differs from the last one
    // UINT64_MAX without a watchdog, so a loop that sleeps until it costs nothing.
    uint64_t next_watchdog_ns() const { return next_watchdog_ns_; }
    void on_time_event(uint64_t now_mono);  // WATCHDOG=1 once due, then every half interval

private:
    void send(std::string_view message);

    int fd_ = -1;
    std::string address_;      // sockaddr_un's sun_path bytes ('\0' first when abstract)
    uint64_t watchdog_half_ns_ = 0;
    uint64_t next_watchdog_ns_ = UINT64_MAX;
    std::string last_status_;
    bool send_failed_ = false;  // logged once: a dead socket would otherwise log every half interval
};

}  // namespace shmq::daemon
