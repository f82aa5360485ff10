// shmq top: a live view of every queue, sorted by depth, with rates from the
// previous refresh. Full-screen on a terminal (quit with q); plain periodic
// tables when stdout is not a terminal.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "command.hpp"
#include "format.hpp"
#include "shmq/internal/inspect.hpp"
#include "rates.hpp"

namespace shmq::cli {

namespace {

struct Row {
    inspect::QueueSnapshot snap;
    QueueRates rates;
    uint64_t max_lag = 0;
};

// The terminal in raw mode on the alternate screen for the object's lifetime.
class Screen {
public:
    Screen() {
        if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            restore_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
        std::cout << "\033[?1049h\033[?25l" << std::flush;  // alternate screen, hide cursor
    }
    ~Screen() {
        std::cout << "\033[?25h\033[?1049l" << std::flush;
        if (restore_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    Screen(const Screen&) = delete;
    Screen& operator=(const Screen&) = delete;

    // Waits up to `ms` for a key; true if it was q/Q.
    static bool quit_pressed(uint64_t ms) {
        pollfd fd{STDIN_FILENO, POLLIN, 0};
        if (::poll(&fd, 1, static_cast<int>(ms)) <= 0) return false;
        char c = 0;
        while (::read(STDIN_FILENO, &c, 1) == 1)
            if (c == 'q' || c == 'Q') return true;
        return false;
    }
    static int rows() {
        winsize w{};
        return ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_row > 4 ? w.ws_row : 24;
    }

private:
    termios saved_{};
    bool restore_ = false;
};

// Queues listed but not shown as rows: unreadable, or still being created.
struct Skipped {
    std::vector<std::string> unreadable, creating;
};

std::vector<Row> sample(std::map<std::string, inspect::QueueSnapshot>& previous, Skipped& skipped) {
    std::vector<Row> rows;
    std::map<std::string, inspect::QueueSnapshot> now;
    skipped = {};
    for (const auto& name : inspect::list_queue_names()) {
        try {
            auto region = inspect::open_listed(name);
            if (!region) {  // its creator has not published it (yet): never waited for
                skipped.creating.push_back(name);
                continue;
            }
            Row r;
            r.snap = inspect::snapshot(*region);
            auto it = previous.find(name);
            r.rates = it == previous.end() ? zero_rates(r.snap) : compute_rates(it->second, r.snap);
            for (const auto& g : r.snap.groups) r.max_lag = std::max(r.max_lag, g.total.lag);
            now[name] = r.snap;
            rows.push_back(std::move(r));
        } catch (const Error&) {
            skipped.unreadable.push_back(name);
        }
    }
    previous = std::move(now);
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return a.snap.depth != b.snap.depth ? a.snap.depth > b.snap.depth : a.snap.name < b.snap.name;
    });
    return rows;
}

std::string render(const std::vector<Row>& rows, const Skipped& skipped, bool color, std::size_t max_rows) {
    Table t({"NAME", "PARTS", "DEPTH", "IN-FLIGHT", "PUB/S", "ACK/S", "MAX-LAG", "OLDEST", "GROUPS", "CONSUMERS",
             "PRODUCERS", "DLQ", "STATE"});
    std::vector<bool> dlq_rows;
    for (const auto& r : rows) {
        if (dlq_rows.size() >= max_rows) break;
        const auto& s = r.snap;
        t.add({s.name, std::to_string(s.options.partitions), human_count(s.depth), human_count(s.in_flight),
               human_rate(r.rates.published_per_s), human_rate(r.rates.acked_per_s), human_count(r.max_lag),
               human_age_ms(s.oldest_unacked_age_ms), std::to_string(s.groups.size()),
               std::to_string(s.consumers), std::to_string(s.producers), human_count(s.dlq.depth),
               s.overloaded ? s.state + ", overloaded" : s.state});
        dlq_rows.push_back(s.dlq.depth > 0 || s.state != "live" || s.overloaded);
    }
    if (rows.empty() && skipped.unreadable.empty() && skipped.creating.empty())
        return "no queues (create one with `shmq create NAME`)\n";
    // Highlight (bold red) the rows of queues with dead letters, overloaded or in a bad state.
    std::string out, table = t.render();
    std::size_t line = 0, pos = 0;
    while (pos < table.size()) {
        const std::size_t end = table.find('\n', pos);
        const std::string text = table.substr(pos, end - pos);
        const bool hot = color && line > 0 && line - 1 < dlq_rows.size() && dlq_rows[line - 1];
        out += hot ? "\033[1;31m" + text + "\033[0m\n" : text + "\n";
        pos = end == std::string::npos ? table.size() : end + 1;
        ++line;
    }
    if (rows.size() > max_rows) out += "... " + std::to_string(rows.size() - max_rows) + " more\n";
    for (const auto& name : skipped.creating) out += "creating: " + printable(name) + "\n";
    for (const auto& name : skipped.unreadable) out += "unreadable: " + printable(name) + "\n";
    return out;
}

std::string clock_line(uint64_t interval_ms) {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%F %T", std::localtime(&t));
    return std::string("shmq top - ") + buf + ", every " + human_ms(interval_ms);
}

}  // namespace

void register_top(CLI::App& app) {
    struct Args {
        double interval_s = 1;
        uint64_t count = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("top", "Live view of all queues, sorted by depth (q quits)");
    cmd->add_option("--interval", args->interval_s, "Seconds between refreshes")->check(CLI::Range(0.1, 3600.0));
    cmd->add_option("--count", args->count, "Stop after this many refreshes (default: until q or Ctrl-C)");
    cmd->footer(
        "On a terminal: a full-screen table refreshed in place, DLQ and broken queues in red;\n"
        "q quits. Otherwise (a pipe, a file): one plain table per refresh; --count 1 prints one.\n"
        "Queues that cannot be read, or whose creator has not finished them, are named below\n"
        "the table (`unreadable:`, `creating:`); neither is waited for.\n\n"
        "Examples:\n"
        "  shmq top\n"
        "  shmq top --interval 5 --count 12 >> queues.log");
    cmd->callback([args] {
        install_stop_handlers();
        const auto interval_ms = static_cast<uint64_t>(args->interval_s * 1000);
        const bool tty = ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDIN_FILENO) == 1;
        std::map<std::string, inspect::QueueSnapshot> previous;
        Skipped skipped;
        if (!tty) {
            for (uint64_t n = 0; (args->count == 0 || n < args->count) && !stop_requested(); ++n) {
                if (n > 0) sleep_interruptibly(interval_ms);
                if (stop_requested()) break;
                const auto rows = sample(previous, skipped);
                std::cout << clock_line(interval_ms) << "\n"
                          << render(rows, skipped, false, SIZE_MAX) << "\n"
                          << std::flush;
            }
            return;
        }
        Screen screen;
        for (uint64_t n = 0; (args->count == 0 || n < args->count) && !stop_requested(); ++n) {
            const auto rows = sample(previous, skipped);
            const auto fit = static_cast<std::size_t>(std::max(1, Screen::rows() - 4));
            std::cout << "\033[H\033[2J" << clock_line(interval_ms) << " (q quits)\n\n"
                      << render(rows, skipped, true, fit) << std::flush;
            if (Screen::quit_pressed(interval_ms)) break;
        }
    });
}

}  // namespace shmq::cli
