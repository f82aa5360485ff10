#include "json.hpp"

#include <cmath>

namespace shmq::cli {

bool is_utf8(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c == 0xe0) len = 3, lo = 0xa0;              // no overlong 3-byte forms
        else if (c == 0xed) len = 3, hi = 0x9f;              // no UTF-16 surrogates
        else if (c >= 0xe1 && c <= 0xef) len = 3;
        else if (c == 0xf0) len = 4, lo = 0x90;              // no overlong 4-byte forms
        else if (c == 0xf4) len = 4, hi = 0x8f;              // nothing past U+10FFFF
        else if (c >= 0xf1 && c <= 0xf3) len = 4;
        else return false;                                   // 0x80..0xc1, 0xf5..0xff
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k)
            if ((s[i + k] & 0xc0) != 0x80) return false;
        i += len;
    }
    return true;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

void put_bytes(Json& object, const std::string& field, std::string_view bytes) {
    if (is_utf8(bytes))
        object[field] = std::string(bytes);
    else
        object[field + "_hex"] = to_hex(bytes);
}

double one_decimal(double v) { return std::isfinite(v) ? std::round(v * 10.0) / 10.0 : 0.0; }

std::string dump(const Json& j) {
    // strict: a string that is not UTF-8 is a bug here (put_bytes keeps them out), never output
    return j.dump(-1, ' ', false, Json::error_handler_t::strict);
}

}  // namespace shmq::cli
