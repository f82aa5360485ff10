// One connection to a NATS cluster and its JetStream context, for the bridge:
// reconnects forever (the bridge holds messages while the cluster is away),
// and says on stderr, once per change, when it lost or regained the cluster.
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
};

}  // namespace shmq::cli::bridge
