#include "photo.hpp"

#include <charconv>
#include <cstring>

namespace photo_pipeline {

namespace {

uint64_t mix(uint64_t x) noexcept {  // splitmix64 finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Parses "<name>=<number>" at the front of `text` and removes it (and one space).
bool take_field(std::string_view& text, std::string_view name, uint64_t& out, int base) noexcept {
    if (!text.starts_with(name) || text.size() <= name.size() || text[name.size()] != '=') return false;
    text.remove_prefix(name.size() + 1);
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, out, base);
    if (ec != std::errc() || p == text.data()) return false;
    text.remove_prefix(static_cast<std::size_t>(p - text.data()));
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return true;
}

}  // namespace

uint64_t photo_sum(uint64_t id, uint64_t bytes) noexcept { return mix(id * 0x9e3779b97f4a7c15ull ^ bytes); }

Photo make_photo(uint64_t id, bool corrupt) noexcept {
    Photo p;
    p.id = id;
    p.bytes = (1u << 20) + mix(id) % (3u << 20);
    p.sum = photo_sum(id, p.bytes) ^ (corrupt ? 1u : 0u);
    return p;
}

std::string encode(const Photo& p) {
    std::string out;
    out.reserve(64);
    auto put = [&](const char* name, uint64_t v, int base) {
        char buf[24];
        out += name;
        out.append(buf, std::to_chars(buf, buf + sizeof buf, v, base).ptr);  // 24 chars hold any 64-bit value
    };
    put("photo=", p.id, 10);
    put(" bytes=", p.bytes, 10);
    put(" sum=", p.sum, 16);
    put(" sent=", p.sent_unix_ns, 10);
    return out;
}

std::optional<Photo> decode(std::string_view text) noexcept {
    Photo p;
    if (!take_field(text, "photo", p.id, 10) || !take_field(text, "bytes", p.bytes, 10) ||
        !take_field(text, "sum", p.sum, 16) || !take_field(text, "sent", p.sent_unix_ns, 10) || !text.empty())
        return std::nullopt;
    return p;
}

std::vector<uint64_t> corrupt_ids(uint64_t photos, uint64_t corrupt) {
    std::vector<uint64_t> ids;
    // Distinct and >= 1 when corrupt < photos (the step photos/(corrupt+1) is >= 1).
    for (uint64_t i = 1; i <= corrupt && corrupt < photos; ++i) ids.push_back(i * photos / (corrupt + 1));
    return ids;
}

uint64_t fake_work(uint64_t id, std::size_t work_bytes, std::vector<unsigned char>& scratch) noexcept {
    scratch.resize(work_bytes);
    uint64_t x = mix(id) | 1;
    for (std::size_t i = 0; i + 8 <= work_bytes; i += 8) {  // xorshift64: the "pixels"
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(&scratch[i], &x, 8);
    }
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 over them: the "processing"
    for (unsigned char c : scratch) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

}  // namespace photo_pipeline
