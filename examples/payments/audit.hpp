// The audit: what the run must end with, read from what cannot lie.
//   ReceiptAudit  drains P.receipts (group "audit", in the orchestrator,
//                 which is never killed) and counts each pay-<i>'s receipts;
//   LedgerAudit   reads the SQLite ledger: inbox rows and every balance
//                 against the sum of the requests (payments.hpp generates them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <shmq/shmq.hpp>

namespace payments {

struct ReceiptCounts {
    uint64_t received = 0;    // receipt messages read
    uint64_t distinct = 0;    // payments with at least one receipt
    uint64_t duplicates = 0;  // receipts beyond the first of a payment
    uint64_t wrong = 0;       // malformed, out of range, or not matching the request
    std::vector<std::string> examples;  // the first few duplicate or wrong receipts, for the report
    uint64_t missing(uint64_t n) const { return n - distinct; }
};

class ReceiptAudit {
public:
    ReceiptAudit(const std::string& queue, uint64_t payments);
    // Reads (and ACKs) what is there, waiting up to `timeout` for the first.
    void poll(shmq::Millis timeout);
    const ReceiptCounts& counts() const { return counts_; }
    // The first missing pay-<i>, for a failed run's report ("" when none).
    std::string first_missing() const;

private:
    void note(std::string_view text);
    shmq::Queue queue_;
    shmq::Consumer consumer_;
    uint64_t n_;
    std::vector<uint32_t> seen_;  // index: payment id
    ReceiptCounts counts_;
};

struct AccountCheck {
    std::string account;
    int64_t expected = 0;  // the sum of its requests' cents
    int64_t actual = 0;    // balances.cents
};

struct LedgerCounts {
    uint64_t inbox_rows = 0;
    uint64_t already_applied = 0;  // inbox hits: redelivered requests the inbox kept from charging twice
    std::vector<AccountCheck> accounts;
    bool balances_ok() const {
        for (const auto& a : accounts)
            if (a.expected != a.actual) return false;
        return true;
    }
};

LedgerCounts audit_ledger(const std::string& path, uint64_t payments);

}  // namespace payments
