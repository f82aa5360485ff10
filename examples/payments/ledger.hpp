// The chargers' side effect, outside shmq: a SQLite ledger (one file, WAL
// mode, a busy timeout) with the inbox pattern.
//
//   inbox(dedup_id TEXT PRIMARY KEY)            every request ever applied
//   balances(account TEXT PRIMARY KEY, cents)   what each account was charged
//   counters(name TEXT PRIMARY KEY, n)          "already_applied": inbox hits
//
// Ledger::charge runs ONE SQLite transaction: insert the request's dedup id
// into inbox; if it was there already, count the hit and change nothing
// else; if not, add the charge to the account's balance; commit. A process
// killed anywhere in it leaves either all of it or none of it (SQLite rolls
// an unfinished transaction back on the next open). synchronous=NORMAL: a
// commit is in the WAL (the page cache) when it returns, which survives the
// death of any process; it is fsynced at checkpoints, not per commit.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace payments {

class Ledger {
public:
    // Creates the file and its tables (the orchestrator, before any charger).
    static void create(const std::string& path);
    // Opens an existing ledger. Throws std::runtime_error (one line) on any SQLite error.
    explicit Ledger(const std::string& path);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    enum class Outcome { charged, already_applied };
    Outcome charge(std::string_view dedup_id, std::string_view account, int64_t cents);

    // For the audit.
    uint64_t inbox_rows();
    uint64_t already_applied();
    std::map<std::string, int64_t> balances();

private:
    void close() noexcept;
    void exec(const char* sql);
    sqlite3_stmt* prepare(const char* sql);
    [[noreturn]] void fail(const std::string& what);
    sqlite3* db_ = nullptr;
    std::string path_;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* insert_inbox_ = nullptr;
    sqlite3_stmt* add_balance_ = nullptr;
    sqlite3_stmt* count_hit_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    sqlite3_stmt* rollback_ = nullptr;
};

}  // namespace payments
