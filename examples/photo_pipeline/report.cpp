#include "report.hpp"

#include <algorithm>
#include <cstdio>

#include "pipeline.hpp"

namespace photo_pipeline {

namespace {

std::string pad(std::string s, std::size_t width, bool right = false) {
    if (s.size() >= width) return s + " ";
    const std::string fill(width - s.size(), ' ');
    return right ? fill + s + " " : s + fill + " ";
}

std::string num(uint64_t v, std::size_t width) { return pad(std::to_string(v), width, true); }

// Ends a line built of pad()ded cells.
void end_line(std::ostream& out, std::string line) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
}

std::string seconds(uint64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
    return buf;
}

std::string join_ids(const std::vector<uint64_t>& ids) {
    std::string s;
    for (uint64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return s;
}

}  // namespace

uint64_t RunSummary::lost() const {
    uint64_t n = 0;
    for (const auto& g : groups) n += g.lost();
    return n;
}

bool RunSummary::ok() const {
    if (!problems.empty() || lost() != 0 || upload.sent != expected.photos) return false;
    for (const auto& g : groups)
        if (g.corrupt_processed != 0 || g.malformed != 0) return false;
    return true;
}

void print_report(std::ostream& out, const RunSummary& s) {
    out << "photo_pipeline: queue " << s.queue << ", "
        << (s.shmqd_pid > 0 ? "shmqd pid " + std::to_string(s.shmqd_pid) : std::string("no shmqd")) << ", files in "
        << s.dir << "\n";
    out << pad("messages in", 15) << s.upload.sent << " photos (" << s.expected.corrupt.size() << " corrupt"
        << (s.expected.corrupt.empty() ? "" : ": " + join_ids(s.expected.corrupt)) << ")";
    if (s.upload.elapsed_ns != 0)  // 0: the upload did not finish
        out << ", sent in " << seconds(s.upload.elapsed_ns)
            << (s.rate ? " (" + std::to_string(s.rate) + "/s in bursts)" : std::string(" (flat out)"));
    out << "\n";
    if (!s.kill.label.empty())
        out << pad("killed worker", 15) << s.kill.label << ", pid " << s.kill.pid << ": SIGKILL while it held "
            << s.kill.held << " unACKed message(s)\n";

    end_line(out, pad("group", 15) + pad("workers", 7, true) + pad("processed", 9, true) + pad("lost", 5, true) +
                      pad("duplicates", 10, true) + pad("redelivered", 11, true) + pad("dead-lettered", 13, true));
    for (const auto& g : s.groups)
        end_line(out, pad(g.name, 15) + num(g.workers, 7) + num(g.processed, 9) + num(g.lost(), 5) +
                          num(g.duplicates, 10) + num(g.redelivered, 11) + num(g.dead_lettered, 13));

    auto row = [&](const std::string& label, const Percentiles& p, const char* what) {
        out << pad(label, 15) << pad(format_ns(p.p50), 9) << pad(format_ns(p.p90), 9) << pad(format_ns(p.p99), 9)
            << pad(format_ns(p.max), 9) << what << "\n";
    };
    end_line(out, pad("latency", 15) + pad("p50", 9) + pad("p90", 9) + pad("p99", 9) + pad("max", 9));
    if (s.upload.elapsed_ns != 0) row("upload send()", s.upload.send, "Producer::send, in the upload process");
    for (const auto& g : s.groups) {
        row(g.name, g.e2e_sent, "end to end: upload's send() -> worker done (CLOCK_REALTIME)");
        row("", g.e2e_publish, "the same from Message::publish_unix_ns (CLOCK_REALTIME_COARSE)");
    }

    out << pad("shmq stat", 15) << "published " << s.counters.published;
    for (const auto& g : s.counters.groups)
        out << "; " << g.name << " redelivered " << g.redelivered << ", dead-lettered " << g.dead_lettered;
    out << "; DLQ depth " << s.counters.dlq_depth << "\n";
    out << pad("shmq dlq ls", 15);
    if (s.dlq.empty()) out << "(empty)";
    for (std::size_t i = 0; i < s.dlq.size(); ++i)
        out << (i ? "; " : "") << "photo " << s.dlq[i].key << " (" << s.dlq[i].group << ", " << s.dlq[i].deliveries
            << " deliveries, " << s.dlq[i].reason << ")";
    out << "\n";

    for (const auto& g : s.groups) {
        if (g.name == s.kill.group && g.first_redelivery_ns > s.kill.unix_ns)
            out << pad("redelivery", 15) << "first redelivered photo processed "
                << format_ns(g.first_redelivery_ns - s.kill.unix_ns) << " after the kill (lease " << kLeaseMs
                << " ms; " << (s.shmqd_pid > 0 ? "shmqd returned it at once" : "it waited for the lease to expire")
                << ")\n";
        if (g.missing != 0)
            out << pad("missing", 15) << g.name << ": " << g.missing
                << " photo(s) not processed when the run ended, e.g. " << join_ids(g.missing_examples) << "\n";
        if (g.not_dead_lettered != 0)
            out << pad("missing", 15) << g.name << ": " << g.not_dead_lettered
                << " corrupt photo(s) not in the DLQ\n";
        if (g.corrupt_processed != 0)
            out << pad("bug", 15) << g.name << ": " << g.corrupt_processed << " record(s) of corrupt photos\n";
        if (g.malformed != 0) out << pad("bug", 15) << g.name << ": " << g.malformed << " malformed record line(s)\n";
    }
    for (const auto& p : s.problems) out << pad("problem", 15) << p << "\n";

    uint64_t dead = s.expected.corrupt.size();
    for (const auto& g : s.groups) dead = std::min(dead, g.dead_lettered);
    out << pad("lost", 15) << s.lost() << "\n";
    out << pad("dead-lettered", 15) << dead << " photo(s), each once per group\n";
    if (s.ok())
        out << pad("result", 15) << "OK: every good photo processed by every group, every corrupt one dead-lettered\n";
    else
        out << pad("result", 15) << "FAILED: see the lines above; files kept in " << s.dir << "\n";
}

}  // namespace photo_pipeline
