#include "bridge_in.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <thread>
#include <vector>

#include "../command.hpp"
#include "../format.hpp"
#include "shmq/internal/attributes.hpp"
#include "shmq/internal/carried_send.hpp"
#include "message_key.hpp"
#include "msg_id.hpp"
#include "nats_session.hpp"
#include "status_page.hpp"

namespace shmq::cli::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// The durable pull consumer: created (AckExplicit, deliver all, redelivered
// without limit: poison is the local DLQ's business) or checked.
void ensure_consumer(jsCtx* js, const InConfig& config) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&ci, js, config.stream.c_str(), config.durable.c_str(), nullptr, &code);
    if (s == NATS_OK) {
        const bool explicit_ack = ci->Config->AckPolicy == js_AckExplicit;
        const bool pull = ci->Config->DeliverSubject == nullptr || *ci->Config->DeliverSubject == '\0';
        jsConsumerInfo_Destroy(ci);
        if (!explicit_ack || !pull)
            throw CommandError(1, "consumer '" + config.durable + "' of stream '" + config.stream +
                                      "' exists but is not a pull consumer with explicit ACKs; use another --durable");
        return;
    }
    if (s != NATS_NOT_FOUND && code != JSConsumerNotFoundErr && code != JSStreamNotFoundErr)
        throw CommandError(1, nats_error("cannot look up consumer '" + config.durable + "' of stream '" +
                                         config.stream + "'", s, code));
    if (code == JSStreamNotFoundErr)
        throw CommandError(1, "stream '" + config.stream + "' does not exist; check --stream (bridge out creates it)");
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = config.durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = config.ack_wait_ms * 1000000;  // nanoseconds
    cc.MaxDeliver = -1;
    if (!config.subject.empty()) cc.FilterSubject = config.subject.c_str();
    code = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&ci, js, config.stream.c_str(), &cc, nullptr, &code);
    if (s != NATS_OK)
        throw CommandError(1, nats_error("cannot create consumer '" + config.durable + "' on stream '" +
                                         config.stream + "'", s, code));
    jsConsumerInfo_Destroy(ci);
}

std::string key_of(natsMsg* m) {
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, kKeyHeader, &v) == NATS_OK && v != nullptr) {
        std::string key(v);
        if (key.size() <= kMaxKeyBytes) return key;
    }
    v = nullptr;
    if (natsMsgHeader_Get(m, kKeyHexHeader, &v) == NATS_OK && v != nullptr)
        if (auto key = from_hex(v); key && key->size() <= kMaxKeyBytes) return *key;
    std::string subject = natsMsg_GetSubject(m) != nullptr ? natsMsg_GetSubject(m) : "";
    return subject.size() <= kMaxKeyBytes ? subject : subject.substr(subject.size() - kMaxKeyBytes);
}

// The dedup id of an incoming message: from its Nats-Msg-Id (msg_id.hpp,
// dedup_id_from_msg_id); empty without one. On a queue without a dedup
// window the send ignores it.
std::string dedup_id_of(natsMsg* m) {
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) != NATS_OK || v == nullptr || *v == '\0') return {};
    return dedup_id_from_msg_id(v);
}

// The routing key and headers an incoming message carries (message_key.hpp),
// as an attribute block for the queue's slot; empty when it has none, or when
// they are malformed or over the limits (then `bad` is set: the message goes
// in without them).
attrs::Block attributes_of(natsMsg* m, bool& bad) {
    attrs::Block block;
    bad = false;
    std::string routing_key;
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, kRoutingKeyHeader, &v) == NATS_OK && v != nullptr) {
        routing_key = v;
    } else if (v = nullptr; natsMsgHeader_Get(m, kRoutingKeyHexHeader, &v) == NATS_OK && v != nullptr) {
        if (auto rk = from_hex(v)) routing_key = std::move(*rk);
        else bad = true;
    }
    std::vector<MessageHeader> headers;
    const char** values = nullptr;
    int count = 0;
    if (natsMsgHeader_Values(m, kHeaderHeader, &values, &count) == NATS_OK) {
        for (int i = 0; i < count; ++i) {
            if (auto kv = parse_header_value(values[i] != nullptr ? values[i] : ""))
                headers.push_back({std::move(kv->first), std::move(kv->second)});
            else
                bad = true;
        }
        std::free(values);  // the array only: the strings are the message's
    }
    if (!attrs::encode(routing_key, headers, block)) {
        bad = true;
        block.size = 0;
    }
    return block;
}

