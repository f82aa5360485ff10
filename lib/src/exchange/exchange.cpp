// shmq::Exchange: the public face of exchange_table.hpp.
#include "shmq/internal/exchange_table.hpp"

namespace shmq {

namespace {

namespace xl = xlayout;

// The public enums are stored as their byte values.
static_assert(static_cast<uint8_t>(ExchangeType::direct) == static_cast<uint8_t>(xl::ExchangeType::direct) &&
              static_cast<uint8_t>(ExchangeType::topic) == static_cast<uint8_t>(xl::ExchangeType::topic) &&
              static_cast<uint8_t>(ExchangeType::fanout) == static_cast<uint8_t>(xl::ExchangeType::fanout) &&
              static_cast<uint8_t>(ExchangeType::headers) == static_cast<uint8_t>(xl::ExchangeType::headers));
static_assert(static_cast<uint8_t>(HeaderMatch::all) == static_cast<uint8_t>(xl::HeaderMatch::all) &&
              static_cast<uint8_t>(HeaderMatch::any) == static_cast<uint8_t>(xl::HeaderMatch::any));

std::vector<detail::HeaderKV> to_pairs(std::span<const MessageHeader> headers) {
    std::vector<detail::HeaderKV> out;
    out.reserve(headers.size());
    for (const auto& h : headers) out.push_back({h.key, h.value});
    return out;
}

detail::Binding binding(xl::DestKind kind, std::string_view dest, std::string_view key) {
    return detail::Binding{kind, std::string(dest), std::string(key), xl::HeaderMatch::none, {}};
}

}  // namespace

Exchange::Exchange(std::shared_ptr<detail::ExchangeTable> table) noexcept : table_(std::move(table)) {}
Exchange::Exchange(Exchange&&) noexcept = default;
Exchange& Exchange::operator=(Exchange&&) noexcept = default;
Exchange::~Exchange() = default;

Exchange Exchange::create(std::string_view name, ExchangeType type, std::string_view alternate_queue) {
    return Exchange(detail::ExchangeTable::create(name, static_cast<xl::ExchangeType>(type), alternate_queue));
}
Exchange Exchange::open(std::string_view name) { return Exchange(detail::ExchangeTable::open(name, true)); }
void Exchange::remove(std::string_view name) { detail::ExchangeTable::remove(name); }
bool Exchange::exists(std::string_view name) { return detail::ExchangeTable::exists(name); }

uint64_t Exchange::bind(std::string_view queue, std::string_view key) {
    return table_->bind(binding(xl::DestKind::queue, queue, key)).version;
}
uint64_t Exchange::bind_headers(std::string_view queue, HeaderMatch match, std::span<const MessageHeader> headers) {
    auto b = binding(xl::DestKind::queue, queue, {});
    b.match = static_cast<xl::HeaderMatch>(match);
    b.headers = to_pairs(headers);
    return table_->bind(b).version;
}
uint64_t Exchange::bind_exchange(std::string_view exchange, std::string_view key) {
    return table_->bind(binding(xl::DestKind::exchange, exchange, key)).version;
}
uint64_t Exchange::unbind(std::string_view queue, std::string_view key) {
    return table_->unbind(xl::DestKind::queue, queue, key);
}
uint64_t Exchange::unbind_exchange(std::string_view exchange, std::string_view key) {
    return table_->unbind(xl::DestKind::exchange, exchange, key);
}

Status Exchange::route(std::string_view routing_key, std::span<const MessageHeader> headers, RouteInfo& out) const {
    detail::RouteResult r;
    Errc rc = Errc::ok;
    try {  // route() itself does not throw; building the pairs and the environment may (bad_alloc)
        const auto pairs = to_pairs(headers);
        rc = detail::route(*table_, routing_key, pairs, detail::default_route_env(), r);
    } catch (const std::bad_alloc&) {
        return Errc::no_resources;
    }
    if (rc != Errc::ok) return rc;
    out.queues = std::move(r.queues);
    out.matched = r.matched;
    out.unroutable = r.unroutable;
    out.to_alternate = r.to_alternate;
    out.skipped = std::move(r.skipped);
    out.version = r.version;
    return Errc::ok;
}

const std::string& Exchange::name() const noexcept { return table_->name(); }
ExchangeType Exchange::type() const noexcept { return static_cast<ExchangeType>(table_->type()); }

}  // namespace shmq
