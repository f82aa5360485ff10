// A message's attribute block (layout.hpp, "Attribute block"): its routing
// key, headers and own TTL. Publisher::publish encodes one per publish (kept
// with its cached route), Producer::send one for a TTL; consumers, the
// expiry scans, `shmq dlq` and the C and Python bindings read it
// through parse() and header_at(), which never read outside the bytes they
// are given: every length is checked before use.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "shmq/internal/layout.hpp"
#include "shmq/shmq.hpp"

namespace shmq::attrs {

// An encoded block, ready to be copied in front of a payload.
struct Block {
    uint16_t size = 0;  // 0: no block (first: on the line of the block's first bytes)
    alignas(8) std::array<std::byte, layout::kMaxAttributeBlockBytes> bytes{};
    std::span<const std::byte> span() const noexcept { return {bytes.data(), size}; }
};

// Encodes (routing key, headers, ttl_ms) into `out`; false when they exceed
// the limits (routing key over 255 bytes, over 8 headers, a key not 1..32
// bytes, a value over 64). Nothing to carry (empty key, no headers, no
// TTL): true, out.size = 0.
inline bool encode(std::string_view routing_key, std::span<const MessageHeader> headers, Block& out,
                   uint32_t ttl_ms = 0) noexcept {
    out.size = 0;
    if (routing_key.size() > layout::kMaxRoutingKeyBytes || headers.size() > layout::kMaxAttributeHeaders) return false;
    for (const auto& h : headers)
        if (h.key.empty() || h.key.size() > layout::kMaxAttributeKeyBytes ||
            h.value.size() > layout::kMaxAttributeValueBytes)
            return false;
    if (routing_key.empty() && headers.empty() && ttl_ms == 0) return true;
    std::byte* p = out.bytes.data();
    std::size_t at = layout::kAttributeBlockHeaderBytes;
    if (ttl_ms != 0) {
        std::memcpy(p + at, &ttl_ms, layout::kAttributeTtlBytes);
        at += layout::kAttributeTtlBytes;
    }
    auto put = [&](std::string_view s) {
        if (!s.empty()) std::memcpy(p + at, s.data(), s.size());  // an empty view's data() may be null
        at += s.size();
    };
    put(routing_key);
    for (const auto& h : headers) {
        p[at++] = static_cast<std::byte>(h.key.size());
        p[at++] = static_cast<std::byte>(h.value.size());
        put(h.key);
        put(h.value);
    }
    const std::size_t len = (at + 7) & ~std::size_t{7};
    std::memset(p + at, 0, len - at);
    const auto block_len = static_cast<uint16_t>(len);
    std::memcpy(p, &block_len, 2);
    p[2] = static_cast<std::byte>(routing_key.size());
    p[3] = static_cast<std::byte>(headers.size() | (ttl_ms != 0 ? layout::kAttributeHasTtl : 0));
    out.size = block_len;
    return true;
}

// A checked block: what parse() found in bytes it was given.
struct View {
    const std::byte* block = nullptr;  // null: no attributes
    uint16_t block_len = 0;            // bytes of the block; the user payload follows
    uint8_t routing_key_len = 0;       // as parse() read them: never read again
    uint8_t header_count = 0;
    uint8_t fields_at = 0;             // where the routing key begins (after the TTL, if any)
    uint32_t ttl_ms = 0;               // the message's own TTL; 0: none
    std::string_view routing_key() const noexcept {
        return block == nullptr ? std::string_view{}
                                : std::string_view(reinterpret_cast<const char*>(block) + fields_at, routing_key_len);
    }
};

// Checks the block at the start of `stored` (a slot's payload_len bytes, at
// most the queue's max_message): block_len a multiple of 8 within `stored`,
// the count at most 8 and no unknown bit beside it, a TTL not 0, each length
// within its limit and within block_len,
// and the fields ending exactly where the padding to block_len begins.
// False (out untouched) when malformed: the caller reports it, never reads it.
// Reads each byte of `stored` at most once per field: bytes that change under
// the reader (a lost lease) give a wrong answer, never a read out of bounds.
inline bool parse(std::span<const std::byte> stored, View& out) noexcept {
    if (stored.size() < layout::kAttributeBlockHeaderBytes) return false;
    uint16_t block_len;
    std::memcpy(&block_len, stored.data(), 2);
    if (block_len % 8 != 0 || block_len < layout::kAttributeBlockHeaderBytes || block_len > stored.size() ||
        block_len > layout::kMaxAttributeBlockBytes)
        return false;
    const auto rk_len = static_cast<uint8_t>(stored[2]);
    const auto count_byte = static_cast<uint8_t>(stored[3]);
    const auto count = static_cast<uint8_t>(count_byte & layout::kAttributeCountMask);
    if (count > layout::kMaxAttributeHeaders ||
        (count_byte & ~(layout::kAttributeCountMask | layout::kAttributeHasTtl)) != 0)
        return false;
    std::size_t fields_at = layout::kAttributeBlockHeaderBytes;
    uint32_t ttl_ms = 0;
    if ((count_byte & layout::kAttributeHasTtl) != 0) {
        if (fields_at + layout::kAttributeTtlBytes > block_len) return false;
        std::memcpy(&ttl_ms, stored.data() + fields_at, layout::kAttributeTtlBytes);
        if (ttl_ms == 0) return false;
        fields_at += layout::kAttributeTtlBytes;
    }
    std::size_t at = fields_at + rk_len;
    if (at > block_len) return false;
    for (uint8_t i = 0; i < count; ++i) {
        if (at + 2 > block_len) return false;
        const auto kl = static_cast<uint8_t>(stored[at]);
        const auto vl = static_cast<uint8_t>(stored[at + 1]);
        if (kl == 0 || kl > layout::kMaxAttributeKeyBytes || vl > layout::kMaxAttributeValueBytes) return false;
        at += 2u + kl + vl;
        if (at > block_len) return false;
    }
    if (((at + 7) & ~std::size_t{7}) != block_len) return false;
    out.block = stored.data();
    out.block_len = block_len;
    out.routing_key_len = rk_len;
    out.header_count = count;
    out.fields_at = static_cast<uint8_t>(fields_at);
    out.ttl_ms = ttl_ms;
    return true;
}

// Header i (< header_count) of a parsed block, re-walked within block_len
// (the bytes may have changed since parse(): each step is bounded again).
// False when i is out of range or the walk leaves the block.
inline bool header_at(const View& v, std::size_t i, std::string_view& key, std::string_view& value) noexcept {
    if (v.block == nullptr || i >= v.header_count) return false;
    const auto* b = reinterpret_cast<const char*>(v.block);
    std::size_t at = std::size_t{v.fields_at} + v.routing_key_len;  // <= block_len: parse() checked
    for (std::size_t k = 0;; ++k) {
        if (at + 2 > v.block_len) return false;
        const auto kl = static_cast<uint8_t>(b[at]);
        const auto vl = static_cast<uint8_t>(b[at + 1]);
        if (at + 2u + kl + vl > v.block_len) return false;
        if (k == i) {
            key = std::string_view(b + at + 2, kl);
            value = std::string_view(b + at + 2 + kl, vl);
            return true;
        }
        at += 2u + kl + vl;
    }
}

// The first header named `key`; false when none.
inline bool find_header(const View& v, std::string_view key, std::string_view& value) noexcept {
    std::string_view k;
    for (std::size_t i = 0; i < v.header_count; ++i)
        if (header_at(v, i, k, value) && k == key) return true;
    return false;
}

}  // namespace shmq::attrs
