// shmq check NAME [--warn-*/--max-* thresholds]: one status line with perfdata
// and the monitoring-plugins exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>

#include "command.hpp"
#include "format.hpp"
#include "shmq/internal/inspect.hpp"

namespace shmq::cli {

namespace {

enum Status { ok = 0, warning = 1, critical = 2, unknown = 3 };
const char* status_name(Status s) {
    static const char* const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    return names[s];
}

struct Measure {
    const char* label;  // perfdata label
    const char* unit;   // perfdata unit of measure ("" or "ms")
    uint64_t value;
    std::optional<uint64_t> warn, crit;

    Status status() const {
        if (crit && value > *crit) return critical;
        if (warn && value > *warn) return warning;
        return ok;
    }
    // 'label'=value[UOM];[warn];[crit];[min];[max]
    std::string perfdata() const {
        std::ostringstream s;
        s << label << "=" << value << unit << ";";
        if (warn) s << *warn;
        s << ";";
        if (crit) s << *crit;
        s << ";0";
        return s.str();
    }
};

struct Thresholds {
    std::optional<uint64_t> warn_depth, max_depth, warn_lag, max_lag, warn_dlq, max_dlq, warn_age, max_age;
};

[[noreturn]] void finish(Status s, const std::string& text) {
    std::cout << "SHMQ " << status_name(s) << " - " << text << std::endl;
    throw CommandError(s, "");  // the status line is the whole output
}

}  // namespace

void register_check(CLI::App& app) {
    struct Args {
        std::string name;
        Thresholds t;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("check", "Check a queue against thresholds (monitoring-plugins exit codes)");
    cmd->add_option("NAME", args->name, "Queue name")->required();
    auto& t = args->t;
    cmd->add_option("--max-depth", t.max_depth, "CRITICAL when more messages than this are not yet ACKed");
    cmd->add_option("--warn-depth", t.warn_depth, "WARNING when more messages than this are not yet ACKed");
    cmd->add_option("--max-lag", t.max_lag, "CRITICAL when a group lags by more than this many messages");
    cmd->add_option("--warn-lag", t.warn_lag, "WARNING when a group lags by more than this many messages");
    cmd->add_option("--max-dlq", t.max_dlq, "CRITICAL when the dead-letter queue holds more than this");
    cmd->add_option("--warn-dlq", t.warn_dlq, "WARNING when the dead-letter queue holds more than this");
    cmd->add_option("--max-age-ms", t.max_age, "CRITICAL when the oldest unACKed message is older than this");
    cmd->add_option("--warn-age-ms", t.warn_age, "WARNING when the oldest unACKed message is older than this");
    cmd->footer(
        "Prints one line, `SHMQ <STATUS> - <summary> | <perfdata>`, and exits 0 OK, 1 WARNING\n"
        "(a --warn-* threshold exceeded), 2 CRITICAL (a --max-* threshold exceeded) or 3 UNKNOWN\n"
        "(queue missing or unreadable). Depth counts messages not yet ACKed by the slowest group\n"
        "(all messages when no group exists); lag is the largest group's; age is the oldest\n"
        "unACKed message's. A threshold is exceeded when the value is greater than it. A partition\n"
        "above the queue's high watermark (shmq create --high-watermark) is at least WARNING.\n\n"
        "Examples:\n"
        "  shmq check orders --warn-depth 10000 --max-depth 100000\n"
        "  shmq check orders --max-dlq 0 --warn-age-ms 5000 --max-age-ms 60000\n"
        "  */1 * * * * shmq check orders --max-lag 50000 || notify-ops   (cron)");
    cmd->callback([args] {
        std::shared_ptr<detail::Region> region;
        try {
            region = detail::Region::open(args->name, detail::Access::read_only);
        } catch (const Error& e) {
            finish(unknown, printable(e.what()));
        }
        const auto s = inspect::snapshot(*region);
        if (s.state != "live") finish(critical, "queue " + printable(s.name) + " is " + s.state + " (recreate it)");
        uint64_t lag = 0;
        std::string laggard;
        for (const auto& g : s.groups)
            if (g.total.lag >= lag) {
                lag = g.total.lag;
                laggard = printable(g.name);
            }
        const auto& th = args->t;
        const Measure measures[] = {
            {"depth", "", s.depth, th.warn_depth, th.max_depth},
            {"lag", "", lag, th.warn_lag, th.max_lag},
            {"dlq", "", s.dlq.depth, th.warn_dlq, th.max_dlq},
            {"age", "ms", s.oldest_unacked_age_ms, th.warn_age, th.max_age},
        };
        Status worst = ok;
        std::ostringstream text, perf, why;
        for (const auto& m : measures) {
            const Status st = m.status();
            if (st != ok) {
                why << (why.tellp() > 0 ? ", " : "") << m.label << " " << m.value << m.unit << " > "
                    << (st == critical ? *m.crit : *m.warn) << m.unit;
            }
            worst = std::max(worst, st);
            perf << (perf.tellp() > 0 ? " " : "") << m.perfdata();
        }
        if (s.overloaded) {  // above the queue's own high watermark: at least WARNING
            why << (why.tellp() > 0 ? ", " : "") << "overloaded: " << printable(s.overloaded_reason);
            worst = std::max(worst, warning);
        }
        text << "queue " << printable(s.name) << ": ";
        if (worst != ok) text << why.str() << "; ";
        text << "depth " << s.depth << ", lag " << lag << (laggard.empty() ? "" : " (group " + laggard + ")")
             << ", dlq " << s.dlq.depth << ", oldest " << s.oldest_unacked_age_ms << " ms | " << perf.str();
        finish(worst, text.str());
    });
}

}  // namespace shmq::cli
