#include "bridge_out.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "../command.hpp"
#include "shmq/internal/groups.hpp"
#include "message_key.hpp"
#include "msg_id.hpp"
#include "nats_session.hpp"
#include "out_window.hpp"
#include "pub_acks.hpp"
#include "status_page.hpp"
#include "stream_setup.hpp"

namespace shmq::cli::bridge {

namespace {

// Publishes one entry asynchronously; false when libnats refused it at once.
// `position`: its position id (msg_id.hpp). A message with a dedup id is
// published with that as its Nats-Msg-Id and the position in Shmq-Position
// (its PubAck is matched through it); any other with the position as its id.
bool publish(jsCtx* js, const std::string& subject, const std::string& position, const OutEntry& e,
             int64_t ack_wait_ms, std::string& error) {
    const std::string msg_id = e.dedup_id.empty() ? position : make_dedup_msg_id(e.dedup_id, e.redrives);
    natsMsg* m = nullptr;
    natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, e.payload.data(), static_cast<int>(e.payload.size()));
    if (s == NATS_OK && !e.key.empty())
        s = printable_key(e.key) ? natsMsgHeader_Set(m, kKeyHeader, e.key.c_str())
                                 : natsMsgHeader_Set(m, kKeyHexHeader, to_hex(e.key).c_str());
    if (s == NATS_OK && !e.dedup_id.empty()) s = natsMsgHeader_Set(m, kPositionHeader, position.c_str());
    // Its routing key and headers (message_key.hpp): `bridge in` gives them back.
    if (s == NATS_OK && !e.routing_key.empty())
        s = plain_header_text(e.routing_key) ? natsMsgHeader_Set(m, kRoutingKeyHeader, e.routing_key.c_str())
                                             : natsMsgHeader_Set(m, kRoutingKeyHexHeader, to_hex(e.routing_key).c_str());
    for (const auto& [k, v] : e.headers)
        if (s == NATS_OK) s = natsMsgHeader_Add(m, kHeaderHeader, header_value(k, v).c_str());
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msg_id.c_str();
        po.MaxWait = ack_wait_ms;
        s = js_PublishMsgAsync(js, &m, &po);
    }
    natsMsg_Destroy(m);  // no-op when libnats took it
    if (s != NATS_OK) error = natsStatus_GetText(s);
    return s == NATS_OK;
}

// Takes back every publish libnats still waits on (their answers, if any
// come, are then dropped): they are re-sent, and the stream deduplicates.
void take_back_pending(jsCtx* js) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) natsMsgList_Destroy(&pending);
}

// How often `shmq dlq redrive` re-published a message that carries a dedup
// id: its slot extension's count, read while we hold the lease (0 when the
// slot has no extension). Read before the message is ACKed, like its payload.
uint16_t redrives_of(const detail::Region& region, const Message& m) {
    if (m.dedup_id().empty() || m.partition() >= region.partitions()) return 0;
    const layout::SlotExtension* ext = region.slot_extension(region.slot_base(m.partition(), m.offset()));
    if (ext == nullptr) return 0;
    uint16_t n = 0;
    std::memcpy(&n, &ext->redrives, sizeof n);  // shared memory: one plain read, any value is fine
    return n;
}

}  // namespace

