#include "shmq/internal/names.hpp"

#include <algorithm>
#include <cstring>

namespace shmq::detail {

std::optional<std::string> check_name(std::string_view name, const char* what) {
    if (name.empty() || name.size() > 64)
        return std::string(what) + " name must be 1..64 characters, got " + std::to_string(name.size());
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok) {
            std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "\\x" + std::to_string(static_cast<unsigned char>(c));
            return std::string(what) + " name '" + std::string(name.substr(0, 64)) + "' has the character '" + shown +
                   "'; use only letters, digits, '.', '_' and '-'";
        }
    }
    if (name == "." || name == "..") return std::string(what) + " name may not be '.' or '..'";
    return std::nullopt;
}

std::string region_object_name(std::string_view queue) { return std::string(kRegionPrefix) + std::string(queue); }

std::string region_path(std::string_view queue) {
    return std::string(kShmDir) + "/" + region_object_name(queue);
}

void store_name_words(NameWords& words, std::string_view name) noexcept {
    char buf[layout::kNameMax] = {};
    std::memcpy(buf, name.data(), std::min(name.size(), sizeof buf));
    for (std::size_t i = 0; i < std::size(words); ++i) {
        uint64_t w;
        std::memcpy(&w, buf + i * 8, 8);
        words[i].store(w, std::memory_order_relaxed);
    }
}

std::string load_name_words(const NameWords& words, std::memory_order order) {
    char buf[layout::kNameMax];
    for (std::size_t i = 0; i < std::size(words); ++i) {
        const uint64_t w = words[i].load(order);
        std::memcpy(buf + i * 8, &w, 8);
    }
    return std::string(buf, strnlen(buf, sizeof buf));
}

}  // namespace shmq::detail
