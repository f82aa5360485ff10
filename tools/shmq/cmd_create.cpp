// shmq create NAME [--partitions N] [--capacity SLOTS] [--max-message BYTES]
//   [--on-full block|reject|spill|drop-oldest] [--lease-ms MS] [--max-groups N] [--mode OCTAL] [--group NAME|GID]
//   [--max-deliveries N] [--dlq-capacity SLOTS] [--max-participants N]
//   [--high-watermark PCT] [--spill-buffer SLOTS] [--fsync never|batch|always]
//   [--journal [--retain-bytes N] [--retain-ms MS]]
//   [--dedup-window-ms MS [--dedup-capacity N] [--dedup-content]] [--keyed-groups N] [--delay-capacity N]
#include <CLI/CLI.hpp>
#include <grp.h>

#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "command.hpp"
#include "format.hpp"
#include "shmq/internal/layout.hpp"

namespace shmq::cli {

namespace {

struct CreateArgs {
    std::string name;
    QueueOptions options;
    std::string on_full = "block";
    std::string mode = "0600";
    std::string fsync = "batch";
    std::string group;  // --group: name or number; empty: the creator's
    bool dedup_capacity_given = false;  // --dedup-capacity (even 0) means nothing without a window
    bool keyed_groups_given = false;    // the default is clamped to --max-groups; a given value is checked
    std::string ttl_action = "dlq";
};

// The library refuses these too (layout::check_and_derive); here they are
// worded with the flags the user typed.
void check_dedup(const CreateArgs& a) {
    const auto& o = a.options;
    if (o.dedup_window_ms == 0 && (a.dedup_capacity_given || o.dedup_content))
        throw CommandError(2, std::string(a.dedup_capacity_given ? "--dedup-capacity" : "--dedup-content") +
                                  " needs --dedup-window-ms MS (how long an id is remembered; 1.." +
                                  std::to_string(layout::kMaxDedupWindowMs) + ")");
    if (o.dedup_window_ms > layout::kMaxDedupWindowMs)
        throw CommandError(2, "--dedup-window-ms " + std::to_string(o.dedup_window_ms) + " is over 7 days; use 1.." +
                                  std::to_string(layout::kMaxDedupWindowMs));
    if (o.dedup_capacity > layout::kMaxDedupCapacity)
        throw CommandError(2, "--dedup-capacity " + std::to_string(o.dedup_capacity) + " is too large; use 1.." +
                                  std::to_string(layout::kMaxDedupCapacity) + " (omit it for partitions x (capacity + spill buffer))");
}

// A group name from /etc/group (or NSS), or a number.
uint32_t parse_group(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 10) {
        const unsigned long gid = std::stoul(text);
        if (gid < UINT32_MAX) return static_cast<uint32_t>(gid);
    }
    struct group g {};
    struct group* found = nullptr;
    std::vector<char> buf(16384);
    if (::getgrnam_r(text.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr)
        throw CommandError(2, "--group '" + text + "' is neither a group name nor a number (see /etc/group)");
    return static_cast<uint32_t>(found->gr_gid);
}

uint32_t parse_mode(const std::string& text) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
        throw CommandError(2, "--mode '" + text + "' is not an octal permission like 0600 or 0660");
    uint32_t mode = static_cast<uint32_t>(std::stoul(text, nullptr, 8));
    if (mode > 0777) throw CommandError(2, "--mode '" + text + "' has bits beyond 0777");
    if ((mode & 0600) != 0600) throw CommandError(2, "--mode '" + text + "' must give the owner read and write (06xx)");
    return mode;
}

void run(CreateArgs& a) {
    static const std::map<std::string, OnFull> policies = {
        {"block", OnFull::block}, {"reject", OnFull::reject}, {"spill", OnFull::spill}, {"drop-oldest", OnFull::drop_oldest}};
    auto it = policies.find(a.on_full);
    if (it == policies.end())
        throw CommandError(2, "--on-full '" + a.on_full + "' is unknown; use block, reject, spill or drop-oldest");
    a.options.on_full = it->second;
    a.options.mode = parse_mode(a.mode);
    static const std::map<std::string, Fsync> fsyncs = {
        {"never", Fsync::never}, {"batch", Fsync::batch}, {"always", Fsync::always}};
    auto f = fsyncs.find(a.fsync);
    if (f == fsyncs.end()) throw CommandError(2, "--fsync '" + a.fsync + "' is unknown; use never, batch or always");
    a.options.fsync = f->second;
    if (a.options.spill_buffer != 0 && a.options.on_full != OnFull::spill)
        throw CommandError(2, "--spill-buffer needs --on-full spill");
    if (!a.options.journal && (a.options.retain_bytes != 0 || a.options.retain_ms != 0))
        throw CommandError(2, "--retain-bytes/--retain-ms need --journal");
    check_dedup(a);
    if (a.ttl_action != "dlq" && a.ttl_action != "drop")
        throw CommandError(2, "--ttl-action '" + a.ttl_action + "' is unknown; use dlq or drop");
    a.options.ttl_action = a.ttl_action == "drop" ? TtlAction::drop : TtlAction::dlq;
    if (a.options.message_ttl_ms != 0 && a.options.on_full == OnFull::drop_oldest)
        throw CommandError(2, "--message-ttl-ms is not for --on-full drop-oldest (it drops old messages itself)");
    if (a.keyed_groups_given && a.options.keyed_groups > a.options.max_groups)
        throw CommandError(2, "--keyed-groups " + std::to_string(a.options.keyed_groups) + " is over --max-groups " +
                                  std::to_string(a.options.max_groups) + "; use 0.." +
                                  std::to_string(a.options.max_groups));
    detail::CreateSpec spec;
    if (!a.group.empty()) {
        spec.gid = parse_group(a.group);
        if ((a.options.mode & 0040) == 0)
            throw CommandError(2, "--group gives the group no access with --mode " + a.mode +
                                      "; use --mode 0660 (or 0640: read-only, for monitoring)");
    }
    auto region = detail::Region::create(a.name, a.options, spec);
    const auto& o = region->options();
    std::cout << "created queue " << a.name << ": " << o.partitions << " partition(s) x " << o.capacity << " slots of "
              << human_bytes(o.max_message) << ", on-full " << a.on_full << ", lease " << human_ms(o.lease_ms)
              << ", mode " << octal_mode(o.mode) << (a.group.empty() ? "" : ", group " + a.group);
    if (o.dedup_window_ms != 0)
        std::cout << ", dedup window " << human_ms(o.dedup_window_ms) << " (" << o.dedup_capacity
                  << " ids per half window" << (o.dedup_content ? ", content ids" : "") << ")";
    std::cout << "\n";
}

}  // namespace

