// The C API of exchanges (shmq/shmq.h): shmq::Exchange behind plain
// functions, every exception turned into a status code and a detail line.
#include <cstring>
#include <string>
#include <vector>

#include "c_api_status.hpp"
#include "shmq/shmq.h"
#include "shmq/shmq.hpp"

using namespace shmq::capi;

struct shmq_publisher {
    shmq::Publisher publisher;
};

namespace {

std::string_view or_empty(const char* s) noexcept { return s ? std::string_view(s) : std::string_view(); }

// The C headers as the C++ API's; invalid_argument (thrown) for a NULL key or value.
std::vector<shmq::MessageHeader> to_headers(const shmq_header* headers, size_t count) {
    std::vector<shmq::MessageHeader> out;
    if (count != 0 && headers == nullptr)
        throw shmq::Error(shmq::Errc::invalid_argument, "shmq_exchange: headers is NULL with a count above 0");
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        if (!headers[i].key || !headers[i].value)
            throw shmq::Error(shmq::Errc::invalid_argument, "shmq_exchange: header " + std::to_string(i) +
                                                                " has a NULL key or value");
        out.push_back({headers[i].key, headers[i].value});
    }
    return out;
}

// Opens `exchange` and runs `change` (a bind or unbind returning the version).
template <class Change>
int change_table(const char* exchange, const char* what_null, uint64_t* version, Change change) noexcept {
    if (!exchange) return bad_argument(what_null);
    try {
        auto x = shmq::Exchange::open(exchange);
        const uint64_t v = change(x);
        if (version) *version = v;
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

}  // namespace

extern "C" {

int shmq_exchange_create(const char* name, shmq_exchange_type type, const char* alternate) SHMQ_NOEXCEPT {
    if (!name) return bad_argument("shmq_exchange_create: name is NULL");
    if (type < SHMQ_EXCHANGE_DIRECT || type > SHMQ_EXCHANGE_HEADERS)
        return bad_argument("shmq_exchange_create: type is not one of SHMQ_EXCHANGE_DIRECT..SHMQ_EXCHANGE_HEADERS");
    try {
        (void)shmq::Exchange::create(name, static_cast<shmq::ExchangeType>(type), or_empty(alternate));
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_exchange_remove(const char* name) SHMQ_NOEXCEPT {
    if (!name) return bad_argument("shmq_exchange_remove: name is NULL");
    try {
        shmq::Exchange::remove(name);
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_exchange_bind(const char* exchange, const char* queue, const char* key, uint64_t* version) SHMQ_NOEXCEPT {
    if (!queue) return bad_argument("shmq_exchange_bind: queue is NULL");
    return change_table(exchange, "shmq_exchange_bind: exchange is NULL", version,
                        [&](shmq::Exchange& x) { return x.bind(queue, or_empty(key)); });
}

int shmq_exchange_bind_headers(const char* exchange, const char* queue, shmq_header_match match,
                               const shmq_header* headers, size_t count, uint64_t* version) SHMQ_NOEXCEPT {
    if (!queue) return bad_argument("shmq_exchange_bind_headers: queue is NULL");
    if (match != SHMQ_MATCH_ALL && match != SHMQ_MATCH_ANY)
        return bad_argument("shmq_exchange_bind_headers: match is neither SHMQ_MATCH_ALL nor SHMQ_MATCH_ANY");
    return change_table(exchange, "shmq_exchange_bind_headers: exchange is NULL", version, [&](shmq::Exchange& x) {
        const auto h = to_headers(headers, count);
        return x.bind_headers(queue, static_cast<shmq::HeaderMatch>(match), h);
    });
}

int shmq_exchange_bind_exchange(const char* exchange, const char* destination, const char* key,
                                uint64_t* version) SHMQ_NOEXCEPT {
    if (!destination) return bad_argument("shmq_exchange_bind_exchange: destination is NULL");
    return change_table(exchange, "shmq_exchange_bind_exchange: exchange is NULL", version,
                        [&](shmq::Exchange& x) { return x.bind_exchange(destination, or_empty(key)); });
}

int shmq_exchange_unbind(const char* exchange, const char* queue, const char* key, uint64_t* version) SHMQ_NOEXCEPT {
    if (!queue) return bad_argument("shmq_exchange_unbind: queue is NULL");
    return change_table(exchange, "shmq_exchange_unbind: exchange is NULL", version,
                        [&](shmq::Exchange& x) { return x.unbind(queue, or_empty(key)); });
}

int shmq_exchange_unbind_exchange(const char* exchange, const char* destination, const char* key,
                                  uint64_t* version) SHMQ_NOEXCEPT {
    if (!destination) return bad_argument("shmq_exchange_unbind_exchange: destination is NULL");
    return change_table(exchange, "shmq_exchange_unbind_exchange: exchange is NULL", version,
                        [&](shmq::Exchange& x) { return x.unbind_exchange(destination, or_empty(key)); });
}

int shmq_exchange_route(const char* exchange, const char* routing_key, const shmq_header* headers, size_t count,
                        shmq_route_info* out, char* queue_names, size_t names_size) SHMQ_NOEXCEPT {
    if (!exchange) return bad_argument("shmq_exchange_route: exchange is NULL");
    if (!out) return bad_argument("shmq_exchange_route: out is NULL");
    try {
        const auto x = shmq::Exchange::open(exchange);
        const auto h = to_headers(headers, count);
        shmq::RouteInfo info;
        if (shmq::Status st = x.route(or_empty(routing_key), h, info); !st) return fail_status(st);
        if (queue_names) {
            size_t need = 0;
            for (const auto& q : info.queues) need += q.size() + 1;
            if (need > names_size)
                return fail_text(SHMQ_ERR_NO_RESOURCES, "shmq_exchange_route: the queues' names need " +
                                                            std::to_string(need) + " bytes, names_size is " +
                                                            std::to_string(names_size));
            for (const auto& q : info.queues) {
                std::memcpy(queue_names, q.c_str(), q.size() + 1);
                queue_names += q.size() + 1;
            }
        }
        *out = shmq_route_info{info.version, info.queues.size(), info.matched, info.skipped.size(),
                               info.unroutable ? 1 : 0, info.to_alternate ? 1 : 0};
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_publisher_open(const char* exchange, shmq_publisher** out) SHMQ_NOEXCEPT {
    if (!out) return bad_argument("shmq_publisher_open: out is NULL");
    *out = nullptr;
    if (!exchange) return bad_argument("shmq_publisher_open: exchange is NULL");
    try {
        *out = new shmq_publisher{shmq::Publisher::open(exchange)};
        return SHMQ_OK;
    } catch (...) {
        return fail_current_exception();
    }
}

int shmq_publisher_close(shmq_publisher* publisher) SHMQ_NOEXCEPT {
    delete publisher;
    return SHMQ_OK;
}

int shmq_publisher_publish(shmq_publisher* publisher, const void* data, size_t size, const char* routing_key,
                           const char* key, const shmq_header* headers, size_t count, int64_t timeout_ms,
                           shmq_publish_outcome* outcome) SHMQ_NOEXCEPT {
    if (outcome) *outcome = shmq_publish_outcome{0, 0, 0};
    if (!publisher) return bad_argument("shmq_publisher_publish: publisher is NULL");
    if (!data && size) return bad_argument("shmq_publisher_publish: data is NULL but size is not 0");
    try {
        const auto h = to_headers(headers, count);  // no allocation when count is 0
        shmq::PublishOptions o;
        o.routing_key = or_empty(routing_key);
        o.key = or_empty(key);
        o.headers = h;
        o.timeout = to_millis(timeout_ms);
        shmq::PublishOutcome done_how;
        const shmq::Status st = publisher->publisher.publish({static_cast<const std::byte*>(data), size}, o, done_how);
        if (outcome) *outcome = shmq_publish_outcome{done_how.queues, done_how.table_version, done_how.to_alternate ? 1 : 0};
        return done(st);
    } catch (...) {
        return fail_current_exception();
    }
}

}  // extern "C"
