#include "delay_snapshot.hpp"

#include <cstring>

#include "crc32c.hpp"
#include "shmq/internal/layout.hpp"

namespace shmq::daemon {

namespace {

constexpr char kMagic[8] = {'S', 'H', 'M', 'Q', 'D', 'L', 'Y', '1'};
constexpr std::size_t kRecordHeader = 8 + 8 + 2 + 2 + 4 + 4 + 2 + 2;

template <class T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // the host is little-endian (x86-64, aarch64), like the region
    out.append(b, sizeof(T));
}

template <class T>
bool get(std::string_view& in, T& v) {
    if (in.size() < sizeof(T)) return false;
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return true;
}

}  // namespace

std::string encode_delayed(uint64_t epoch, const std::vector<detail::RestoredDelayed>& messages) {
    std::string out(kMagic, sizeof kMagic);
    put<uint64_t>(out, epoch);
    put<uint64_t>(out, messages.size());
    for (const auto& m : messages) {
        put<uint64_t>(out, m.due_unix_ns);
        put<uint64_t>(out, m.sent_unix_ns);
        put<uint16_t>(out, m.flags);
        put<uint16_t>(out, 0);
        put<uint32_t>(out, m.partition);
        put<uint32_t>(out, static_cast<uint32_t>(m.payload.size()));
        put<uint16_t>(out, static_cast<uint16_t>(m.key.size()));
        put<uint16_t>(out, static_cast<uint16_t>(m.id.size()));
        out += m.payload;
        out += m.key;
        out += m.id;
    }
    put<uint32_t>(out, disk::crc32c(out.data(), out.size()));
    return out;
}

bool decode_delayed(std::string_view bytes, uint64_t epoch, uint32_t max_message, uint32_t partitions,
                    std::vector<detail::RestoredDelayed>& out, std::string& error) {
    out.clear();
    auto fail = [&](const std::string& why) {
        out.clear();
        error = why;
        return false;
    };
    if (bytes.size() < sizeof kMagic + 8 + 8 + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
        return fail("not a delayed-message snapshot (bad magic or too short)");
    uint32_t crc = 0;
    std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
    if (crc != disk::crc32c(bytes.data(), bytes.size() - 4)) return fail("checksum mismatch");
    std::string_view in = bytes.substr(sizeof kMagic, bytes.size() - sizeof kMagic - 4);
    uint64_t stored_epoch = 0, count = 0;
    (void)get(in, stored_epoch);
    (void)get(in, count);
    if (stored_epoch != epoch) return fail("written for another incarnation of the queue (epoch differs)");
    if (count > in.size() / kRecordHeader) return fail("count " + std::to_string(count) + " exceeds the file");
    out.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        detail::RestoredDelayed m;
        uint16_t reserved = 0, key_len = 0, id_len = 0;
        uint32_t payload_len = 0;
        if (!get(in, m.due_unix_ns) || !get(in, m.sent_unix_ns) || !get(in, m.flags) || !get(in, reserved) ||
            !get(in, m.partition) || !get(in, payload_len) || !get(in, key_len) || !get(in, id_len))
            return fail("record " + std::to_string(i) + " is cut short");
        if (payload_len > max_message || key_len > layout::kMaxKeyBytes || id_len > layout::kMaxDedupIdBytes ||
            m.partition > partitions || uint64_t{payload_len} + key_len + id_len > in.size())
            return fail("record " + std::to_string(i) + " has lengths out of range");
        m.flags &= layout::kSlotAttributes;
        m.payload.assign(in.substr(0, payload_len));
        m.key.assign(in.substr(payload_len, key_len));
        m.id.assign(in.substr(payload_len + key_len, id_len));
        in.remove_prefix(payload_len + key_len + id_len);
        out.push_back(std::move(m));
    }
    if (!in.empty()) return fail("trailing bytes after " + std::to_string(count) + " records");
    return true;
}

}  // namespace shmq::daemon
