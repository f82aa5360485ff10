#include "queue_file.hpp"

#include <charconv>
#include <functional>
#include <cstdio>
#include <map>
#include <sstream>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/names.hpp"

namespace shmq::daemon {

std::string hex64(uint64_t v) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
    return text;
}

namespace {

const char* fsync_name(Fsync f) { return f == Fsync::never ? "never" : f == Fsync::always ? "always" : "batch"; }

bool parse_u64(const std::string& text, uint64_t& out, int base = 10) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string format_queue_file(const std::string& name, uint64_t epoch, const QueueOptions& o, uint32_t uid,
                              uint32_t gid) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", o.mode);
    return "shmq-journal 1\nname " + name + "\nepoch " + hex64(epoch) + "\npartitions " + std::to_string(o.partitions) +
           "\ncapacity " + std::to_string(o.capacity) + "\nmax_message " + std::to_string(o.max_message) +
           "\non_full " + inspect::on_full_name(o.on_full) + "\nlease_ms " + std::to_string(o.lease_ms) +
           "\nmax_deliveries " + std::to_string(o.max_deliveries) + "\nretain_bytes " + std::to_string(o.retain_bytes) +
           "\nretain_ms " + std::to_string(o.retain_ms) + "\ndlq_capacity " + std::to_string(o.dlq_capacity) +
           "\nmax_groups " + std::to_string(o.max_groups) + "\nmax_participants " + std::to_string(o.max_participants) +
           "\nmode " + mode + "\nhigh_watermark_pct " + std::to_string(o.high_watermark_pct) + "\nfsync " +
           fsync_name(o.fsync) + "\nspill_buffer " + std::to_string(o.spill_buffer) +
           "\ndedup_window_ms " + std::to_string(o.dedup_window_ms) + "\ndedup_capacity " +
           std::to_string(o.dedup_capacity) + "\ndedup_content " + (o.dedup_content ? "1" : "0") + "\nkeyed_groups " +
           std::to_string(o.keyed_groups) + "\nmessage_ttl_ms " + std::to_string(o.message_ttl_ms) +
           "\nttl_action " + std::to_string(static_cast<unsigned>(o.ttl_action)) + "\ndelay_capacity " + std::to_string(o.delay_capacity) + "\nowner " +
           std::to_string(uid) + ":" + std::to_string(gid) + "\n";
}