void register_create(CLI::App& app) {
    auto args = std::make_shared<CreateArgs>();
    auto* cmd = app.add_subcommand("create", "Create a queue");
    cmd->add_option("NAME", args->name, "Queue name: [A-Za-z0-9._-]{1,64}")->required();
    cmd->add_option("--partitions", args->options.partitions, "Partitions (rings), 1..1024")->default_val(1);
    cmd->add_option("--capacity", args->options.capacity, "Slots per partition, a power of two")->default_val(1024);
    cmd->add_option("--max-message", args->options.max_message, "Largest payload in bytes")->default_val(1024);
    cmd->add_option("--on-full", args->on_full,
                    "When a partition is full: block (wait), reject (overloaded), spill (to disk through shmqd), "
                    "drop-oldest (overwrite the oldest unfinished message: at-most-once telemetry)")
        ->default_val("block");
    cmd->add_option("--lease-ms", args->options.lease_ms, "Visibility timeout of a delivery")->default_val(30000);
    cmd->add_option("--max-groups", args->options.max_groups, "Most consumer groups, 1..256")->default_val(16);
    cmd->add_option("--mode", args->mode, "Permission bits of the region, octal")->default_val("0600");
    cmd->add_option("--group", args->group,
                    "Group owning the region (name or GID; you must be root or a member), with --mode 0660 "
                    "for a team of processes");
    cmd->add_option("--max-deliveries", args->options.max_deliveries, "Failed deliveries before the DLQ, 1..1000 (a handoff is not one)")->default_val(5);
    cmd->add_option("--dlq-capacity", args->options.dlq_capacity, "DLQ slots, a power of two")->default_val(1024);
    cmd->add_option("--max-participants", args->options.max_participants, "Most attached producers+consumers")
        ->default_val(128);
    cmd->add_option("--high-watermark", args->options.high_watermark_pct,
                    "Depth (% of a partition's capacity) above which check, stat and /metrics say overloaded; 0: never")
        ->default_val(80)
        ->check(CLI::Range(0u, 100u));
    cmd->add_option("--spill-buffer", args->options.spill_buffer,
                    "on-full spill: staging slots per partition that shmqd drains to disk; 0: max(capacity, 1024)")
        ->default_val(0);
    cmd->add_option("--fsync", args->fsync,
                    "When shmqd's disk writes are durable: never (page cache), batch (group commit), always")
        ->default_val("batch");
    cmd->add_flag("--journal", args->options.journal,
                  "shmqd journals every message to disk (slots wait for it); see --retain-*");
    cmd->add_option("--retain-bytes", args->options.retain_bytes,
                    "Journal: keep at most this many bytes per partition (whole segments); 0: no limit")
        ->default_val(0);
    cmd->add_option("--retain-ms", args->options.retain_ms, "Journal: delete segments older than this; 0: no limit")
        ->default_val(0);
    cmd->add_option("--dedup-window-ms", args->options.dedup_window_ms,
                    "Deduplicated publishing: a send whose dedup id was published within this many ms is not "
                    "enqueued again (shmq produce --dedup-id-field); at most 604800000 (7 days); 0: off")
        ->default_val(0);
    cmd->add_option_function<uint32_t>(
        "--dedup-capacity",
        [args](const uint32_t& n) {
            args->options.dedup_capacity = n;
            args->dedup_capacity_given = true;
        },
        "With --dedup-window-ms: ids remembered per half window (a send beyond it answers overloaded); "
        "default: partitions x (capacity + spill buffer)");
    cmd->add_flag("--dedup-content", args->options.dedup_content,
                  "With --dedup-window-ms: a send without a dedup id uses a hash of its key and payload as its id");
    cmd->add_option_function<uint32_t>(
        "--keyed-groups",
        [args](const uint32_t& n) {
            args->options.keyed_groups = n;
            args->keyed_groups_given = true;
        },
        "Keyed groups (consume --kind keyed) the queue can hold at once, 0..max-groups; each takes "
        "partitions x capacity x 48 bytes for its key index; default 2 (at most max-groups)");
    cmd->add_option("--message-ttl-ms", args->options.message_ttl_ms,
                    "Message TTL: a message not delivered this long after it was sent is never delivered; it "
                    "goes to the DLQ with reason ttl (or is dropped: --ttl-action); a message's own TTL "
                    "(produce --ttl-ms) may lower it; 0: only messages' own TTLs")
        ->default_val(0);
    cmd->add_option("--ttl-action", args->ttl_action, "What an expired message becomes: dlq (default) or drop (only counted)")
        ->default_val("dlq");
    cmd->add_option("--delay-capacity", args->options.delay_capacity,
                    "Delayed messages (produce --delay-ms) the queue holds at once, waiting for their due time, "
                    "0..16777216; each takes max-message + ~200 bytes; a send beyond it answers overloaded; "
                    "default 0: delays are refused")
        ->default_val(0);
    cmd->footer(
        "Creates /dev/shm/shmq.NAME, sized once: partitions x capacity slots of max-message bytes,\n"
        "a lease table per group and a DLQ. Messages with the same key go to the same partition\n"
        "and keep their order. Fails if the queue exists (delete it first).\n\n"
        "Examples:\n"
        "  shmq create orders --partitions 4 --capacity 4096\n"
        "  shmq create telemetry --max-message 256 --on-full reject\n"
        "  shmq create jobs --lease-ms 60000 --max-deliveries 3 --mode 0660 --group workers\n"
        "  shmq create bursts --capacity 64 --on-full spill    # overflow to disk via shmqd, order kept\n"
        "  shmq create audit --journal --retain-bytes 1073741824 --retain-ms 604800000\n"
        "  shmq create payments --dedup-window-ms 600000   # ids sent twice within 10 min are enqueued once\n"
        "  shmq create quotes --message-ttl-ms 200          # not delivered within 200 ms: to the DLQ (reason ttl)\n"
        "  shmq create reminders --delay-capacity 100000   # up to 100000 messages sent with --delay-ms waiting");
    cmd->callback([args] { run(*args); });
}

}  // namespace shmq::cli
