#include "bindings.hpp"

#include <cstring>

#include "exchange_common.hpp"
#include "shmq/internal/names.hpp"

namespace shmq::detail {

namespace xl = xlayout;

std::optional<std::string> check_binding(xl::ExchangeType type, const Binding& b) {
    const char* what = b.kind == xl::DestKind::exchange ? "destination exchange" : "queue";
    if (auto err = check_name(b.dest, what)) return err;
    if (auto err = check_key(b.key, "the binding key")) return err;
    if (type == xl::ExchangeType::headers) {
        if (b.match != xl::HeaderMatch::all && b.match != xl::HeaderMatch::any)
            return std::string("a headers exchange's binding needs --match all or --match any");
        if (auto err = check_headers(b.headers, "the binding")) return err;
    } else if (b.match != xl::HeaderMatch::none || !b.headers.empty()) {
        return std::string("--match and --header apply to headers exchanges only; this one is of type ") +
               to_string(type);
    }
    return std::nullopt;
}

bool binding_matches(xl::ExchangeType type, const Binding& b, std::string_view routing_key,
                     std::span<const HeaderKV> headers) noexcept {
    switch (type) {
        case xl::ExchangeType::direct: return direct_matches(b.key, routing_key);
        case xl::ExchangeType::topic: return topic_matches(b.key, routing_key);
        case xl::ExchangeType::fanout: return true;
        case xl::ExchangeType::headers: return headers_match(b.match, b.headers, headers);
    }
    return false;
}

// ---------------------------------------------------------------------------

namespace exchange {

void encode_binding(const Binding& b, xl::BindingEntry& e) noexcept {
    std::memset(&e, 0, sizeof e);
    e.dest_kind = static_cast<uint8_t>(b.kind);
    e.match = static_cast<uint8_t>(b.match);
    e.header_count = static_cast<uint8_t>(b.headers.size());
    e.dest_len = static_cast<uint8_t>(b.dest.size());
    e.key_len = static_cast<uint16_t>(b.key.size());
    std::memcpy(e.dest, b.dest.data(), b.dest.size());
    std::memcpy(e.key, b.key.data(), b.key.size());
    for (std::size_t h = 0; h < b.headers.size(); ++h) {
        auto& p = e.headers[h];
        p.key_len = static_cast<uint8_t>(b.headers[h].key.size());
        p.value_len = static_cast<uint8_t>(b.headers[h].value.size());
        std::memcpy(p.key, b.headers[h].key.data(), p.key_len);
        std::memcpy(p.value, b.headers[h].value.data(), p.value_len);
    }
}

std::optional<std::string> decode_binding(xl::ExchangeType type, const xl::BindingEntry& e, Binding& b) {
    if (e.dest_kind != static_cast<uint8_t>(xl::DestKind::queue) &&
        e.dest_kind != static_cast<uint8_t>(xl::DestKind::exchange))
        return "destination kind " + std::to_string(e.dest_kind);
    if (e.dest_len == 0 || e.dest_len > xl::kNameBytes) return "destination length " + std::to_string(e.dest_len);
    if (e.key_len > xl::kMaxKeyBytes) return "key length " + std::to_string(e.key_len);
    if (e.header_count > xl::kMaxHeaders) return "header count " + std::to_string(e.header_count);
    if (e.match > static_cast<uint8_t>(xl::HeaderMatch::any)) return "match " + std::to_string(e.match);
    b.kind = static_cast<xl::DestKind>(e.dest_kind);
    b.dest = text_of(e.dest, e.dest_len);
    b.key = text_of(e.key, e.key_len);
    b.match = static_cast<xl::HeaderMatch>(e.match);
    b.headers.clear();
    for (uint32_t h = 0; h < e.header_count; ++h) {
        const auto& p = e.headers[h];
        if (p.key_len == 0 || p.key_len > xl::kHeaderKeyBytes || p.value_len > xl::kHeaderValueBytes)
            return "header " + std::to_string(h) + " lengths " + std::to_string(p.key_len) + "/" +
                   std::to_string(p.value_len);
        b.headers.push_back({text_of(p.key, p.key_len), text_of(p.value, p.value_len)});
    }
    if (auto err = check_binding(type, b)) return *err;
    return std::nullopt;
}

}  // namespace exchange

}  // namespace shmq::detail