std::optional<QueueFile> parse_queue_file(const std::string& text, std::string& error) {
    std::map<std::string, std::string> kv;
    std::istringstream in(text);
    std::string line;
    bool header = false;
    while (std::getline(in, line)) {
        if (line == "shmq-journal 1") {
            header = true;
            continue;
        }
        const auto sp = line.find(' ');
        if (sp != std::string::npos) kv[line.substr(0, sp)] = line.substr(sp + 1);
    }
    if (!header) {
        error = "not a shmq journal description (no 'shmq-journal 1' line)";
        return std::nullopt;
    }
    QueueFile f;
    f.name = kv["name"];
    if (auto err = detail::check_name(f.name, "queue")) {
        error = *err;
        return std::nullopt;
    }
    if (!parse_u64(kv["epoch"], f.epoch, 16) || f.epoch == 0) {
        error = "bad or missing epoch";
        return std::nullopt;
    }
    QueueOptions& o = f.options;
    o.journal = true;
    // Required: what decides the layout. The rest falls back to defaults
    // (files written before they were recorded).
    struct Field {
        const char* key;
        bool required;
        uint64_t max;
        std::function<void(uint64_t)> set;
    };
    const Field fields[] = {
        {"partitions", true, UINT32_MAX, [&](uint64_t v) { o.partitions = static_cast<uint32_t>(v); }},
        {"capacity", true, UINT32_MAX, [&](uint64_t v) { o.capacity = static_cast<uint32_t>(v); }},
        {"max_message", true, UINT32_MAX, [&](uint64_t v) { o.max_message = static_cast<uint32_t>(v); }},
        {"lease_ms", false, UINT32_MAX, [&](uint64_t v) { o.lease_ms = static_cast<uint32_t>(v); }},
        {"max_deliveries", false, UINT32_MAX, [&](uint64_t v) { o.max_deliveries = static_cast<uint32_t>(v); }},
        {"retain_bytes", false, UINT64_MAX, [&](uint64_t v) { o.retain_bytes = v; }},
        {"retain_ms", false, UINT64_MAX, [&](uint64_t v) { o.retain_ms = v; }},
        {"dlq_capacity", false, UINT32_MAX, [&](uint64_t v) { o.dlq_capacity = static_cast<uint32_t>(v); }},
        {"max_groups", false, UINT32_MAX, [&](uint64_t v) { o.max_groups = static_cast<uint32_t>(v); }},
        {"max_participants", false, UINT32_MAX, [&](uint64_t v) { o.max_participants = static_cast<uint32_t>(v); }},
        {"high_watermark_pct", false, 100, [&](uint64_t v) { o.high_watermark_pct = static_cast<uint32_t>(v); }},
        {"spill_buffer", false, UINT32_MAX, [&](uint64_t v) { o.spill_buffer = static_cast<uint32_t>(v); }},
        // Absent from files written before deduplication: off, as those queues were.
        {"dedup_window_ms", false, UINT32_MAX, [&](uint64_t v) { o.dedup_window_ms = static_cast<uint32_t>(v); }},
        {"dedup_capacity", false, UINT32_MAX, [&](uint64_t v) { o.dedup_capacity = static_cast<uint32_t>(v); }},
        {"dedup_content", false, 1, [&](uint64_t v) { o.dedup_content = v != 0; }},
        // Absent from files written before keyed groups: the default then.
        {"keyed_groups", false, UINT32_MAX, [&](uint64_t v) { o.keyed_groups = static_cast<uint32_t>(v); }},
        // Absent from files written before message TTL: none, as those queues had.
        {"message_ttl_ms", false, UINT32_MAX, [&](uint64_t v) { o.message_ttl_ms = static_cast<uint32_t>(v); }},
        {"ttl_action", false, 1, [&](uint64_t v) { o.ttl_action = static_cast<TtlAction>(v); }},
        // Absent from files written before delayed delivery: no delay store, as those queues had.
        {"delay_capacity", false, UINT32_MAX, [&](uint64_t v) { o.delay_capacity = static_cast<uint32_t>(v); }},
    };
    for (const auto& field : fields) {
        const auto it = kv.find(field.key);
        uint64_t v = 0;
        if (it == kv.end()) {
            if (!field.required) continue;
            error = std::string("missing ") + field.key;
            return std::nullopt;
        }
        if (!parse_u64(it->second, v) || v > field.max) {
            error = std::string("bad ") + field.key + " '" + it->second + "'";
            return std::nullopt;
        }
        field.set(v);
    }
    uint64_t mode = 0;
    if (kv.count("mode") && parse_u64(kv["mode"], mode, 8) && mode <= 0777) o.mode = static_cast<uint32_t>(mode);
    bool on_full_known = false;
    for (OnFull v : {OnFull::block, OnFull::reject, OnFull::spill, OnFull::drop_oldest})
        if (kv["on_full"] == inspect::on_full_name(v)) {
            o.on_full = v;
            on_full_known = true;
        }
    if (!on_full_known) {
        error = "bad on_full '" + kv["on_full"] + "'";
        return std::nullopt;
    }
    const std::string owner = kv["owner"];
    const auto colon = owner.find(':');
    uint64_t uid = 0, gid = 0;
    if (colon != std::string::npos && parse_u64(owner.substr(0, colon), uid) && parse_u64(owner.substr(colon + 1), gid) &&
        uid <= UINT32_MAX && gid <= UINT32_MAX)
        f.owner = std::pair{static_cast<uint32_t>(uid), static_cast<uint32_t>(gid)};
    for (Fsync v : {Fsync::never, Fsync::batch, Fsync::always})
        if (kv["fsync"] == fsync_name(v)) o.fsync = v;
    return f;
}

std::vector<GroupCursor> parse_cursors_file(const std::string& text, uint64_t epoch, uint32_t partitions,
                                            std::string& error) {
    std::vector<GroupCursor> out;
    std::istringstream in(text);
    std::string line;
    bool epoch_ok = false;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string word;
        words >> word;
        if (word == "epoch") {
            uint64_t e = 0;
            words >> word;
            epoch_ok = parse_u64(word, e, 16) && e == epoch;
            continue;
        }
        if (word != "group") continue;
        GroupCursor c;
        std::string kind;
        words >> c.name >> kind;
        bool ok = !detail::check_name(c.name, "group");
        if (kind == "exclusive") c.kind = GroupKind::exclusive;
        else if (kind == "shared") c.kind = GroupKind::shared;
        else if (kind == "keyed") c.kind = GroupKind::keyed;
        else ok = false;
        for (uint32_t p = 0; ok && p < partitions; ++p) {
            uint64_t floor = 0;
            ok = static_cast<bool>(words >> word) && parse_u64(word, floor);
            c.floors.push_back(floor);
        }
        if (ok) out.push_back(std::move(c));
        else error = "cursors: a line that does not parse was left out: '" + line.substr(0, 200) + "'";
    }
    if (!epoch_ok) {
        error = "cursors: written for another epoch of the queue (or none); its groups are left out";
        out.clear();
    }
    return out;
}

}  // namespace shmq::daemon
