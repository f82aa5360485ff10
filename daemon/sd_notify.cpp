#include "sd_notify.hpp"

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.hpp"

namespace shmq::daemon {

namespace {

std::optional<uint64_t> parse_u64(const char* text) {
    uint64_t v = 0;
    const char* end = text + std::strlen(text);
    const auto [at, ec] = std::from_chars(text, end, v);
    if (ec != std::errc() || at != end || at == text) return std::nullopt;
    return v;
}

}  // namespace

NotifyEnvironment parse_notify_environment(const char* notify_socket, const char* watchdog_usec,
                                           const char* watchdog_pid, pid_t self) {
    NotifyEnvironment env;
    if (notify_socket != nullptr && notify_socket[0] != '\0') {
        const std::string_view s(notify_socket);
        if (s[0] != '/' && s[0] != '@')
            env.problem = "NOTIFY_SOCKET=" + std::string(s) + " is neither an absolute path nor '@abstract'; not notifying systemd";
        else if (s.size() >= sizeof(sockaddr_un::sun_path))
            env.problem = "NOTIFY_SOCKET is longer than a socket address (" + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                          " bytes); not notifying systemd";
        else
            env.socket = s;
    }
    if (env.socket.empty() || watchdog_usec == nullptr || watchdog_usec[0] == '\0') return env;
    if (watchdog_pid != nullptr && watchdog_pid[0] != '\0') {
        const auto pid = parse_u64(watchdog_pid);
        if (!pid) {
            env.problem = std::string("WATCHDOG_PID=") + watchdog_pid + " is not a pid; not feeding the watchdog";
            return env;
        }
        if (*pid != static_cast<uint64_t>(self)) return env;  // the watchdog is another process's
    }
    const auto usec = parse_u64(watchdog_usec);
    if (!usec || *usec == 0 || *usec > UINT64_MAX / 1000) {
        env.problem = std::string("WATCHDOG_USEC=") + watchdog_usec + " is not a positive number of microseconds; "
                      "not feeding the watchdog";
        return env;
    }
    env.watchdog_ns = *usec * 1000;
    return env;
}

SystemdNotifier::SystemdNotifier(const NotifyEnvironment& env) {
    if (env.problem) log(Level::warn, *env.problem);
    if (env.socket.empty()) return;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        log(Level::warn, std::string("cannot make a socket to notify systemd: ") + std::strerror(errno));
        return;
    }
    // systemd reads its notify socket at once; a full queue there must not hold the loop for long.
    const timeval limit{1, 0};
    (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    address_ = env.socket;
    if (address_[0] == '@') address_[0] = '\0';  // the abstract namespace
    if (env.watchdog_ns > 0) {
        watchdog_half_ns_ = env.watchdog_ns / 2;
        next_watchdog_ns_ = 0;  // due at the first turn of the loop
        log(Level::info, "systemd watchdog: every " + std::to_string(env.watchdog_ns / 1000) +
                             " us; fed every half of that");
    }
}

SystemdNotifier::~SystemdNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

void SystemdNotifier::send(std::string_view message) {
    if (fd_ < 0) return;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address_.data(), address_.size());
    // An abstract name is exactly its bytes; a path gets its terminating NUL.
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() + (address_[0] == '\0' ? 0 : 1));
    const ssize_t n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&sa), len);
    if (n == static_cast<ssize_t>(message.size())) return;
    if (send_failed_) return;
    send_failed_ = true;
    log(Level::warn, "cannot notify systemd through NOTIFY_SOCKET: " + std::string(n < 0 ? std::strerror(errno) : "short send") +
                         " (said once; check the unit's NotifyAccess=)");
}

void SystemdNotifier::ready() { send("READY=1"); }

void SystemdNotifier::reloading(uint64_t monotonic_ns) {
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_ns / 1000));
}

void SystemdNotifier::stopping() { send("STOPPING=1"); }

void SystemdNotifier::status(const std::string& text) {
    if (fd_ < 0 || text == last_status_) return;
    last_status_ = text;
    send("STATUS=" + text);
}

void SystemdNotifier::on_time_event(uint64_t now) {
    if (now < next_watchdog_ns_) return;
    next_watchdog_ns_ = now + watchdog_half_ns_;
    send("WATCHDOG=1");
}

}  // namespace shmq::daemon
