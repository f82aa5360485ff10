// shmq replay NAME --group G (--from-offset N | --from-time RFC3339 | --from-start):
// rewinds an idle group; shmqd delivers the journal's messages to it first,
// in offset order per partition, then the group goes on with the ring
// (shmq/internal/replay_request.hpp, daemon/replay/group_replay.hpp).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <unistd.h>

#include "command.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/replay_request.hpp"

namespace shmq::cli {

namespace {

// RFC 3339: 2026-11-28T12:00:00Z, 2026-11-28T12:00:00.25+01:00 (also ' ' or
// 't' between date and time, 'z'). Nanoseconds since the epoch.
std::optional<uint64_t> parse_rfc3339(const std::string& text) {
    int year, mon, day, hour, min, sec, used = 0;
    char sep;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &year, &mon, &day, &sep, &hour, &min, &sec, &used) != 7 ||
        (sep != 'T' && sep != 't' && sep != ' ') || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
        min > 59 || sec > 60)
        return std::nullopt;
    std::size_t i = static_cast<std::size_t>(used);
    uint64_t frac_ns = 0;
    if (i < text.size() && text[i] == '.') {
        uint64_t scale = 100'000'000;
        for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10) frac_ns += (text[i] - '0') * scale;
    }
    int64_t offset_s = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int oh, om, n = 0;
        if (std::sscanf(text.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || oh > 23 || om > 59) return std::nullopt;
        offset_s = (text[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        i += 1 + static_cast<std::size_t>(n);
    } else {
        return std::nullopt;  // RFC 3339 requires the zone
    }
    if (i != text.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    const int64_t t = static_cast<int64_t>(::timegm(&tm)) - offset_s;
    if (t < 0) return std::nullopt;
    return static_cast<uint64_t>(t) * 1'000'000'000ull + frac_ns;
}

void draw_progress(const detail::ReplayProgress& p) {
    constexpr int kWidth = 40;
    const double f = p.total == 0 ? 1.0 : static_cast<double>(p.acked) / static_cast<double>(p.total);
    const int filled = static_cast<int>(f * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r[%s] %5.1f%%  %llu / %llu", bar.c_str(), f * 100, static_cast<unsigned long long>(p.acked),
                 static_cast<unsigned long long>(p.total));
    std::fflush(stderr);
}

}  // namespace

void register_replay(CLI::App& app) {
    struct Args {
        std::string name, group, from_time;
        std::optional<uint64_t> from_offset;
        bool from_start = false, wait = false, no_wait = false;
        int timeout_s = 10;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("replay", "Rewind a group: the journal's messages again, then the live ring");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    cmd->add_option("--group", args->group, "The group to rewind (it must have no live consumers)")->required();
    auto* off = cmd->add_option("--from-offset", args->from_offset, "Replay every partition from this offset");
    auto* tim = cmd->add_option("--from-time", args->from_time,
                                "Replay each partition from its first message published at or after this RFC 3339 time");
    auto* sta = cmd->add_flag("--from-start", args->from_start, "Replay from the oldest message the journal holds");
    off->excludes(tim)->excludes(sta);
    tim->excludes(sta);
    cmd->add_flag("--wait", args->wait, "Wait until the group has caught up (the default on a terminal)");
    cmd->add_flag("--no-wait", args->no_wait, "Return once shmqd has started the replay");
    cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for shmqd to take the request")
        ->check(CLI::Range(1, 3600));
    cmd->footer(
        "Stop the group's consumers first (like kafka-consumer-groups --reset-offsets). shmqd\n"
        "rewinds the group; messages that have left the ring come from the queue's journal\n"
        "(`create --journal`), each partition in offset order, then the group goes on with\n"
        "the ring. Consumers may be started at once: they wait while shmqd prepares.\n"
        "On a terminal a progress bar follows the replay (Ctrl-C stops watching, not the replay).\n\n"
        "Examples:\n"
        "  shmq replay orders --group billing --from-start\n"
        "  shmq replay orders --group billing --from-offset 1200000\n"
        "  shmq replay orders --group billing --from-time 2026-11-28T09:00:00Z");
    cmd->callback([args] {
        layout::ReplayFrom from;
        uint64_t value = 0;
        if (args->from_offset) {
            from = layout::ReplayFrom::offset;
            value = *args->from_offset;
        } else if (!args->from_time.empty()) {
            const auto t = parse_rfc3339(args->from_time);
            if (!t)
                throw CommandError(2, "replay: --from-time '" + args->from_time +
                                          "' is not an RFC 3339 time; write it like 2026-11-28T09:00:00Z");
            from = layout::ReplayFrom::time;
            value = *t;
        } else if (args->from_start) {
            from = layout::ReplayFrom::start;
        } else {
            throw CommandError(2, "replay: say where from: --from-offset N, --from-time RFC3339 or --from-start");
        }
        auto region = open_region(args->name, detail::Access::read_write);
        if (!detail::served_by_shmqd(*region))
            throw CommandError(1, "replay: no shmqd serves queue '" + args->name +
                                      "'; start shmqd (it reads the journal and serves replays), then run this again");
        uint32_t g = 0;
        try {
            detail::ScopedParticipant me(*region, layout::Role::admin);
            g = detail::request_replay(*region, args->group, from, value, me.get());
        } catch (const Error& e) {
            throw CommandError(1, "replay: " + std::string(e.what()));
        }
        auto& e = region->group(g);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args->timeout_s);
        while (e.replay_result.load(std::memory_order_acquire) == static_cast<uint32_t>(layout::ReplayResult::pending)) {
            if (std::chrono::steady_clock::now() > deadline || stop_requested()) {
                if (detail::cancel_replay(*region, g))
                    throw CommandError(1, "replay: shmqd did not take the request within " +
                                              std::to_string(args->timeout_s) + " s; it was withdrawn. Check shmqd's log");
            }
            sleep_interruptibly(10);
        }
        const auto result = static_cast<layout::ReplayResult>(e.replay_result.load(std::memory_order_acquire));
        if (result == layout::ReplayResult::failed)
            throw CommandError(1, "replay: shmqd could not read the journal or make the replay region (its log says "
                                  "why); group '" + args->group + "' was rewound within the ring only");
        const uint64_t journal_messages = e.replay_messages.load(std::memory_order_relaxed);
        std::cout << "group " << args->group << " of queue " << args->name << " rewound; " << journal_messages
                  << " message(s) come from the journal first\n";
        if (result == layout::ReplayResult::not_journaled)
            std::cerr << "shmq: replay: some offsets asked for have left the ring and queue '" << args->name
                      << "' keeps no journal (create it with --journal); replaying from the oldest still in the ring\n";
        const bool tty = ::isatty(STDERR_FILENO) != 0;
        if (args->no_wait || (!args->wait && !tty)) return;
        install_stop_handlers();
        while (!stop_requested() &&
               e.replay_state.load(std::memory_order_acquire) != static_cast<uint32_t>(layout::ReplayState::none)) {
            if (tty) draw_progress(detail::replay_progress(*region, g));
            sleep_interruptibly(200);
        }
        if (tty) {
            draw_progress({true, journal_messages, journal_messages});
            std::fprintf(stderr, "\n");
        }
        if (stop_requested()) return;
        std::cout << "group " << args->group << " has caught up with the ring\n";
    });
}

}  // namespace shmq::cli
