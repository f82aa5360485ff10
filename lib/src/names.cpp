#include "names.hpp"

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

}  // namespace shmq::detail
