// One connection to a NATS cluster and its JetStream context, for the bridge.
// With `reconnect` it reconnects forever (bridge in: the bridge holds
// messages while the cluster is away); without, a lost connection closes
// and takes everything written to it along (bridge out starts a new
// session: nothing of the old one can be flushed after a loss). Says on
// stderr, once per change, when it lost or regained the cluster.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <string>
#include <vector>

namespace shmq::cli::bridge {

// "what: <cnats status text> (<last error detail>)": one line for CommandError.
std::string nats_error(const std::string& what, natsStatus s, jsErrCode code = static_cast<jsErrCode>(0));

// "nats://a:4222,nats://b:4222" -> its URLs; throws CommandError(2) on an empty one.
std::vector<std::string> split_urls(const std::string& urls);

struct SessionOptions {
    std::string urls;          // comma-separated
    std::string client_name;   // shown by the server (e.g. "shmq bridge out orders")
    int64_t api_wait_ms = 5000;  // JetStream API requests (stream info, create)
    int64_t max_pending = 4096;  // async publishes in flight before PublishAsync stalls
    jsPubAckHandler ack_handler = nullptr;  // every async PubAck or its error
    void* ack_closure = nullptr;
    bool reconnect = true;  // false: a lost connection closes (closed() turns true)
    bool quiet = false;     // no "lost the NATS connection" line (the caller says it)
};

class NatsSession {
public:
    // Connects (throws CommandError(1) naming the URLs when none answers).
    explicit NatsSession(const SessionOptions& options);
    ~NatsSession();
    NatsSession(const NatsSession&) = delete;
    NatsSession& operator=(const NatsSession&) = delete;

    natsConnection* connection() const noexcept { return nc_; }
    jsCtx* js() const noexcept { return js_; }
    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
    // The connection is closed for good (only without `reconnect`, or after ~NatsSession).
    bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    // The servers the cluster told us of beyond the configured ones, "url,url".
    std::string discovered_urls() const;

private:
    static void on_disconnected(natsConnection* nc, void* closure);
    static void on_reconnected(natsConnection* nc, void* closure);
    static void on_closed(natsConnection* nc, void* closure);
    void close_connection() noexcept;
    natsOptions* opts_ = nullptr;
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
    std::atomic<bool> connected_{false};
    std::atomic<bool> closed_{false};  // the closed callback ran: no callback comes after it
    std::string urls_;
    bool quiet_ = false;
};

}  // namespace shmq::cli::bridge
