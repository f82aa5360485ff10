// shmq produce NAME [--key K] [--timeout-ms MS] [--dedup-id-field N] [--ttl-ms MS] [--delay-ms MS]: one
// message per stdin line.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "command.hpp"

namespace shmq::cli {

namespace {

// The nth (1-based) field of `line`, fields separated by runs of blanks
// (space, tab, CR, VT, FF); nullopt when the line has fewer than n.
std::optional<std::string_view> nth_field(std::string_view line, uint32_t n) {
    constexpr std::string_view kBlanks = " \t\r\v\f";
    std::size_t start = 0;
    for (uint32_t i = 1;; ++i) {
        start = line.find_first_not_of(kBlanks, start);
        if (start == std::string_view::npos) return std::nullopt;
        const std::size_t end = std::min(line.find_first_of(kBlanks, start), line.size());
        if (i == n) return line.substr(start, end - start);
        start = end;
    }
}

uint64_t count_fields(std::string_view line) {
    uint64_t n = 0;
    while (nth_field(line, static_cast<uint32_t>(n + 1))) ++n;
    return n;
}

}  // namespace

void register_produce(CLI::App& app) {
    struct Args {
        std::string name, key;
        int64_t timeout_ms = -1;
        uint32_t dedup_id_field = 0;  // 0: no dedup ids
        uint32_t ttl_ms = 0;          // 0: the queue's
        int64_t delay_ms = 0;         // 0: none
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("produce", "Send one message per line of standard input");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    cmd->add_option("--key", args->key, "Key of every message (same key, same partition)");
    cmd->add_option("--timeout-ms", args->timeout_ms, "How long to wait for room in a full queue (default: forever)");
    cmd->add_option("--delay-ms", args->delay_ms,
                    "Deliver each message this many ms after it is sent (no cap): it waits in the queue's delay "
                    "store and takes its offset when due (queues created with --delay-capacity N)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--dedup-id-field", args->dedup_id_field,
                    "The Nth whitespace-separated field (1-based) of each line is its dedup id; a line whose id "
                    "was published within the queue's dedup window is not enqueued again (create --dedup-window-ms)")
        ->check(CLI::Range(1u, 1u << 20));
    cmd->add_option("--ttl-ms", args->ttl_ms,
                    "Each message's own TTL: not delivered this long after it was sent, it goes to the DLQ "
                    "(reason ttl) or is dropped, as the queue's --ttl-action says; the lower of it and the "
                    "queue's --message-ttl-ms applies")
        ->check(CLI::Range(1u, UINT32_MAX));
    cmd->footer(
        "Sends each line (without its newline) as one message and exits at end of input. With\n"
        "--on-full block a full queue makes it wait (up to --timeout-ms); a line that cannot be\n"
        "sent stops it with exit 1, saying how many were sent.\n\n"
        "--dedup-id-field N (queues created with --dedup-window-ms only): the whole line is sent, with\n"
        "its Nth field as the dedup id (at most 128 bytes). Lines whose id was already published within\n"
        "the window are not enqueued again; their count is reported on stderr at the end, and the exit\n"
        "status stays 0. A line with fewer than N fields stops it with exit 1 (the lines before it\n"
        "were sent).\n\n"
        "--delay-ms MS (queues created with --delay-capacity N only): each line waits in the queue's\n"
        "delay store and enters its partition MS ms after it was sent, never earlier, taking its offset\n"
        "then: per key, messages come out in the order they became due. A full store stops it with exit 1.\n\n"
        "Examples:\n"
        "  seq 1 1000 | shmq produce orders\n"
        "  echo 'resize 42' | shmq produce jobs --key photo-42 --timeout-ms 500\n"
        "  echo 'pay-17 charge Evan 50' | shmq produce payments --dedup-id-field 1\n"
        "  echo 'quote EURUSD 1.0842' | shmq produce quotes --ttl-ms 5000   # stale after 5 s\n"
        "  echo 'remind 42' | shmq produce reminders --delay-ms 3600000   # in an hour");
    cmd->callback([args] {
        if (args->key.size() > kMaxKeyBytes)
            throw CommandError(2, "--key is " + std::to_string(args->key.size()) + " bytes; keys are at most 64");
        Queue q = [&] {
            try {
                return Queue::open(args->name);
            } catch (const Error& e) {
                throw CommandError(1, e.what());
            }
        }();
        const bool dedup = args->dedup_id_field != 0;
        // A queue without a window ignores ids: every line would be enqueued, silently.
        if (dedup && q.options().dedup_window_ms == 0)
            throw CommandError(1, "queue " + args->name +
                                      " has no dedup window, so --dedup-id-field would not deduplicate anything; "
                                      "create the queue with --dedup-window-ms MS");
        if (args->delay_ms > 0 && q.options().delay_capacity == 0)
            throw CommandError(1, "queue " + args->name +
                                      " has no delay store, so --delay-ms cannot hold messages back; create the queue "
                                      "with --delay-capacity N");
        auto producer = q.producer();
        SendOptions options;
        options.delay = Millis(args->delay_ms);
        options.key = args->key;
        options.timeout = args->timeout_ms < 0 ? kForever : Millis(args->timeout_ms);
        options.ttl = Millis(args->ttl_ms);
        if (args->ttl_ms != 0 && q.options().on_full == OnFull::drop_oldest)
            throw CommandError(1, "queue " + args->name + " is on-full drop-oldest, which drops old messages itself; "
                                      "--ttl-ms is not for it");
        std::ios::sync_with_stdio(false);
        std::string line;
        uint64_t sent = 0;        // lines done: enqueued, or answered duplicate
        uint64_t duplicates = 0;  // of those, not enqueued again
        auto so_far = [&] {
            return std::to_string(sent) + " message(s) were sent" +
                   (duplicates != 0 ? " (" + std::to_string(duplicates) + " of them duplicates, not enqueued again)"
                                    : std::string());
        };
        while (std::getline(std::cin, line)) {
            SendOutcome outcome;
            Status st;
            if (dedup) {
                const auto id = nth_field(line, args->dedup_id_field);
                if (!id)
                    throw CommandError(1, "line " + std::to_string(sent + 1) + " has " +
                                              std::to_string(count_fields(line)) + " field(s), no field " +
                                              std::to_string(args->dedup_id_field) + " for --dedup-id-field; " +
                                              so_far());
                if (id->size() > kMaxDedupIdBytes)
                    throw CommandError(1, "line " + std::to_string(sent + 1) + ": its dedup id is " +
                                              std::to_string(id->size()) + " bytes; ids are at most " +
                                              std::to_string(kMaxDedupIdBytes) + "; " + so_far());
                options.dedup_id = *id;
                st = producer.send(line, options, outcome);  // one by one: send_batch takes no dedup ids
            } else {
                st = producer.send(line, options);
            }
            if (!st) {
                std::string why = st.message();
                if (st.code() == Errc::message_too_large)
                    why += " (" + std::to_string(line.size()) + " > " + std::to_string(q.options().max_message) + " bytes)";
                if (st.code() == Errc::timeout)
                    why = "no room in the queue within --timeout-ms " + std::to_string(args->timeout_ms) +
                          " (are consumers running?)";
                if (st.code() == Errc::overloaded && args->delay_ms > 0)
                    why = "the queue's delay store is full (" + std::to_string(q.options().delay_capacity) +
                          " delayed messages wait; see `shmq stat " + args->name + "`): retry later or recreate "
                          "the queue with a larger --delay-capacity";
                else if (st.code() == Errc::overloaded && dedup)
                    why += " (the queue is full with --on-full reject, or more ids than its dedup capacity arrived "
                           "within half its dedup window)";
                throw CommandError(1, "line " + std::to_string(sent + 1) + " not sent: " + why + "; " + so_far());
            }
            ++sent;
            if (outcome.duplicate) ++duplicates;
        }
        if (duplicates != 0)
            std::cerr << "shmq produce: " << duplicates << " of " << sent
                      << " lines were duplicates within the dedup window; not enqueued again\n";
    });
}

}  // namespace shmq::cli
