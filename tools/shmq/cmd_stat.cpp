// shmq stat NAME [--json] [--watch SECS]: partitions, groups, participants and
// DLQ of a queue, with rates from counters sampled twice; or, when NAME is an
// exchange and no queue, its routed and unroutable counts and bindings. Read-only.
#include <algorithm>
#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <unistd.h>

#include "shmq/internal/groups.hpp"
#include "command.hpp"
#include "exchange_report.hpp"
#include "format.hpp"
#include "shmq/internal/exchange_table.hpp"
#include "snapshot_json.hpp"

namespace shmq::cli {

namespace {

std::string owner_cell(const inspect::GroupPartitionStats& p, GroupKind kind) {
    if (kind != GroupKind::exclusive) return "-";
    return p.owner_pid == 0 ? "none" : std::to_string(p.owner_pid);
}

void print_text(const inspect::QueueSnapshot& s, const QueueRates& rates) {
    const auto& o = s.options;
    std::cout << "queue " << printable(s.name) << " (" << s.state << "): " << o.partitions << " partition(s) x " << o.capacity
              << " slots of " << human_bytes(o.max_message) << ", on-full " << inspect::on_full_name(o.on_full)
              << ", lease " << human_ms(o.lease_ms) << ", max-deliveries " << o.max_deliveries << ", mode "
              << octal_mode(o.mode) << ", " << human_bytes(s.region_bytes) << "\n";
    std::cout << "published " << human_count(s.published) << ", depth " << human_count(s.depth) << ", in-flight "
              << human_count(s.in_flight) << ", oldest unacked " << human_age_ms(s.oldest_unacked_age_ms) << ", "
              << s.producers << " producer(s), " << s.consumers << " consumer(s)";
    if (rates.interval_ms > 0)
        std::cout << "; " << human_rate(rates.published_per_s) << " published, " << human_rate(rates.acked_per_s)
                  << " acked over the last " << human_ms(rates.interval_ms);
    std::cout << "\n";
    if (!s.damage.empty())
        std::cout << "UNUSABLE: region damaged: " << printable(s.damage) << " (delete it with `shmq delete " << printable(s.name)
                  << "` and create it again)\n";
    if (s.overloaded) std::cout << "OVERLOADED: " << printable(s.overloaded_reason) << " (add consumers or capacity)\n";
    if (o.journal) {
        uint64_t lag = 0, bytes = 0;
        std::string trouble;
        for (const auto& p : s.partitions) {
            lag += p.journal_lag;
            bytes += p.journal_bytes;
            if (p.journal_status != "ok") trouble = "; partition " + std::to_string(p.partition) + ": " + p.journal_status;
        }
        std::cout << "journal: " << human_bytes(bytes) << " on disk, " << human_count(lag) << " message(s) not yet written"
                  << (o.retain_bytes ? ", keeps " + human_bytes(o.retain_bytes) + " per partition" : std::string())
                  << (o.retain_ms ? ", keeps " + human_ms(static_cast<uint32_t>(std::min<uint64_t>(o.retain_ms, UINT32_MAX))) : std::string())
                  << trouble << "\n";
    }
    if (o.dedup_window_ms != 0)
        std::cout << "dedup: window " << human_ms(o.dedup_window_ms) << ", " << human_count(o.dedup_capacity)
                  << " id(s) per half window" << (o.dedup_content ? ", content ids for sends without one" : "") << "; "
                  << human_count(s.duplicates) << " duplicate send(s) not enqueued again\n";
    if (o.message_ttl_ms != 0 || s.dlq.expired_ttl != 0)
        std::cout << "ttl: " << (o.message_ttl_ms != 0 ? human_ms(o.message_ttl_ms) : std::string("messages' own"))
                  << ", expired to " << (o.ttl_action == TtlAction::drop ? "nowhere (drop)" : "the DLQ") << "; "
                  << human_count(s.dlq.expired_ttl) << " expired"
                  << (s.dlq.expired_ttl_dropped != 0 ? ", " + human_count(s.dlq.expired_ttl_dropped) + " of them dropped"
                                                     : std::string())
                  << "\n";
    if (o.delay_capacity != 0 || s.delayed != 0)
        std::cout << "delayed: " << human_count(s.delayed) << " of " << human_count(o.delay_capacity)
                  << " waiting, next due "
                  << (s.next_due_ms ? (*s.next_due_ms == 0 ? std::string("now") : "in " + human_age_ms(*s.next_due_ms))
                                    : std::string("-"))
                  << "; " << human_count(s.delayed_added) << " added, " << human_count(s.delayed_moved)
                  << " moved into partitions, " << human_count(s.delayed_refused) << " refused (store full)\n";
    if (o.on_full == OnFull::drop_oldest)
        std::cout << "dropped: " << human_count(s.dropped)
                  << " oldest messages overwritten while the queue was full (each group counts the ones it missed as skipped)\n";
    if (o.on_full == OnFull::spill) {
        uint64_t disk_messages = 0, refused = 0, spilling = 0;
        std::string trouble;
        for (const auto& p : s.partitions) {
            disk_messages += p.spill_disk_messages;
            spilling += p.spilling ? 1 : 0;
            refused += p.spill_refused;
            if (p.spill_status != "ok") trouble = "; partition " + std::to_string(p.partition) + ": " + p.spill_status;
        }
        std::cout << "spill: " << human_count(s.spilled) << " spilled, backlog " << human_count(s.spill_backlog)
                  << " (on disk " << human_count(disk_messages) << " in " << human_bytes(s.spill_disk_bytes) << "), "
                  << human_count(refused) << " refused, " << spilling << " partition(s) spilling now" << trouble << "\n";
    }
    std::cout << "\n";

    const bool spill = o.on_full == OnFull::spill;
    std::vector<std::string> heads{"PARTITION", "PUBLISHED", "PUB/S", "DEPTH", "OLDEST", "DELIVERED", "ACKED", "ACK/S",
                                   "NACKED", "REDELIVERED", "REJECTED", "TIMEOUTS", "ABORTED"};
    const bool drops = o.on_full == OnFull::drop_oldest;
    if (spill) heads.insert(heads.end(), {"SPILLED", "SPILL-BACKLOG", "ON-DISK", "DISK-BYTES"});
    if (drops) heads.push_back("DROPPED");
    // Shown when dedup is on, and whenever the region counted any (a count is never hidden).
    const bool duplicates = o.dedup_window_ms != 0 || s.duplicates != 0;
    if (duplicates) heads.push_back("DUPLICATES");
    Table parts(heads);
    for (std::size_t i = 0; i < s.partitions.size(); ++i) {
        const auto& p = s.partitions[i];
        const PartitionRates pr = i < rates.partitions.size() ? rates.partitions[i] : PartitionRates{};
        std::vector<std::string> cells{std::to_string(p.partition), human_count(p.published), human_rate(pr.published_per_s),
                   human_count(p.depth), human_age_ms(p.oldest_age_ms), human_count(p.delivered), human_count(p.acked),
                   human_rate(pr.acked_per_s), human_count(p.nacked), human_count(p.redelivered),
                   human_count(p.rejected), human_count(p.timeouts), human_count(p.aborted)};
        if (spill)
            cells.insert(cells.end(), {human_count(p.spilled), human_count(p.spill_backlog),
                                       human_count(p.spill_disk_messages), human_bytes(p.spill_disk_bytes)});
        if (drops) cells.push_back(human_count(p.dropped));
        if (duplicates) cells.push_back(human_count(p.duplicates));
        parts.add(cells);
    }
    std::cout << "partitions:\n" << parts.render("  ") << "\n";

    if (s.groups.empty()) {
        std::cout << "groups: none (messages wait for the first group)\n\n";
    } else {
        // Keyed groups: the keys with a message waiting behind an unfinished
        // one, and how long ago the oldest waiting message was published.
        const bool keyed = std::any_of(s.groups.begin(), s.groups.end(),
                                       [](const inspect::GroupStats& g) { return g.kind == GroupKind::keyed; });
        std::vector<std::string> group_heads{"GROUP", "KIND", "PARTITION", "OWNER", "LAG", "IN-FLIGHT", "OLDEST", "DELIVERED",
                                       "ACKED", "ACK/S", "NACKED", "REDELIVERED", "EXPIRED", "DEAD-LETTERED"};
        if (keyed) group_heads.insert(group_heads.end(), {"BLOCKED-KEYS", "OLDEST-BLOCKED"});
        Table groups(group_heads);
        auto row = [&](const inspect::GroupStats& g, const inspect::GroupPartitionStats& p, std::string partition,
                       std::string owner, double acked_per_s) {
            std::vector<std::string> cells{g.name, detail::group_kind_name(g.kind), std::move(partition),
                        std::move(owner), human_count(p.lag), human_count(p.in_flight),
                        human_age_ms(p.oldest_unacked_age_ms), human_count(p.delivered), human_count(p.acked),
                        human_rate(acked_per_s), human_count(p.nacked), human_count(p.redelivered),
                        human_count(p.expired), human_count(p.dead_lettered)};
            if (keyed && g.kind == GroupKind::keyed)
                cells.insert(cells.end(), {human_count(p.blocked_keys), human_age_ms(p.oldest_blocked_age_ms)});
            else if (keyed)
                cells.insert(cells.end(), {"-", "-"});
            groups.add(cells);
        };
        for (std::size_t gi = 0; gi < s.groups.size(); ++gi) {
            const auto& g = s.groups[gi];
            const GroupRates* gr = gi < rates.groups.size() ? &rates.groups[gi] : nullptr;
            for (std::size_t i = 0; i < g.partitions.size(); ++i) {
                const auto& p = g.partitions[i];
                row(g, p, std::to_string(p.partition), owner_cell(p, g.kind),
                    gr && i < gr->partitions.size() ? gr->partitions[i].acked_per_s : 0.0);
            }
            if (g.partitions.size() > 1) row(g, g.total, "all", "-", gr ? gr->acked_per_s : 0.0);
        }
        std::cout << "groups:\n" << groups.render("  ");
        for (const auto& g : s.groups)
            if (g.replay != "none")
                std::cout << "  group " << printable(g.name) << " is replaying (" << g.replay << "): " << human_count(g.replay_left)
                          << " journal message(s) left before it goes on with the ring\n";
        std::cout << "\n";
    }

    if (s.participants.empty()) {
        std::cout << "participants: none\n\n";
    } else {
        Table people({"PID", "ROLE", "GROUP", "PARTITIONS", "STATE", "HEARTBEAT", "OPS"});
        for (const auto& p : s.participants) {
            std::string owned = "-";
            if (!p.partitions_owned.empty()) {
                owned.clear();
                for (uint32_t part : p.partitions_owned) owned += (owned.empty() ? "" : ",") + std::to_string(part);
            }
            std::string role = inspect::role_name(p.role);
            if (p.at_most_once) role += " (at-most-once)";
            people.add({std::to_string(p.pid), role, p.group.empty() ? "-" : p.group, owned, p.liveness,
                        human_ms(p.heartbeat_age_ms) + " ago", human_count(p.operations)});
        }
        std::cout << "participants:\n" << people.render("  ") << "\n";
    }
    std::cout << "dlq: depth " << s.dlq.depth << " of " << s.dlq.capacity << ", dead-lettered " << s.dlq.dead_lettered
              << ", redriven " << s.dlq.redriven << ", purged " << s.dlq.purged << ", blocked " << s.dlq.blocked
              << "\n";
    if (!s.bridges.empty()) {
        Table bridges({"BRIDGE", "GROUP/CONSUMER", "STREAM", "NATS", "MESSAGES", "PENDING-ACKS", "HELD", "ERRORS",
                       "REDELIVERIES", "DUPLICATES", "LAG", "UPDATED"});
        for (const auto& b : s.bridges)
            bridges.add({b.direction, b.direction == "out" ? b.group : b.consumer, b.stream,
                         b.connected ? "connected" : "DOWN", human_count(b.messages), human_count(b.pending_acks),
                         human_count(b.held), human_count(b.errors), human_count(b.redeliveries),
                         human_count(b.duplicates), human_count(b.lag), human_ms(b.updated_age_ms) + " ago"});
        std::cout << "\nbridges (shmq bridge):\n" << bridges.render("  ");
    }
}

void show(const inspect::QueueSnapshot& s, const QueueRates& rates, bool json, bool clear) {
    if (json) {
        std::cout << dump(snapshot_json(s, rates)) << "\n";  // one object per line under --watch (NDJSON)
    } else {
        if (clear) std::cout << "\033[H\033[2J";
        print_text(s, rates);
    }
    std::cout.flush();
}

}  // namespace

void register_stat(CLI::App& app) {
    struct Args {
        std::string name;
        bool json = false;
        double watch_s = 0;
        uint64_t sample_ms = 1000;
        uint64_t count = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("stat", "Show a queue's partitions, groups, participants and DLQ (or an exchange's counts)");
    cmd->add_option("NAME", args->name, "Queue name (or exchange name)")->required();
    cmd->add_flag("--json", args->json, "Machine-readable output (one object per line under --watch)");
    cmd->add_option("--watch", args->watch_s, "Refresh every SECS seconds until interrupted")->check(CLI::Range(0.05, 86400.0));
    cmd->add_option("--sample-ms", args->sample_ms,
                    "Rates come from counters read twice this far apart (0: no rates, at once)")
        ->check(CLI::Range(uint64_t{0}, uint64_t{60'000}));
    cmd->add_option("--count", args->count, "With --watch: stop after this many refreshes");
    cmd->footer(
        "Rates (published/s, acked/s) are the counter differences over --sample-ms, or over the\n"
        "refresh period under --watch. OLDEST is the age of the oldest message not yet ACKed.\n"
        "NAME may be an exchange (when no queue has that name): its routed and unroutable counts\n"
        "and its bindings, those to deleted queues marked, as one entry of `shmq exchange ls`.\n\n"
        "Examples:\n"
        "  shmq stat orders                   partitions, groups, participants, DLQ\n"
        "  shmq stat orders --json | jq .depth\n"
        "  shmq stat orders --watch 2         refresh every 2 s (Ctrl-C to stop)\n"
        "  shmq stat orders --sample-ms 0     at once, without rates\n"
        "JSON schema: docs/CLI.md.");
    cmd->callback([args] {
        if (!Queue::exists(args->name) && detail::ExchangeTable::exists(args->name)) {
            std::string text;
            Json x = describe_exchange(args->name, text);
            if (args->json)
                std::cout << dump(x) << "\n";
            else
                std::cout << text;
            return;
        }
        auto region = open_region(args->name, detail::Access::read_only);
        install_stop_handlers();
        auto before = inspect::snapshot(*region);
        const bool tty = ::isatty(STDOUT_FILENO) == 1;
        if (args->watch_s <= 0) {
            if (args->sample_ms == 0) return show(before, zero_rates(before), args->json, false);
            sleep_interruptibly(args->sample_ms);
            const auto after = inspect::snapshot(*region);
            return show(after, compute_rates(before, after), args->json, false);
        }
        show(before, zero_rates(before), args->json, tty);
        for (uint64_t shown = 1; (args->count == 0 || shown < args->count) && !stop_requested(); ++shown) {
            sleep_interruptibly(static_cast<uint64_t>(args->watch_s * 1000));
            if (stop_requested()) break;
            auto after = inspect::snapshot(*region);
            show(after, compute_rates(before, after), args->json, tty);
            before = std::move(after);
        }
    });
}

}  // namespace shmq::cli
