#include "metrics_http.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.hpp"
#include "metrics_text.hpp"

namespace shmq::daemon {

namespace {

constexpr std::size_t kAcceptBudget = 16;        // accepts per listener event: others' turn comes too
constexpr uint64_t kDrainNs = 1'000'000'000;      // after the response: wait this long for the client to close
constexpr std::size_t kMaxDrainBytes = 64 * 1024;  // ... and discard at most this much of what it still sends
constexpr uint64_t kResourcePauseNs = 100'000'000;  // out of descriptors: retry accepting after this
constexpr uint64_t kWarningPeriodNs = 60'000'000'000;
// The kernel's queue of connections not yet accepted. Not our bound (that is
// kMaxConnections); a short queue makes a burst of clients lose their SYNs and
// retry after a second.
constexpr int kListenBacklog = 128;

bool is_loopback(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(a);
        return (ntohl(in.sin_addr.s_addr) >> 24) == 127;  // 127.0.0.0/8
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) && in6.sin6_addr.s6_addr[12] == 127;
}

std::string response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = {}) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    r.append("Content-Type: ").append(content_type).append("\r\n");
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    r.append(extra_headers);
    r.append("Connection: close\r\n\r\n");
    r.append(body);
    return r;
}

constexpr std::string_view kIndex =
    "<html><head><title>shmqd</title></head><body><h1>shmqd</h1>"
    "<p><a href=\"/metrics\">/metrics</a>: Prometheus metrics of the queues this shmqd watches.</p></body></html>\n";

}  // namespace

std::optional<std::string> parse_listen_address(std::string_view text, bool allow_remote, ListenAddress& out) {
    const std::string quoted = "'" + std::string(text) + "'";
    std::string_view host;
    std::string_view port;
    if (text.starts_with("[")) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return quoted + " is not [IPV6]:PORT (e.g. [::1]:9464)";
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0)
            return quoted + " is not HOST:PORT (e.g. 127.0.0.1:9464)";
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        return quoted + ": the port must be a number 0..65535 (0: any free port)";
    ListenAddress a;
    const std::string h = host == "localhost" ? "127.0.0.1" : std::string(host);
    auto& in = reinterpret_cast<sockaddr_in&>(a.addr);
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.addr);
    if (::inet_pton(AF_INET, h.c_str(), &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        in.sin_port = htons(static_cast<uint16_t>(value));
        a.length = sizeof in;
    } else if (::inet_pton(AF_INET6, h.c_str(), &in6.sin6_addr) == 1 && text.starts_with("[")) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(static_cast<uint16_t>(value));
        a.length = sizeof in6;
    } else {
        return quoted + ": the host must be an IPv4 address, [IPv6 address] or localhost";
    }
    a.loopback = is_loopback(a.addr);
    if (!a.loopback && !allow_remote)
        return quoted + " is not a loopback address, so the metrics would be readable from other hosts; "
                        "listen on 127.0.0.1, or add --metrics-allow-remote to allow it";
    out = a;
    return std::nullopt;
}

std::string to_string(const sockaddr_storage& addr) {
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
        ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
}

MetricsHttp::MetricsHttp(const ListenAddress& at, int epoll_fd, uint64_t tag_prefix, Render render)
    : epoll_fd_(epoll_fd), tag_prefix_(tag_prefix), render_(std::move(render)) {
    const std::string wanted = to_string(at.addr);
    auto fail = [&](const char* what) {
        const std::string reason = std::strerror(errno);
        if (listen_fd_ >= 0) ::close(listen_fd_);
        return std::runtime_error("cannot serve metrics on " + wanted + ": " + what + ": " + reason +
                                  " (choose another --metrics-listen address or port)");
    };
    listen_fd_ = ::socket(at.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw fail("socket");
    const int one = 1;
    // A restarted shmqd may bind the port while the old one's connections are in TIME_WAIT.
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&at.addr), at.length) != 0) throw fail("bind");
    if (::listen(listen_fd_, kListenBacklog) != 0) throw fail("listen");
    sockaddr_storage actual{};
    socklen_t length = sizeof actual;
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&actual), &length) != 0) throw fail("getsockname");
    bound_ = to_string(actual);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_prefix_ | kListenerId;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) throw fail("epoll_ctl");
}

