#include "audit.hpp"

#include <array>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

#include "ledger.hpp"
#include "payments.hpp"

namespace payments {

ReceiptAudit::ReceiptAudit(const std::string& queue, uint64_t payments)
    : queue_(shmq::Queue::open(queue)),
      consumer_(queue_.consumer(kAuditGroup, {.kind = shmq::GroupKind::shared})),
      n_(payments),
      seen_(payments + 1, 0) {}

void ReceiptAudit::note(std::string_view text) {
    ++counts_.received;
    const auto p = decode(text, "receipt");
    if (!p || p->id > n_ || p->account != payment(p->id).account || p->cents != payment(p->id).cents) {
        ++counts_.wrong;
        if (counts_.examples.size() < 5) counts_.examples.push_back("wrong: '" + std::string(text) + "'");
        return;
    }
    if (seen_[p->id]++ == 0) {
        ++counts_.distinct;
    } else {
        ++counts_.duplicates;
        if (counts_.examples.size() < 5)
            counts_.examples.push_back("receipt #" + std::to_string(seen_[p->id]) + " of " + pay_id(p->id));
    }
}

void ReceiptAudit::poll(shmq::Millis timeout) {
    std::array<shmq::Message, 256> batch;
    for (;;) {
        const shmq::BatchResult got = consumer_.receive_batch(batch, timeout);
        if (!got.ok()) {
            if (got.code() == shmq::Errc::timeout) return;
            throw std::runtime_error("audit: receive from " + queue_.name() + " failed: " + got.status.message());
        }
        for (auto& m : std::span(batch).first(got.count)) note(m.text());
        shmq::ack_all(std::span(batch).first(got.count));
        if (got.count < batch.size()) return;
        timeout = shmq::Millis(0);
    }
}

std::string ReceiptAudit::first_missing() const {
    for (uint64_t i = 1; i <= n_; ++i)
        if (seen_[i] == 0) return pay_id(i);
    return "";
}

LedgerCounts audit_ledger(const std::string& path, uint64_t payments) {
    std::map<std::string, int64_t> expected;
    for (auto a : kAccounts) expected[std::string(a)] = 0;
    for (uint64_t i = 1; i <= payments; ++i) {
        const Payment p = payment(i);
        expected[std::string(p.account)] += p.cents;
    }
    Ledger ledger(path);
    LedgerCounts c;
    c.inbox_rows = ledger.inbox_rows();
    c.already_applied = ledger.already_applied();
    auto actual = ledger.balances();
    for (const auto& [account, cents] : expected) c.accounts.push_back({account, cents, actual[account]});
    for (const auto& [account, cents] : actual)  // an account nobody should have charged
        if (!expected.contains(account)) c.accounts.push_back({account, 0, cents});
    return c;
}

}  // namespace payments
