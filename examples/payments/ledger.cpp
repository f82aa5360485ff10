#include "ledger.hpp"

#include <sqlite3.h>
#include <stdexcept>

namespace payments {

namespace {

constexpr int kBusyTimeoutMs = 10000;  // the other charger holds the write lock for microseconds

sqlite3* open_db(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw std::runtime_error("cannot open SQLite ledger " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    return db;
}

}  // namespace

void Ledger::create(const std::string& path) {
    sqlite3* db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    char* err = nullptr;
    const int rc = sqlite3_exec(db,
                                "PRAGMA journal_mode=WAL;"
                                "CREATE TABLE inbox(dedup_id TEXT PRIMARY KEY) WITHOUT ROWID;"
                                "CREATE TABLE balances(account TEXT PRIMARY KEY, cents INTEGER NOT NULL);"
                                "CREATE TABLE counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
                                "INSERT INTO counters VALUES('already_applied', 0);",
                                nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error("cannot create the SQLite ledger " + path + ": " + msg);
}

Ledger::Ledger(const std::string& path) : path_(path) {
    db_ = open_db(path, SQLITE_OPEN_READWRITE);
    try {
        exec("PRAGMA journal_mode=WAL");  // persistent, but say so: this is what the example relies on
        exec("PRAGMA synchronous=NORMAL");
        begin_ = prepare("BEGIN IMMEDIATE");  // take the write lock first: no upgrade deadlock between chargers
        insert_inbox_ = prepare("INSERT INTO inbox(dedup_id) VALUES(?1) ON CONFLICT DO NOTHING");
        add_balance_ = prepare(
            "INSERT INTO balances(account, cents) VALUES(?1, ?2) "
            "ON CONFLICT(account) DO UPDATE SET cents = cents + excluded.cents");
        count_hit_ = prepare("UPDATE counters SET n = n + 1 WHERE name = 'already_applied'");
        commit_ = prepare("COMMIT");
        rollback_ = prepare("ROLLBACK");
    } catch (...) {
        close();
        throw;
    }
}

Ledger::~Ledger() { close(); }

void Ledger::close() noexcept {
    for (sqlite3_stmt* s : {begin_, insert_inbox_, add_balance_, count_hit_, commit_, rollback_}) sqlite3_finalize(s);
    sqlite3_close(db_);
    db_ = nullptr;
}

void Ledger::fail(const std::string& what) {
    throw std::runtime_error("SQLite ledger " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

void Ledger::exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
}

sqlite3_stmt* Ledger::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        fail(std::string("prepare ") + sql);
    return s;
}

Ledger::Outcome Ledger::charge(std::string_view dedup_id, std::string_view account, int64_t cents) {
    auto run = [&](sqlite3_stmt* s, const char* what) {
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            if (s != begin_ && sqlite3_get_autocommit(db_) == 0) {
                sqlite3_step(rollback_);
                sqlite3_reset(rollback_);
            }
            fail(what);
        }
    };
    run(begin_, "BEGIN IMMEDIATE");
    sqlite3_bind_text(insert_inbox_, 1, dedup_id.data(), static_cast<int>(dedup_id.size()), SQLITE_TRANSIENT);
    run(insert_inbox_, "insert into inbox");
    const bool fresh = sqlite3_changes(db_) == 1;
    if (fresh) {
        sqlite3_bind_text(add_balance_, 1, account.data(), static_cast<int>(account.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(add_balance_, 2, cents);
        run(add_balance_, "update balances");
    } else {
        run(count_hit_, "count an inbox hit");
    }
    run(commit_, "COMMIT");
    return fresh ? Outcome::charged : Outcome::already_applied;
}

uint64_t Ledger::inbox_rows() {
    sqlite3_stmt* s = prepare("SELECT count(*) FROM inbox");
    const uint64_t n = sqlite3_step(s) == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(s, 0)) : 0;
    sqlite3_finalize(s);
    return n;
}

uint64_t Ledger::already_applied() {
    sqlite3_stmt* s = prepare("SELECT n FROM counters WHERE name = 'already_applied'");
    const uint64_t n = sqlite3_step(s) == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(s, 0)) : 0;
    sqlite3_finalize(s);
    return n;
}

std::map<std::string, int64_t> Ledger::balances() {
    std::map<std::string, int64_t> out;
    sqlite3_stmt* s = prepare("SELECT account, cents FROM balances");
    while (sqlite3_step(s) == SQLITE_ROW)
        out[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    return out;
}

}  // namespace payments
