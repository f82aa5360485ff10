// shmqd's /metrics endpoint: a minimal HTTP/1.1 responder driven by the
// supervisor's epoll loop. One request per connection (Connection: close);
// GET /metrics answers the exposition text, GET / a pointer to it, any other
// path 404 and any other method 405.
//
// It never blocks the loop: every socket is non-blocking, a connection lives
// at most kDeadlineNs from accept (slow or silent clients are cut off), a
// request is read up to kMaxRequestBytes, and at most kMaxConnections are
// open at once (the listener is paused meanwhile; the kernel's backlog holds
// the rest). The only work of any length is rendering, done once per request.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace shmq::daemon {

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t length = 0;
    bool loopback = false;
};

// Parses HOST:PORT: HOST an IPv4 address, a bracketed IPv6 address or
// "localhost" (127.0.0.1); PORT 0..65535, 0 for any free port. A HOST that is
// not a loopback address is refused unless allow_remote. Returns the reason
// it was refused, one line naming what to do, or nullopt.
std::optional<std::string> parse_listen_address(std::string_view text, bool allow_remote, ListenAddress& out);
// "127.0.0.1:9464" or "[::1]:9464".
std::string to_string(const sockaddr_storage& addr);

class MetricsHttp {
public:
    static constexpr std::size_t kMaxConnections = 16;
    static constexpr std::size_t kMaxRequestBytes = 8192;
    static constexpr uint64_t kDeadlineNs = 5'000'000'000;
    using Render = std::function<std::string()>;

    // Binds and listens on `at`, registering its sockets in epoll_fd under the
    // tags tag_prefix | id (tag_prefix has a zero low half and is used by
    // nobody else). Throws std::runtime_error with one line if it cannot.
    MetricsHttp(const ListenAddress& at, int epoll_fd, uint64_t tag_prefix, Render render);
    ~MetricsHttp();
    MetricsHttp(const MetricsHttp&) = delete;
    MetricsHttp& operator=(const MetricsHttp&) = delete;

    const std::string& bound() const { return bound_; }  // the address actually bound, port included
    bool owns(uint64_t tag) const { return (tag & ~uint64_t{0xffffffff}) == tag_prefix_; }
    // An epoll event of one of our tags. Every state reads or writes until
    // EAGAIN, so a spurious or stale event (a connection closed earlier in
    // the same batch) is harmless.
    void on_event(uint64_t tag, uint64_t now_mono);
    // Closes connections past their deadline; resumes a paused listener.
    void on_time_event(uint64_t now_mono);
    // When on_time_event next has something to do (UINT64_MAX: nothing pending).
    uint64_t next_wake() const;

private:
    enum class State { reading, writing, draining };
    struct Connection {
        int fd = -1;
        uint64_t deadline = 0;
        uint32_t events = 0;  // what epoll watches for
        State state = State::reading;
        bool peer_closed = false;
        std::string in;   // the request so far, at most kMaxRequestBytes + one read
        std::string out;  // the whole response
        std::size_t sent = 0;
        std::size_t drained = 0;
    };
    static constexpr uint32_t kListenerId = 0xffffffff;

    void accept_ready(uint64_t now);
    bool advance(uint32_t id, Connection& c, uint64_t now);  // false: close it
    bool read_request(Connection& c);
    std::string respond(std::string_view request);
    bool watch(uint32_t id, Connection& c, uint32_t events);
    void close_connection(std::map<uint32_t, Connection>::iterator it);
    void set_listening(bool on, uint64_t resume_at);

    int epoll_fd_;
    int listen_fd_ = -1;
    uint64_t tag_prefix_;
    Render render_;
    std::string bound_;
    bool listening_ = true;
    uint64_t resume_at_ = 0;  // paused for lack of resources: when to retry; 0 when paused for capacity
    uint64_t next_warning_ns_ = 0;
    uint32_t next_id_ = 0;
    std::map<uint32_t, Connection> connections_;  // ids are never reused while open: a stale event finds nothing
};

}  // namespace shmq::daemon
