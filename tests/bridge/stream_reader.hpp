// Reading a JetStream stream back for the bridge tests: its message count,
// and every message in stream order (subject, Nats-Msg-Id, Shmq-Position,
// payload, sequence) through an ephemeral-style pull consumer with AckNone.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace shmq::test {

struct StreamMessage {
    uint64_t seq = 0;
    std::string subject, msg_id, key, payload;
    std::string position;  // Shmq-Position (messages published with their dedup id)
    std::string routing_key, routing_key_hex;  // Shmq-Routing-Key, Shmq-Routing-Key-Hex
    std::vector<std::string> headers;          // the Shmq-Header values, in order
};

// One connection with JetStream, to any of `urls` (comma-separated).
class JsClient {
public:
    explicit JsClient(const std::string& urls) {
        natsOptions* opts = nullptr;
        natsOptions_Create(&opts);
        natsOptions_SetTimeout(opts, 2000);
        natsOptions_SetMaxReconnect(opts, -1);
        natsOptions_SetReconnectWait(opts, 200);
        std::vector<std::string> list;
        std::string cur;
        for (char c : urls + ",") {
            if (c == ',') {
                if (!cur.empty()) list.push_back(cur);
                cur.clear();
            } else {
                cur += c;
            }
        }
        std::vector<const char*> servers;
        for (auto& u : list) servers.push_back(u.c_str());
        natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
        if (natsConnection_Connect(&nc_, opts) == NATS_OK) {
            jsOptions jo;
            jsOptions_Init(&jo);
            jo.Wait = 3000;
            if (natsConnection_JetStream(&js_, nc_, &jo) != NATS_OK) js_ = nullptr;
        }
        natsOptions_Destroy(opts);
    }
    ~JsClient() {
        if (js_) jsCtx_Destroy(js_);
        if (nc_) natsConnection_Destroy(nc_);
    }
    JsClient(const JsClient&) = delete;
    JsClient& operator=(const JsClient&) = delete;
    bool ok() const { return js_ != nullptr; }
    jsCtx* js() const { return js_; }

    // Names of the cluster's streams (empty when it cannot be asked).
    std::vector<std::string> stream_names() const {
        std::vector<std::string> out;
        jsStreamNamesList* list = nullptr;
        if (js_StreamNames(&list, js_, nullptr, nullptr) != NATS_OK || list == nullptr) return out;
        for (int i = 0; i < list->Count; ++i) out.emplace_back(list->List[i]);
        jsStreamNamesList_Destroy(list);
        return out;
    }

    // Messages in the stream; nullopt when the stream cannot be asked.
    std::optional<uint64_t> count(const std::string& stream) const {
        if (!js_) return std::nullopt;
        jsStreamInfo* si = nullptr;
        if (js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, nullptr) != NATS_OK) return std::nullopt;
        const uint64_t n = si->State.Msgs;
        jsStreamInfo_Destroy(si);
        return n;
    }

    // Waits until the stream holds at least `n` messages; the last count seen.
    uint64_t wait_count(const std::string& stream, uint64_t n, std::chrono::milliseconds timeout) const {
        const auto until = std::chrono::steady_clock::now() + timeout;
        uint64_t seen = 0;
        while (std::chrono::steady_clock::now() < until) {
            if (auto c = count(stream)) {
                seen = *c;
                if (seen >= n) return seen;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return seen;
    }

    // Every message, in stream order (expects `expected` of them; stops after
    // 10 s without a new one).
    std::vector<StreamMessage> read_all(const std::string& stream, const std::string& filter, uint64_t expected) const {
        std::vector<StreamMessage> out;
        if (!js_) return out;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = stream.c_str();
        so.Config.AckPolicy = js_AckNone;
        so.Config.DeliverPolicy = js_DeliverAll;
        natsSubscription* sub = nullptr;
        const std::string durable = "verify" + std::to_string(::getpid());
        for (int attempt = 0; attempt < 50; ++attempt) {  // up to ~10 s while the cluster settles
            if (js_PullSubscribe(&sub, js_, filter.c_str(), durable.c_str(), nullptr, &so, nullptr) == NATS_OK) break;
            sub = nullptr;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        if (sub == nullptr) return out;
        auto last_progress = std::chrono::steady_clock::now();
        while (out.size() < expected &&
               std::chrono::steady_clock::now() - last_progress < std::chrono::seconds(10)) {
            natsMsgList list{};
            const natsStatus s = natsSubscription_Fetch(&list, sub, 1000, 1000, nullptr);
            if (s != NATS_OK && s != NATS_TIMEOUT) {  // a node down, a leader moving: try again
                natsMsgList_Destroy(&list);
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            for (int i = 0; i < list.Count; ++i) {
                natsMsg* m = list.Msgs[i];
                StreamMessage sm;
                sm.subject = natsMsg_GetSubject(m);
                const char* v = nullptr;
                if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v) sm.msg_id = v;
                v = nullptr;
                if (natsMsgHeader_Get(m, "Shmq-Key", &v) == NATS_OK && v) sm.key = v;
                v = nullptr;
                if (natsMsgHeader_Get(m, "Shmq-Position", &v) == NATS_OK && v) sm.position = v;
                v = nullptr;
                if (natsMsgHeader_Get(m, "Shmq-Routing-Key", &v) == NATS_OK && v) sm.routing_key = v;
                v = nullptr;
                if (natsMsgHeader_Get(m, "Shmq-Routing-Key-Hex", &v) == NATS_OK && v) sm.routing_key_hex = v;
                const char** values = nullptr;
                int count = 0;
                if (natsMsgHeader_Values(m, "Shmq-Header", &values, &count) == NATS_OK) {
                    for (int k = 0; k < count; ++k) sm.headers.emplace_back(values[k]);
                    std::free(values);
                }
                sm.payload.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
                jsMsgMetaData* meta = nullptr;
                if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
                    sm.seq = meta->Sequence.Stream;
                    jsMsgMetaData_Destroy(meta);
                }
                out.push_back(std::move(sm));
            }
            if (list.Count > 0) last_progress = std::chrono::steady_clock::now();
            natsMsgList_Destroy(&list);
        }
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
        js_DeleteConsumer(js_, stream.c_str(), durable.c_str(), nullptr, nullptr);
        return out;
    }

private:
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
};

}  // namespace shmq::test