MetricsHttp::~MetricsHttp() {
    for (auto& [id, c] : connections_) ::close(c.fd);  // closing also drops it from the epoll set
    ::close(listen_fd_);
}

void MetricsHttp::set_listening(bool on, uint64_t resume_at) {
    resume_at_ = on ? 0 : resume_at;
    if (on == listening_) return;
    epoll_event ev{};
    ev.events = on ? uint32_t{EPOLLIN} : 0u;
    ev.data.u64 = tag_prefix_ | kListenerId;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) == 0) listening_ = on;
}

void MetricsHttp::accept_ready(uint64_t now) {
    for (std::size_t i = 0; i < kAcceptBudget; ++i) {
        if (connections_.size() >= kMaxConnections) {
            set_listening(false, 0);  // resumed when one closes
            return;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            // Out of descriptors or memory: the listener stays readable, so
            // pause it rather than spin, and say so now and then.
            if (now >= next_warning_ns_) {
                log(Level::warn, std::string("metrics: cannot accept a connection: ") + std::strerror(errno) +
                                     " (raise the open-file limit of shmqd)");
                next_warning_ns_ = now + kWarningPeriodNs;
            }
            set_listening(false, now + kResourcePauseNs);
            return;
        }
        if (next_id_ == kListenerId) next_id_ = 0;
        const uint32_t id = next_id_++;
        Connection c;
        c.fd = fd;
        c.deadline = now + kDeadlineNs;
        auto [it, inserted] = connections_.emplace(id, std::move(c));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag_prefix_ | id;
        if (!inserted || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            if (inserted) connections_.erase(it);
            ::close(fd);
            continue;
        }
        it->second.events = EPOLLIN;
        // The request has usually arrived with the connection: answer it now
        // rather than on the loop's next turn, which may be a whole tick of
        // work over every queue away.
        if (!advance(id, it->second, now)) close_connection(it);
    }
}

bool MetricsHttp::watch(uint32_t id, Connection& c, uint32_t events) {
    if (c.events == events) return true;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag_prefix_ | id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) return false;
    c.events = events;
    return true;
}

void MetricsHttp::close_connection(std::map<uint32_t, Connection>::iterator it) {
    ::close(it->second.fd);
    connections_.erase(it);
    if (!listening_ && resume_at_ == 0) set_listening(true, 0);  // paused for capacity: there is room now
}

// Reads what has arrived. True once the request's header is complete, too
// long, or cut short by the peer; false while more may come.
bool MetricsHttp::read_request(Connection& c) {
    char buf[4096];
    while (c.in.size() <= kMaxRequestBytes) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        c.peer_closed = true;  // EOF or error: nothing more will come
        break;
    }
    return c.peer_closed || c.in.size() > kMaxRequestBytes || c.in.find("\r\n\r\n") != std::string::npos ||
           c.in.find("\n\n") != std::string::npos;
}