struct InCounters {
    uint64_t received = 0, sent = 0, redeliveries = 0, rejected = 0, fetch_errors = 0;
    uint64_t duplicates = 0;      // sends the queue answered duplicate (its dedup window had the id)
    uint64_t fetched_unsent = 0;  // of the current batch
    uint64_t stream_pending = 0;  // JetStream's pending count with the last message
};

}  // namespace

void run_in(const InConfig& config) {
    install_stop_handlers();
    auto queue = [&] {
        try {
            return Queue::open(config.queue);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
    }();
    auto producer = [&] {
        try {
            return queue.producer();
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
    }();
    SessionOptions so;
    so.urls = config.urls;
    so.client_name = "shmq bridge in " + config.queue;
    NatsSession session(so);
    ensure_consumer(session.js(), config);

    jsSubOptions sub_opts;
    jsSubOptions_Init(&sub_opts);
    sub_opts.Stream = config.stream.c_str();
    sub_opts.Consumer = config.durable.c_str();
    natsSubscription* sub = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&sub, session.js(), config.subject.empty() ? nullptr : config.subject.c_str(),
                                    config.durable.c_str(), nullptr, &sub_opts, &code);
    if (s != NATS_OK)
        throw CommandError(1, nats_error("cannot subscribe to consumer '" + config.durable + "' of stream '" +
                                         config.stream + "'", s, code));
    struct SubGuard {
        natsSubscription* sub;
        ~SubGuard() { natsSubscription_Destroy(sub); }  // keeps the durable consumer
    } guard{sub};

    std::fprintf(stderr, "shmq bridge in: stream %s (consumer %s%s%s) -> %s\n", config.stream.c_str(),
                 config.durable.c_str(), config.subject.empty() ? "" : ", subject ", config.subject.c_str(),
                 config.queue.c_str());
    InCounters c;
    StatusPage status(config.queue, layout::BridgeDirection::in, "", config.stream, config.durable);
    auto publish_status = [&] {
        status.publish({.messages = c.sent,
                        .pending_acks = c.fetched_unsent,
                        .errors = c.fetch_errors + c.rejected,
                        .redeliveries = c.redeliveries,
                        .duplicates = c.duplicates,
                        .lag = c.stream_pending},
                       session.connected());
    };
    bool reported_fetch = false, reported_full = false, reported_bad_attributes = false;
    const auto in_progress_every = std::chrono::milliseconds(std::max<int64_t>(config.ack_wait_ms / 3, 100));

    // Sends one message into the queue; true when it was ACKed or terminated.
    auto deliver = [&](natsMsg* m) {
        ++c.received;
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            if (meta->NumDelivered > 1) ++c.redeliveries;
            c.stream_pending = meta->NumPending;
            jsMsgMetaData_Destroy(meta);
        }
        const std::string key = key_of(m);
        const std::string dedup_id = dedup_id_of(m);
        bool bad_attributes = false;
        const attrs::Block attributes = attributes_of(m, bad_attributes);
        if (bad_attributes && !reported_bad_attributes) {
            std::fprintf(stderr,
                         "shmq bridge in: a message of stream %s has Shmq-Routing-Key/Shmq-Header values that are "
                         "malformed or over the limits (255-byte routing key; 8 headers, keys 1..32 bytes, values "
                         "up to 64); such messages go in without them\n",
                         config.stream.c_str());
            reported_bad_attributes = true;
        }
        const std::string_view payload(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        auto last_progress = Clock::now();
        for (;;) {
            SendOptions opts;
            opts.key = key;
            opts.timeout = Millis(200);
            opts.dedup_id = dedup_id;
            SendOutcome outcome;
            const Status st = detail::send_with_attributes(producer, std::as_bytes(std::span(payload.data(), payload.size())),
                                                           opts, attributes.span(), outcome);
            if (st) {
                // A duplicate: the queue already has this id (an earlier
                // delivery of this message, or another with the same
                // Nats-Msg-Id): done, the stream's copy is ACKed.
                if (outcome.duplicate) ++c.duplicates;
                if (reported_full) {
                    std::fprintf(stderr, "shmq bridge in: queue %s has room again\n", config.queue.c_str());
                    reported_full = false;
                }
                (void)natsMsg_Ack(m, nullptr);  // lost: redelivered, a duplicate locally (at-least-once)
                ++c.sent;
                --c.fetched_unsent;
                publish_status();
                return;
            }
            switch (st.code()) {
            case Errc::timeout:
            case Errc::overloaded:
                if (!reported_full) {
                    // timeout/overloaded: no room, a full dedup table, or another sender
                    // of the same dedup id still mid-send (dedup.hpp (2)).
                    std::fprintf(stderr,
                                 "shmq bridge in: queue %s is full (or its dedup table is, or another send of "
                                 "this Nats-Msg-Id is under way); holding the stream's messages\n",
                                 config.queue.c_str());
                    reported_full = true;
                }
                if (stop_requested()) {
                    (void)natsMsg_Nak(m, nullptr);
                    return;
                }
                if (Clock::now() - last_progress >= in_progress_every) {
                    (void)natsMsg_InProgress(m, nullptr);  // keep JetStream's lease while we wait for room
                    last_progress = Clock::now();
                    publish_status();
                }
                continue;
            case Errc::message_too_large:
            case Errc::key_too_large:
            case Errc::invalid_argument:
                // Never deliverable here: tell JetStream to stop redelivering it.
                std::fprintf(stderr, "shmq bridge in: dropping a message of subject %s: %s (terminated in JetStream)\n",
                             printable(natsMsg_GetSubject(m)).c_str(), st.message());  // the stream's bytes
                (void)natsMsg_Term(m, nullptr);
                ++c.rejected;
                --c.fetched_unsent;
                return;
            default:
                (void)natsMsg_Nak(m, nullptr);
                throw CommandError(1, std::string("send into queue '") + config.queue + "' failed: " + st.message());
            }
        }
    };

    while (!stop_requested()) {
        natsMsgList list{};
        code = static_cast<jsErrCode>(0);
        s = natsSubscription_Fetch(&list, sub, config.batch, 500, &code);
        if (s == NATS_TIMEOUT) {
            natsMsgList_Destroy(&list);
            c.stream_pending = 0;  // nothing more to fetch
            publish_status();
            continue;
        }
        if (s != NATS_OK) {
            ++c.fetch_errors;
            if (!reported_fetch) {
                std::fprintf(stderr, "shmq bridge in: %s; retrying\n",
                             nats_error("fetching from stream " + config.stream + " failed", s, code).c_str());
                reported_fetch = true;
            }
            natsMsgList_Destroy(&list);
            publish_status();
            sleep_interruptibly(250);
            continue;
        }
        if (reported_fetch) {
            std::fprintf(stderr, "shmq bridge in: fetching again\n");
            reported_fetch = false;
        }
        c.fetched_unsent = static_cast<uint64_t>(list.Count);
        try {
            for (int i = 0; i < list.Count; ++i) deliver(list.Msgs[i]);
        } catch (...) {
            natsMsgList_Destroy(&list);
            throw;
        }
        natsMsgList_Destroy(&list);
    }
    std::fprintf(stderr,
                 "shmq bridge in: stopped; received %llu (%llu redeliveries), sent %llu into %s (%llu duplicates), "
                 "%llu rejected, %llu fetch errors\n",
                 static_cast<unsigned long long>(c.received), static_cast<unsigned long long>(c.redeliveries),
                 static_cast<unsigned long long>(c.sent), config.queue.c_str(),
                 static_cast<unsigned long long>(c.duplicates),
                 static_cast<unsigned long long>(c.rejected), static_cast<unsigned long long>(c.fetch_errors));
}

}  // namespace shmq::cli::bridge