void run_out(const OutConfig& config) {
    install_stop_handlers();
    const auto region = open_region(config.queue, detail::Access::read_only);
    const uint64_t epoch = region->epoch();
    // Per-partition order needs one reader per partition: a shared group
    // (several consumers, any partition) cannot be the bridge's.
    if (const auto g = detail::find_group(*region, config.group)) {
        const auto state = region->group(*g).state.load(std::memory_order_acquire);
        if (static_cast<GroupKind>(layout::group_kind(state)) != GroupKind::exclusive)
            throw CommandError(1, "group '" + config.group + "' of queue '" + config.queue +
                                      "' is shared; bridge out keeps partition order only as an exclusive group: "
                                      "use another --group");
    }
    auto queue = [&] {
        try {
            return Queue::open(config.queue);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
    }();
    const uint32_t partitions = queue.options().partitions;
    const Millis lease(queue.options().lease_ms);
    PubAckInbox inbox;
    SessionOptions so;
    so.urls = config.urls;
    so.client_name = "shmq bridge out " + config.queue;
    so.max_pending = std::max<int64_t>(config.window * 2, 1024);
    so.ack_handler = &PubAckInbox::handler;
    so.ack_closure = &inbox;
    // A connection is never resumed: whatever libnats would flush into the
    // next one after a loss (its reconnect buffer) could overtake messages
    // lost with the old one. See "Per-partition order" below.
    so.reconnect = false;
    so.quiet = true;  // the loop below says when it lost the cluster
    auto session = std::make_unique<NatsSession>(so);
    ensure_stream(session->js(), {config.stream, config.prefix, config.replicas, config.duplicate_window_ms});
    // Joined only now: a bridge that cannot reach the stream leaves no group behind.
    ConsumerOptions co;
    co.kind = GroupKind::exclusive;  // one bridge per partition: per-partition order
    co.max_in_flight = config.window;
    auto consumer = [&] {
        try {
            return queue.consumer(config.group, co);
        } catch (const Error& e) {
            throw CommandError(1, e.what());
        }
    }();

    OutWindow window(partitions);
    StatusPage status(config.queue, layout::BridgeDirection::out, config.group, config.stream, "");
    auto publish_status = [&] {
        const auto& c = window.counters();
        status.publish({.messages = c.published,
                        .pending_acks = window.in_flight(),
                        .held = window.held(),
                        .errors = c.publish_errors,
                        .redeliveries = c.resent,
                        .duplicates = c.duplicates},
                       session != nullptr && session->connected());
    };

    std::vector<std::string> subjects;
    for (uint32_t p = 0; p < partitions; ++p) subjects.push_back(make_subject(config.prefix, config.queue, p));

    std::vector<Message> batch(std::min<uint32_t>(config.window, 256));
    const Millis ack_wait(config.ack_wait_ms);
    const Millis extend_every(std::max<int64_t>(lease.count() / 3, 1));
    auto last_extend = Clock::now();
    auto retry_at = Clock::time_point::min();
    auto reconnect_at = Clock::time_point::min();
    // Per-partition order. JetStream stores what one connection carries to
    // one stream leader in order, so a loss is a suffix of what was sent and
    // re-sending from the first failure keeps order. Two things could let a
    // later message overtake a lost one, and both are closed here:
    //  - a new connection carrying something sent before the loss was known:
    //    a lost connection ends its session, every message it left
    //    unanswered counts as failed, and the next session starts empty;
    //  - a new stream leader storing a message sent after one the old leader
    //    lost. A follower waits at least 4 s (NATS raft's minimum election
    //    timeout) after the leader's last sign of life before it campaigns.
    //    Several messages are in flight at once only while the stream has
    //    answered one sent within `stall` and nothing in flight is older than
    //    `stall`; otherwise one message goes alone (a probe) and waits for
    //    its answer. Then a message sent at t is stored by a new leader no
    //    earlier than t - stall + 4 s, far beyond any message's transit.
    // A leader handing over on purpose (step-down, lame duck) can do so in
    // milliseconds: that case is only detected (order violations), not prevented.
    const Millis stall = std::min(Millis(config.ack_wait_ms / 4), Millis(500));
    Millis backoff(100);
    bool reported_failing = false;
    uint64_t published_at_failure = 0;
    std::string last_error;

    auto handle_answers = [&] {
        for (auto& a : inbox.take()) {
            const auto ref = parse_msg_id(a.position.empty() ? a.msg_id : a.position, config.queue, epoch);
            if (!ref) continue;  // not ours (untrusted input)
            if (a.stored) {
                window.on_stored(ref->partition, ref->offset, a.stream_seq, a.duplicate);
                retry_at = Clock::time_point::min();  // the stream answers: re-send without backing off
            } else {
                window.on_failed(ref->partition, ref->offset);
                last_error = a.error;
            }
        }
    };

    std::fprintf(stderr, "shmq bridge out: %s (group %s) -> stream %s, subjects %s.%s.p<partition>\n",
                 config.queue.c_str(), config.group.c_str(), config.stream.c_str(), config.prefix.c_str(),
                 config.queue.c_str());
    while (!stop_requested()) {
        auto now = Clock::now();
        handle_answers();
        if (session != nullptr && session->closed()) {
            // Everything the lost connection carried is given up on (answers
            // that came before are taken above); nothing of it is flushed later.
            take_back_pending(session->js());
            const auto n = window.fail_all_in_flight();
            if (n != 0) last_error = "the connection was lost with " + std::to_string(n) + " message(s) unanswered";
            const std::string discovered = session->discovered_urls();
            so.urls = config.urls + (discovered.empty() ? "" : "," + discovered);
            session.reset();
            std::fprintf(stderr, "shmq bridge: lost the NATS connection (%s); holding messages and reconnecting\n",
                         config.urls.c_str());
            reconnect_at = now;
        }
        if (session == nullptr && now >= reconnect_at) {
            try {
                session = std::make_unique<NatsSession>(so);
                std::fprintf(stderr, "shmq bridge: reconnected to NATS\n");
            } catch (const CommandError&) {
                reconnect_at = now + Millis(250);  // none answered: try again, as libnats would
            }
        }
        if (window.in_flight() != 0 && window.oldest_in_flight() + ack_wait < now) {
            if (session != nullptr) take_back_pending(session->js());
            const auto n = window.fail_all_in_flight();
            last_error = "no PubAck within " + std::to_string(config.ack_wait_ms) + " ms for " +
                         std::to_string(n) + " message(s)";
        }
        window.settle();

        if (window.failing()) {
            if (!reported_failing) {
                std::fprintf(stderr,
                             "shmq bridge out: publishing to stream %s failed (%s); holding %zu message(s) "
                             "leased and retrying\n",
                             config.stream.c_str(), last_error.c_str(), window.held());
                reported_failing = true;
                published_at_failure = window.counters().published;
                retry_at = now + backoff;
            }
        } else if (reported_failing && window.counters().published > published_at_failure) {
            std::fprintf(stderr, "shmq bridge out: publishing again (%zu message(s) held)\n", window.held());
            reported_failing = false;
            backoff = Millis(100);
        }

        const bool connected = session != nullptr && session->connected();
        const bool answered_lately = window.newest_answered_sent_at() + stall >= now &&
                                     (window.in_flight() == 0 || window.oldest_in_flight() + stall >= now);
        const std::size_t budget = answered_lately ? SIZE_MAX : (window.in_flight() == 0 ? 1 : 0);
        const bool may_send = connected && budget != 0 &&
                              (!window.failing() || (window.in_flight() == 0 && now >= retry_at));
        if (may_send) {
            const bool retry = window.failing();
            for (OutEntry* e : window.to_send(budget)) {
                std::string error;
                const uint32_t p = e->message.partition();
                if (!publish(session->js(), subjects[p], make_msg_id(config.queue, epoch, p, e->offset), *e,
                             config.ack_wait_ms, error)) {
                    window.mark_sent(*e, now);
                    window.on_failed(p, e->offset);
                    last_error = error;
                    break;  // the rest waits for the retry, in order
                }
                window.mark_sent(*e, now);
            }
            if (retry) {
                retry_at = now + backoff;
                backoff = std::min(backoff * 2, Millis(2000));
            }
        }

        if (!window.failing() && window.held() < config.window) {
            const std::size_t room = std::min<std::size_t>(batch.size(), config.window - window.held());
            const Millis wait = window.in_flight() != 0 ? Millis(1) : Millis(100);
            const BatchResult got = consumer.receive_batch(std::span(batch.data(), room), wait);
            if (!got.ok() && got.code() != Errc::timeout)
                throw CommandError(1, std::string("receive from queue '") + config.queue +
                                          "' failed: " + got.status.message());
            for (std::size_t i = 0; i < got.count; ++i) {
                const uint16_t redrives = redrives_of(*region, batch[i]);
                if (!window.add(std::move(batch[i]), redrives))
                    throw CommandError(1, "queue '" + config.queue + "' delivered a message of an unknown partition");
            }
        } else {
            std::this_thread::sleep_for(Millis(2));
        }

        now = Clock::now();
        if (now - last_extend >= extend_every) {
            window.extend_all(lease);
            last_extend = now;
        }
        publish_status();
    }

    // Stopping: wait a little for answers in flight, ACK what was stored; the
    // rest is NACKed as the window goes away and is redelivered (then deduplicated).
    const auto give_up = Clock::now() + std::min(ack_wait, Millis(5000));
    while (window.in_flight() != 0 && Clock::now() < give_up) {
        handle_answers();
        std::this_thread::sleep_for(Millis(5));
    }
    handle_answers();
    window.settle();
    publish_status();
    const auto& c = window.counters();
    std::fprintf(stderr,
                 "shmq bridge out: stopped; published %llu (%llu duplicates), %llu publish errors, %llu re-sent, "
                 "%llu ACKed locally, %llu order violations, %zu returned to the queue\n",
                 static_cast<unsigned long long>(c.published), static_cast<unsigned long long>(c.duplicates),
                 static_cast<unsigned long long>(c.publish_errors), static_cast<unsigned long long>(c.resent),
                 static_cast<unsigned long long>(c.acked), static_cast<unsigned long long>(c.order_violations),
                 window.held());
}

}  // namespace shmq::cli::bridge