std::string MetricsHttp::respond(std::string_view request) {
    const std::string_view text = "text/plain; charset=utf-8";
    const auto header_end = std::min(request.find("\r\n\r\n"), request.find("\n\n"));
    if (header_end == std::string_view::npos)
        return request.size() > kMaxRequestBytes
                   ? response(431, "Request Header Fields Too Large", text,
                              "request header over " + std::to_string(kMaxRequestBytes) + " bytes\n")
                   : response(400, "Bad Request", text, "incomplete request\n");
    std::string_view line = request.substr(0, request.find('\n'));
    if (line.ends_with('\r')) line.remove_suffix(1);
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
        !line.substr(sp2 + 1).starts_with("HTTP/1."))
        return response(400, "Bad Request", text, "expected a request line: GET /metrics HTTP/1.1\n");
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view path = target.substr(0, target.find('?'));
    if (method != "GET") return response(405, "Method Not Allowed", text, "only GET is supported\n", "Allow: GET\r\n");
    if (path == "/") return response(200, "OK", "text/html; charset=utf-8", kIndex);
    if (path != "/metrics") return response(404, "Not Found", text, "not found; the metrics are at /metrics\n");
    try {
        return response(200, "OK", metrics::kContentType, render_());
    } catch (const std::exception& e) {
        log(Level::error, std::string("metrics: rendering failed: ") + e.what());
        return response(500, "Internal Server Error", text, "rendering the metrics failed; see shmqd's log\n");
    }
}

bool MetricsHttp::advance(uint32_t id, Connection& c, uint64_t now) {
    if (c.state == State::reading) {
        if (!read_request(c)) return true;  // wait for the rest
        if (c.in.empty()) return false;     // connected and left without a word
        c.out = respond(c.in);
        if (enabled(Level::debug)) {
            // The client's request line, escaped so that the log line stays one line.
            const std::string_view line = std::string_view(c.in).substr(0, c.in.find_first_of("\r\n"));
            log(Level::debug, "metrics: \"" + metrics::escape_label_value(line.substr(0, 200)) + "\" -> " +
                                  c.out.substr(9, 3));
        }
        c.in = std::string();
        c.state = State::writing;
    }
    if (c.state == State::writing) {
        while (c.sent < c.out.size()) {
            const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
            if (n > 0) {
                c.sent += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(id, c, EPOLLOUT);
            return false;  // the peer went away
        }
        // All sent. Half-close and read until the client closes too: closing
        // with unread input would send a reset that can destroy the response
        // before the client has read it.
        ::shutdown(c.fd, SHUT_WR);
        if (c.peer_closed) return false;
        c.state = State::draining;
        c.deadline = std::min(c.deadline, now + kDrainNs);
        c.out = std::string();
        if (!watch(id, c, EPOLLIN)) return false;
    }
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.drained += static_cast<std::size_t>(n);
            if (c.drained > kMaxDrainBytes) return false;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // EOF or error: done
    }
}

void MetricsHttp::on_event(uint64_t tag, uint64_t now) {
    const auto id = static_cast<uint32_t>(tag & 0xffffffff);
    if (id == kListenerId) {
        if (listening_) accept_ready(now);
        return;
    }
    auto it = connections_.find(id);
    if (it == connections_.end()) return;  // closed earlier in this batch of events
    // Every state reads or writes until EAGAIN, which also surfaces EPOLLERR/EPOLLHUP.
    if (!advance(id, it->second, now)) close_connection(it);
}

void MetricsHttp::on_time_event(uint64_t now) {
    for (auto it = connections_.begin(); it != connections_.end();) {
        auto next = std::next(it);
        Connection& c = it->second;
        if (now >= c.deadline) {
            if (c.state == State::reading && !c.in.empty()) {
                // Half a request: say why, best effort (one non-blocking send, never waited on).
                const std::string timeout = response(408, "Request Timeout", "text/plain; charset=utf-8",
                                                     "no complete request within the deadline\n");
                (void)!::send(c.fd, timeout.data(), timeout.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            if (c.state == State::reading)
                log(Level::debug, "metrics: a client sent no complete request within " +
                                      std::to_string(kDeadlineNs / 1'000'000) + " ms; closed");
            close_connection(it);
        }
        it = next;
    }
    if (!listening_ && resume_at_ != 0 && now >= resume_at_) set_listening(true, 0);
}

uint64_t MetricsHttp::next_wake() const {
    uint64_t wake = !listening_ && resume_at_ != 0 ? resume_at_ : UINT64_MAX;
    for (const auto& [id, c] : connections_) wake = std::min(wake, c.deadline);
    return wake;
}

}  // namespace shmq::daemon
