#include "nats_session.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "../command.hpp"

namespace shmq::cli::bridge {

std::string nats_error(const std::string& what, natsStatus s, jsErrCode code) {
    std::string line = what + ": " + natsStatus_GetText(s);
    if (code != 0) line += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    if (detail != nullptr && *detail != '\0') {
        std::string d(detail);
        // libnats prefixes "(file.c:123): "; the status text alone adds nothing.
        if (d.size() > 1 && d[0] == '(') {
            const auto end = d.find("): ");
            if (end != std::string::npos) d.erase(0, end + 3);
        }
        for (char& c : d)
            if (c == '\n' || c == '\r') c = ' ';
        if (d != natsStatus_GetText(s)) line += " (" + d + ")";
    }
    return line;
}

std::vector<std::string> split_urls(const std::string& urls) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= urls.size()) {
        const auto comma = urls.find(',', start);
        const auto end = comma == std::string::npos ? urls.size() : comma;
        std::string url = urls.substr(start, end - start);
        if (url.empty()) throw CommandError(2, "--nats '" + urls + "' has an empty URL; give URL[,URL...]");
        out.push_back(std::move(url));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

void NatsSession::on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<NatsSession*>(closure);
    if (self->connected_.exchange(false, std::memory_order_relaxed) && !self->quiet_)
        std::fprintf(stderr, "shmq bridge: lost the NATS connection (%s); holding messages and reconnecting\n",
                     self->urls_.c_str());
}

void NatsSession::on_closed(natsConnection*, void* closure) {
    static_cast<NatsSession*>(closure)->closed_.store(true, std::memory_order_release);
}

void NatsSession::on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<NatsSession*>(closure);
    if (!self->connected_.exchange(true, std::memory_order_relaxed))
        std::fprintf(stderr, "shmq bridge: reconnected to NATS\n");
}

std::string NatsSession::discovered_urls() const {
    char** servers = nullptr;
    int count = 0;
    std::string out;
    if (nc_ == nullptr || natsConnection_GetDiscoveredServers(nc_, &servers, &count) != NATS_OK) return out;
    for (int i = 0; i < count; ++i) {
        if (servers[i] != nullptr && *servers[i] != '\0') out += (out.empty() ? "" : ",") + std::string(servers[i]);
        std::free(servers[i]);
    }
    std::free(servers);
    return out;
}

NatsSession::NatsSession(const SessionOptions& options) : urls_(options.urls), quiet_(options.quiet) {
    const auto urls = split_urls(options.urls);
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    auto check = [&](natsStatus s, const char* what) {
        if (s != NATS_OK) throw CommandError(1, nats_error(what, s));
    };
    check(natsOptions_Create(&opts_), "cannot set up the NATS client");
    check(natsOptions_SetServers(opts_, servers.data(), static_cast<int>(servers.size())),
          ("--nats '" + options.urls + "' is not a list of NATS URLs").c_str());
    check(natsOptions_SetName(opts_, options.client_name.c_str()), "cannot set the NATS client name");
    if (options.reconnect)
        check(natsOptions_SetMaxReconnect(opts_, -1), "cannot set NATS reconnects");  // forever
    else
        check(natsOptions_SetAllowReconnect(opts_, false), "cannot turn NATS reconnects off");
    check(natsOptions_SetReconnectWait(opts_, 250), "cannot set the NATS reconnect wait");
    check(natsOptions_SetTimeout(opts_, 2000), "cannot set the NATS connect timeout");
    check(natsOptions_SetDisconnectedCB(opts_, on_disconnected, this), "cannot set a NATS callback");
    check(natsOptions_SetReconnectedCB(opts_, on_reconnected, this), "cannot set a NATS callback");
    check(natsOptions_SetClosedCB(opts_, on_closed, this), "cannot set a NATS callback");
    natsStatus s = natsConnection_Connect(&nc_, opts_);
    if (s != NATS_OK) {
        natsOptions_Destroy(opts_);
        opts_ = nullptr;
        throw CommandError(1, nats_error("cannot connect to NATS at " + options.urls +
                                             " (is nats-server running there? check --nats)", s));
    }
    connected_.store(true, std::memory_order_relaxed);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.api_wait_ms;
    jo.PublishAsync.MaxPending = options.max_pending;
    jo.PublishAsync.AckHandler = options.ack_handler;
    jo.PublishAsync.AckHandlerClosure = options.ack_closure;
    s = natsConnection_JetStream(&js_, nc_, &jo);
    if (s != NATS_OK) {
        close_connection();
        natsOptions_Destroy(opts_);
        throw CommandError(1, nats_error("cannot get a JetStream context", s));
    }
}

void NatsSession::close_connection() noexcept {
    if (nc_ == nullptr) return;
    natsConnection_Close(nc_);
    // libnats delivers connection callbacks on a thread of its own, the
    // closed one last: wait for it, so none runs on a destroyed `this`.
    for (int i = 0; i < 5000 && !closed_.load(std::memory_order_acquire); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
}

NatsSession::~NatsSession() {
    connected_.store(false, std::memory_order_relaxed);  // closing is no loss to report
    if (js_ != nullptr) jsCtx_Destroy(js_);
    close_connection();
    if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

}  // namespace shmq::cli::bridge
