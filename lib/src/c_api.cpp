// The C API (shmq/shmq.h): each function wraps the C++ API, catches every
// exception, and turns it into a status code plus a thread-local detail line.
#include "shmq/shmq.h"

#include "shmq/shmq.hpp"

#include "c_api_status.hpp"

#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <utility>

// The handles: a C++ object behind each opaque pointer, nothing else.
struct shmq_producer {
    shmq::Producer producer;
};
struct shmq_consumer {
    shmq::Consumer consumer;
};
struct shmq_message {
    shmq::Message message;
};

using namespace shmq::capi;

extern "C" {

const char* shmq_strerror(int code) SHMQ_NOEXCEPT {
    if (code <= 0 && code >= SHMQ_ERR_NO_RESOURCES) return shmq::to_string(static_cast<shmq::Errc>(-code));
    switch (code) {
        case SHMQ_ERR_NOT_FOUND: return "no such queue";
        case SHMQ_ERR_EXISTS: return "queue already exists";
        case SHMQ_ERR_NO_MEMORY: return "out of memory";
        case SHMQ_ERR_INTERNAL: return "internal error in shmq";
        case SHMQ_ERR_PERMISSION_DENIED: return "permission denied";
        case SHMQ_ERR_WRITER_BUSY: return "the partition has an exclusive producer";
        case SHMQ_ERR_UNROUTABLE: return shmq::to_string(shmq::Errc::unroutable);
        default: return "unknown shmq status";
    }
}

const char* shmq_last_error_message(void) SHMQ_NOEXCEPT { return last_error.use_text ? last_error.text.c_str() : last_error.fixed; }

int shmq_queue_create_delayed(const char* name, const shmq_queue_options* options, uint32_t delay_capacity) SHMQ_NOEXCEPT {
    if (!name) return bad_argument("shmq_queue_create: name is NULL");
    try {
        shmq::QueueOptions o;
        if (options && options->partitions) o.partitions = options->partitions;
        if (options && options->capacity) o.capacity = options->capacity;
        if (options && options->max_message) o.max_message = options->max_message;
        o.delay_capacity = delay_capacity;
        (void)shmq::Queue::create(name, o);  // the region persists; this process detaches
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_queue_create(const char* name, const shmq_queue_options* options) SHMQ_NOEXCEPT {
    return shmq_queue_create_delayed(name, options, 0);
}

int shmq_queue_remove(const char* name) SHMQ_NOEXCEPT {
    if (!name) return bad_argument("shmq_queue_remove: name is NULL");
    try {
        shmq::Queue::remove(name);
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

namespace {
// The messages are static strings (bad_argument keeps the pointer).
int open_producer(const char* queue, shmq_producer** out, shmq::WriterMode writer, const char* out_null,
                  const char* queue_null) noexcept {
    if (!out) return bad_argument(out_null);
    *out = nullptr;
    if (!queue) return bad_argument(queue_null);
    try {
        // The producer holds the region; the Queue handle can go.
        *out = new shmq_producer{shmq::Queue::open(queue).producer({.writer = writer})};
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}
}  // namespace

int shmq_producer_open(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT {
    return open_producer(queue, out, shmq::WriterMode::automatic, "shmq_producer_open: out is NULL",
                         "shmq_producer_open: queue is NULL");
}

int shmq_producer_open_shared(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT {
    return open_producer(queue, out, shmq::WriterMode::shared, "shmq_producer_open_shared: out is NULL",
                         "shmq_producer_open_shared: queue is NULL");
}

int shmq_producer_open_exclusive(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT {
    return open_producer(queue, out, shmq::WriterMode::exclusive, "shmq_producer_open_exclusive: out is NULL",
                         "shmq_producer_open_exclusive: queue is NULL");
}

int shmq_producer_send(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                       int64_t timeout_ms) SHMQ_NOEXCEPT {
    if (!producer) return bad_argument("shmq_producer_send: producer is NULL");
    if (!data && size) return bad_argument("shmq_producer_send: data is NULL but size is not 0");
    if (!key && key_size) return bad_argument("shmq_producer_send: key is NULL but key_size is not 0");
    shmq::SendOptions o;
    if (key) o.key = std::string_view(key, key_size);
    o.timeout = to_millis(timeout_ms);
    return done(producer->producer.send({static_cast<const std::byte*>(data), size}, o));
}

int shmq_producer_send_dedup(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                             const char* dedup_id, size_t dedup_id_size, int64_t timeout_ms, int* duplicate) SHMQ_NOEXCEPT {
    if (duplicate) *duplicate = 0;
    if (!producer) return bad_argument("shmq_producer_send_dedup: producer is NULL");
    if (!data && size) return bad_argument("shmq_producer_send_dedup: data is NULL but size is not 0");
    if (!key && key_size) return bad_argument("shmq_producer_send_dedup: key is NULL but key_size is not 0");
    if (!dedup_id && dedup_id_size) return bad_argument("shmq_producer_send_dedup: dedup_id is NULL but its size is not 0");
    if (dedup_id_size > shmq::kMaxDedupIdBytes)
        return bad_argument("shmq_producer_send_dedup: dedup_id is longer than 128 bytes; shorten it or send its hash");
    shmq::SendOptions o;
    if (key) o.key = std::string_view(key, key_size);
    if (dedup_id) o.dedup_id = std::string_view(dedup_id, dedup_id_size);
    o.timeout = to_millis(timeout_ms);
    shmq::SendOutcome outcome;
    const shmq::Status st = producer->producer.send({static_cast<const std::byte*>(data), size}, o, outcome);
    if (st.ok() && duplicate) *duplicate = outcome.duplicate ? 1 : 0;
    return done(st);
}

int shmq_producer_send_ttl(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                           uint32_t ttl_ms, int64_t timeout_ms) SHMQ_NOEXCEPT {
    if (!producer) return bad_argument("shmq_producer_send_ttl: producer is NULL");
    if (!data && size) return bad_argument("shmq_producer_send_ttl: data is NULL but size is not 0");
    if (!key && key_size) return bad_argument("shmq_producer_send_ttl: key is NULL but key_size is not 0");
    if (ttl_ms == 0) return bad_argument("shmq_producer_send_ttl: ttl_ms is 0; use shmq_producer_send for no TTL of its own");
    shmq::SendOptions o;
    if (key) o.key = std::string_view(key, key_size);
    o.ttl = shmq::Millis(ttl_ms);
    o.timeout = to_millis(timeout_ms);
    return done(producer->producer.send({static_cast<const std::byte*>(data), size}, o));
}

int shmq_producer_send_delayed(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                               int64_t delay_ms) SHMQ_NOEXCEPT {
    if (!producer) return bad_argument("shmq_producer_send_delayed: producer is NULL");
    if (!data && size) return bad_argument("shmq_producer_send_delayed: data is NULL but size is not 0");
    if (!key && key_size) return bad_argument("shmq_producer_send_delayed: key is NULL but key_size is not 0");
    if (delay_ms < 0) return bad_argument("shmq_producer_send_delayed: delay_ms is negative; pass 0 for no delay");
    shmq::SendOptions o;
    if (key) o.key = std::string_view(key, key_size);
    o.delay = shmq::Millis(delay_ms);
    const shmq::Status st = producer->producer.send({static_cast<const std::byte*>(data), size}, o);
    if (st.code() == shmq::Errc::invalid_argument && delay_ms > 0)
        return bad_argument("shmq_producer_send_delayed: the queue has no delay store; create it with a delay "
                            "capacity (shmq_queue_create_delayed, `shmq create --delay-capacity N`)");
    return done(st);
}

int shmq_producer_close(shmq_producer* producer) SHMQ_NOEXCEPT {
    delete producer;  // ~Producer is noexcept
    return SHMQ_OK;
}

int shmq_consumer_open(const char* queue, const char* group, shmq_group_kind kind, shmq_consumer** out) SHMQ_NOEXCEPT {
    if (!out) return bad_argument("shmq_consumer_open: out is NULL");
    *out = nullptr;
    if (!queue) return bad_argument("shmq_consumer_open: queue is NULL");
    if (!group) return bad_argument("shmq_consumer_open: group is NULL");
    if (kind != SHMQ_GROUP_EXCLUSIVE && kind != SHMQ_GROUP_SHARED && kind != SHMQ_GROUP_KEYED)
        return bad_argument("shmq_consumer_open: kind is none of SHMQ_GROUP_EXCLUSIVE, SHMQ_GROUP_SHARED, SHMQ_GROUP_KEYED");
    try {
        shmq::ConsumerOptions o;
        o.kind = static_cast<shmq::GroupKind>(kind);  // the C values are GroupKind's (static_asserts below)
        // The consumer holds the region; the Queue handle can go.
        *out = new shmq_consumer{shmq::Queue::open(queue).consumer(group, o)};
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_consumer_receive(shmq_consumer* consumer, int64_t timeout_ms, shmq_message** out) SHMQ_NOEXCEPT {
    if (!out) return bad_argument("shmq_consumer_receive: out is NULL");
    *out = nullptr;
    if (!consumer) return bad_argument("shmq_consumer_receive: consumer is NULL");
    auto r = consumer->consumer.receive(to_millis(timeout_ms));
    if (!r) return fail_status(r.status());
    // On bad_alloc the received message is dropped unsettled, so it is NACKed.
    *out = new (std::nothrow) shmq_message{std::move(*r)};
    if (!*out) return fail_static(SHMQ_ERR_NO_MEMORY, "shmq_consumer_receive: out of memory (the message was NACKed)");
    return SHMQ_OK;
}

int shmq_consumer_close(shmq_consumer* consumer) SHMQ_NOEXCEPT {
    delete consumer;  // ~Consumer is noexcept; open messages keep the core alive
    return SHMQ_OK;
}

const void* shmq_message_data(const shmq_message* message) SHMQ_NOEXCEPT {
    return message ? message->message.data().data() : nullptr;
}
size_t shmq_message_size(const shmq_message* message) SHMQ_NOEXCEPT { return message ? message->message.data().size() : 0; }

const char* shmq_message_key(const shmq_message* message, size_t* key_size) SHMQ_NOEXCEPT {
    const std::string_view key = message ? message->message.key() : std::string_view();
    if (key_size) *key_size = key.size();
    return key.empty() ? nullptr : key.data();
}

const char* shmq_message_dedup_id(const shmq_message* message, size_t* size) SHMQ_NOEXCEPT {
    const std::string_view id = message ? message->message.dedup_id() : std::string_view();
    if (size) *size = id.size();
    return id.empty() ? nullptr : id.data();
}

const char* shmq_message_routing_key(const shmq_message* message, size_t* size) SHMQ_NOEXCEPT {
    const std::string_view rk = message ? message->message.routing_key() : std::string_view();
    if (size) *size = rk.size();
    return rk.empty() ? nullptr : rk.data();
}

int shmq_message_header(const shmq_message* message, const char* key, size_t key_size, const char** value,
                        size_t* value_size) SHMQ_NOEXCEPT {
    std::optional<std::string_view> v;
    if (message && (key || key_size == 0)) v = message->message.header(std::string_view(key ? key : "", key_size));
    if (value) *value = v ? v->data() : nullptr;
    if (value_size) *value_size = v ? v->size() : 0;
    return v ? 1 : 0;
}

size_t shmq_message_header_count(const shmq_message* message) SHMQ_NOEXCEPT {
    return message ? message->message.header_count() : 0;
}

int shmq_message_header_at(const shmq_message* message, size_t i, const char** key, size_t* key_size,
                           const char** value, size_t* value_size) SHMQ_NOEXCEPT {
    if (!message) return bad_argument("shmq_message_header_at: message is NULL");
    if (i >= message->message.header_count())
        return bad_argument("shmq_message_header_at: index at or beyond shmq_message_header_count");
    const auto [k, v] = message->message.header_at(i);
    if (key) *key = k.data();
    if (key_size) *key_size = k.size();
    if (value) *value = v.data();
    if (value_size) *value_size = v.size();
    return SHMQ_OK;
}

int shmq_message_attributes_malformed(const shmq_message* message) SHMQ_NOEXCEPT {
    return message && message->message.attributes_malformed() ? 1 : 0;
}

uint32_t shmq_message_partition(const shmq_message* message) SHMQ_NOEXCEPT { return message ? message->message.partition() : 0; }
uint64_t shmq_message_offset(const shmq_message* message) SHMQ_NOEXCEPT { return message ? message->message.offset() : 0; }
uint32_t shmq_message_deliveries(const shmq_message* message) SHMQ_NOEXCEPT { return message ? message->message.deliveries() : 0; }

int shmq_message_ack(shmq_message* message) SHMQ_NOEXCEPT {
    if (!message) return bad_argument("shmq_message_ack: message is NULL");
    return done(message->message.ack());
}

int shmq_message_nack(shmq_message* message, int64_t delay_ms) SHMQ_NOEXCEPT {
    if (!message) return bad_argument("shmq_message_nack: message is NULL");
    if (delay_ms < 0) return bad_argument("shmq_message_nack: delay_ms is negative");
    return done(message->message.nack(shmq::Millis(delay_ms)));
}

int shmq_message_close(shmq_message* message) SHMQ_NOEXCEPT {
    delete message;  // ~Message NACKs an unsettled message; noexcept
    return SHMQ_OK;
}

}  // extern "C"

static_assert(static_cast<int>(shmq::GroupKind::exclusive) == SHMQ_GROUP_EXCLUSIVE &&
              static_cast<int>(shmq::GroupKind::shared) == SHMQ_GROUP_SHARED &&
              static_cast<int>(shmq::GroupKind::keyed) == SHMQ_GROUP_KEYED);
