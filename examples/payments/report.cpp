#include "report.hpp"

#include <cstdio>
#include <string>

#include "payments.hpp"

namespace payments {

namespace {

std::string dollars(int64_t cents) {
    char buf[48];
    const int64_t a = cents < 0 ? -cents : cents;
    std::snprintf(buf, sizeof buf, "%s$%lld.%02lld", cents < 0 ? "-" : "", static_cast<long long>(a / 100),
                  static_cast<long long>(a % 100));
    return buf;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

bool published_ok(const std::optional<QueueCounters>& q, uint64_t n) { return q && q->published == n; }

std::string published(const std::optional<QueueCounters>& q) {
    return q ? std::to_string(q->published) : std::string("unknown (shmq stat failed)");
}

uint64_t redelivered(const std::optional<QueueCounters>& q, std::string_view group) {
    const GroupCounters* g = q ? q->group(std::string(group)) : nullptr;
    return g ? g->redelivered : 0;
}

}  // namespace

bool RunSummary::ok() const {
    return problems.empty() && ledger.inbox_rows == payments && ledger.balances_ok() && audit.distinct == payments &&
           audit.duplicates == 0 && audit.wrong == 0 && published_ok(requests_q, payments) &&
           published_ok(charged_q, payments) && published_ok(receipts_q, payments);
}

void print_report(std::ostream& out, const RunSummary& s) {
    const uint64_t n = s.payments;
    out << "payments: queues " << s.prefix << ".{requests,charged,receipts}, shmqd "
        << (s.shmqd_pid > 0 ? "pid " + std::to_string(s.shmqd_pid) : std::string("not running")) << ", files in "
        << s.dir << "\n";
    out << "checkout        " << n << " payments to " << std::size(kAccounts) << " accounts ("
        << encode(payment(1)) << ", ...), new ones at "
        << (s.rate ? std::to_string(s.rate) + "/s" : std::string("full speed")) << "\n";
    out << "                started " << s.checkout.starts << " time(s), each resending from pay-1: "
        << s.checkout.totals.new_sends << " sends enqueued, " << s.checkout.totals.duplicates
        << " answered duplicate\n";
    out << "requests        published " << published(s.requests_q) << " (shmq stat; dedup window "
        << kDedupWindowMs / 60000 << " min)" << (published_ok(s.requests_q, n) ? "" : "   <-- expected " + std::to_string(n))
        << "\n";
    out << "chargers        " << s.chargers.processes << " processes, started " << s.chargers.starts
        << " times; per their status pages: " << s.chargers.totals.applied << " charged, "
        << s.chargers.totals.already << " already applied, " << s.chargers.totals.commits << " commits, "
        << s.chargers.totals.lease_lost << " lease_lost\n";
    out << "ledger (SQLite) inbox rows " << s.ledger.inbox_rows << (s.ledger.inbox_rows == n ? " == " : " != ") << n
        << " payments; redeliveries the inbox found already applied: " << s.ledger.already_applied << "\n";
    for (const auto& a : s.ledger.accounts)
        out << "  balance       " << pad(a.account, 6) << pad(dollars(a.actual), 12)
            << (a.actual == a.expected ? "== " : "!= ") << pad(dollars(a.expected), 12) << "expected (sum of its requests)"
            << (a.actual == a.expected ? "" : "   <-- WRONG") << "\n";
    out << "charged         published " << published(s.charged_q) << "; group chargers redelivered "
        << redelivered(s.requests_q, kChargerGroup) << " request(s)"
        << (published_ok(s.charged_q, n) ? "" : "   <-- expected " + std::to_string(n)) << "\n";
    out << "receipts        " << s.receipts.processes << " processes, started " << s.receipts.starts
        << " times; published " << published(s.receipts_q) << " in " << s.receipts.totals.commits
        << " commits; group receipts redelivered " << redelivered(s.charged_q, kReceiptGroup) << " event(s)"
        << (published_ok(s.receipts_q, n) ? "" : "   <-- expected " + std::to_string(n)) << "\n";
    out << "audit           " << s.audit.received << " receipts read: " << s.audit.distinct << " distinct, "
        << s.audit.duplicates << " duplicate(s), " << s.audit.missing(n) << " missing, " << s.audit.wrong
        << " wrong" << (s.first_missing.empty() ? "" : " (first missing: " + s.first_missing + ")") << "\n";
    for (const auto& e : s.audit.examples) out << "                " << e << "\n";
    if (s.kill)
        out << "kills           checkout " << s.checkout.kills << ", chargers " << s.chargers.kills << " ("
            << s.chargers.aimed << " after a SQLite commit, before the shmq commit), receipts " << s.receipts.kills
            << " (" << s.receipts.aimed << " with a transaction open); SIGKILL every " << s.kill_min_ms << "-"
            << s.kill_max_ms << " ms, seed " << s.seed << "\n";
    else
        out << "kills           none (--no-kill)\n";
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s", s.seconds);
    out << "duration        " << secs << "\n";
    for (const auto& p : s.problems) out << "problem         " << p << "\n";
    if (s.ok())
        out << "result          OK: every payment charged exactly once, one event and one receipt each\n";
    else
        out << "result          FAILED (see above)\n";
}

}  // namespace payments
