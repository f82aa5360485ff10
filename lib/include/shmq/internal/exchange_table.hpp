// An exchange's routing table in shared memory (layout: exchange_layout.hpp):
// create/open/remove, bind/unbind by admins, lock-free snapshots and routing
// for publishers, and the per-producer RouteCache.
//
// Writers (bind, unbind, delete) serialize on an OFD write lock of the
// object's first byte (fcntl F_OFD_SETLKW). The kernel drops it when its
// holder dies, so a SIGKILLed admin leaves no lock to repair; we chose it
// over a robust pthread mutex because it needs no repair step and works
// across pid namespaces. Bindings from one exchange to another also take a
// host-wide OFD lock (/dev/shm/shmq-x-graph.lock) first, so two of them can
// never together close a cycle that each alone would not.
//
// Read protocol (copy-and-switch; the writer W holds the writer lock):
//   W1 c = current (v, i); the new version v+1 goes to buffer j = 1 - i
//   W2 buffer[j].stamp = 2v+1 (odd: being written)   relaxed
//   W3 the image's words                              release (each: W2 before it)
//   W4 buffer[j].stamp = 2(v+1)                      release
//   W5 current = ((v+1) << 1) | j                    release: publishes W3/W4
//   R1 c = current (v, i)                            acquire: pairs with W5
//   R2 s1 = buffer[i].stamp; s1 != 2v: case (2)
//   R3 the image's words                              acquire (each: before R4)
//   R4 s2 = buffer[i].stamp; s2 != s1: case (3); else case (1)
// (Release stores and acquire loads rather than the classic seqlock's
// fences: plain moves on x86 all the same, and TSan, which takes no
// fences, sees the edges.)
// Cases:
//   (1) s1 == s2 == 2v: by R1/W5 the reader saw all of version v's stores;
//       no later writer stored into buffer i before R4: a W3 store of a later
//       writer read at R3 (release, after its W2; our load acquire, before
//       R4) would make R4 see that writer's odd stamp or a later one, never
//       2v again (stamps only grow). The copy is version v.
//   (2) buffer i no longer holds v: a writer for v+2 or later reused it, so
//       current has moved; reload it and retry. If current still reads c,
//       nobody can be writing buffer i (W writes only the buffer current does
//       not name): the table is scribbled -> region_corrupt, no retry.
//   (3) overwritten while copied: retry; current has moved on.
// Every retry follows a completed bind/unbind (lock-free, not wait-free);
// after kMaxReadAttempts the read gives up with Errc::timeout. A writer
// SIGKILLed anywhere in W2..W4 leaves buffer j odd or unpublished and
// `current` naming the intact buffer i: readers never loop on it, and the
// next writer rewrites buffer j from scratch.
// Linearizability: a bind/unbind takes effect at W5; a read, at R1. A read
// that starts after bind() returned loads `current` >= that version.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shmq/internal/exchange_layout.hpp"
#include "shmq/internal/route_match.hpp"
#include "shmq/shmq.hpp"

namespace shmq::detail {

// "shmq-x.<name>" and "/dev/shm/shmq-x.<name>".
inline constexpr std::string_view kExchangePrefix = "shmq-x.";
std::string exchange_object_path(std::string_view exchange);

const char* to_string(xlayout::ExchangeType t) noexcept;
std::optional<xlayout::ExchangeType> exchange_type_from(std::string_view text) noexcept;

struct Binding {
    xlayout::DestKind kind = xlayout::DestKind::queue;
    std::string dest;
    std::string key;
    xlayout::HeaderMatch match = xlayout::HeaderMatch::none;  // all/any on headers exchanges only
    std::vector<HeaderKV> headers;
    friend bool operator==(const Binding&, const Binding&) = default;
};

// One consistent version of a table.
struct TableSnapshot {
    uint64_t version = 0;
    std::vector<Binding> bindings;  // in bind order
};

// An exchange's publish counters (exchange_layout.hpp, ExchangeHeader):
// monotonic, read without ordering, so a snapshot may be a moment old.
struct ExchangeCounters {
    uint64_t routed = 0;      // publishes that reached at least one bound queue
    uint64_t unroutable = 0;  // publishes no binding matched (to the alternate or not)
};

struct BindOutcome {
    bool changed = false;  // false: bind of a binding already there (idempotent), nothing written
    uint64_t version = 0;  // the table's version after the call
};

class ExchangeTable {
public:
    // Throws Error: invalid_argument (bad name/alternate), already_exists, permission_denied, no_resources.
    static std::shared_ptr<ExchangeTable> create(std::string_view name, xlayout::ExchangeType type,
                                                 std::string_view alternate = {});
    // Throws Error: not_found, region_corrupt (with what is wrong), permission_denied.
    // writable = false maps it read-only (ls, routing); bind/unbind need true.
    static std::shared_ptr<ExchangeTable> open(std::string_view name, bool writable = true);
    // Read-only, and never waiting for a creator: nullptr while the object's
    // header is not published yet (being created, or its creator died doing
    // so). For listings and routers, which must not stall on it.
    static std::shared_ptr<ExchangeTable> open_if_finished(std::string_view name);
    // Marks it deleted (routers holding it see that), publishes a new version
    // of the same bindings (so that plans cached on the old one are dropped:
    // Publisher), then unlinks it. Throws not_found.
    static void remove(std::string_view name);
    static bool exists(std::string_view name);
    // The exchange names found in /dev/shm (valid names only), sorted.
    static std::vector<std::string> list_names();

    ~ExchangeTable();
    ExchangeTable(const ExchangeTable&) = delete;
    ExchangeTable& operator=(const ExchangeTable&) = delete;

    const std::string& name() const noexcept { return name_; }
    xlayout::ExchangeType type() const noexcept { return type_; }
    const std::string& alternate() const noexcept { return alternate_; }  // empty: none
    // Inline: a publisher checks these on every publish.
    // acquire: pairs with remove()'s store; a deleted exchange is never used after this sees it.
    bool deleted() const noexcept {
        return header().lifecycle.load(std::memory_order_acquire) != static_cast<uint32_t>(xlayout::Lifecycle::live);
    }
    // The newest published version (one acquire load, pairing with W5 as R1
    // does): what a cache compares. Racy by nature: a bind may publish right after.
    uint64_t version_guess() const noexcept { return header().current.load(std::memory_order_acquire) >> 1; }
    // The `current` word itself ((version << 1) | buffer), for a publisher's
    // cached plan to load without the hops to reach it; read it as
    // version_guess() does (acquire, version = word >> 1).
    const std::atomic<uint64_t>& current_word() const noexcept { return header().current; }

    // The publish counters (relaxed loads: counts, not synchronization):
    // routed sums the shared count and the publishers' own (exchange_layout.hpp).
    ExchangeCounters counters_guess() const noexcept {
        uint64_t routed = header().routed.load(std::memory_order_relaxed);
        for (const auto& c : header().publisher_routed) routed += c.routed.load(std::memory_order_relaxed);
        return {routed, header().unroutable.load(std::memory_order_relaxed)};
    }
    // A count of its own for this mapping's publisher, kept while this object
    // lives (the lock of its byte goes with the descriptor). nullptr: a
    // read-only mapping, or every cell taken; count_routed() then shares `routed`.
    std::atomic<uint64_t>* take_publisher_count() noexcept;
    // Publisher::publish bumps them (relaxed fetch_add: a count, it orders
    // nothing); a read-only mapping (listings) cannot count and does nothing.
    void count_routed() noexcept {
        if (writable_) header().routed.fetch_add(1, std::memory_order_relaxed);
    }
    // The owner's bump of its own cell: one writer, so a load and a store.
    static void count_routed_in(std::atomic<uint64_t>& own) noexcept {
        own.store(own.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void count_unroutable() noexcept {
        if (writable_) header().unroutable.fetch_add(1, std::memory_order_relaxed);
    }

    // A consistent copy of the newest version (protocol above). Never throws;
    // on failure `why` (if given) gets one sentence.
    [[nodiscard]] Errc snapshot(TableSnapshot& out, std::string* why = nullptr) const;

    // Admin operations (throw Error with one sentence saying what to do):
    //   bind: invalid_argument (bad binding for this type, a cycle), not_found
    //   (destination missing, exchange deleted), no_resources (kMaxBindings).
    BindOutcome bind(const Binding& b);
    // Removes every binding to (kind, dest) with this key; not_found if none.
    uint64_t unbind(xlayout::DestKind kind, std::string_view dest, std::string_view key);

    // Tests only: the object's bytes, to scribble on.
    std::byte* raw_for_tests() const noexcept { return base_; }

private:
    ExchangeTable() = default;
    xlayout::ExchangeHeader& header() const noexcept { return *reinterpret_cast<xlayout::ExchangeHeader*>(base_); }
    xlayout::TableBuffer& buffer(uint64_t i) const noexcept {
        return *reinterpret_cast<xlayout::TableBuffer*>(base_ + xlayout::kBufferOffset[i & 1]);
    }
    // false: the magic is still 0 and wait_for_creator is false.
    bool validate_header(bool wait_for_creator);
    static std::shared_ptr<ExchangeTable> open_mapped(std::string_view name, bool writable, bool wait_for_creator);
    // Under the writer lock: the current snapshot, or throws region_corrupt.
    TableSnapshot locked_snapshot() const;
    // Under the writer lock: writes `bindings` as version snapshot.version + 1 (W1..W5).
    uint64_t publish(const TableSnapshot& from, const std::vector<Binding>& bindings);

    std::string name_, alternate_;
    xlayout::ExchangeType type_ = xlayout::ExchangeType::direct;
    int fd_ = -1;
    std::byte* base_ = nullptr;
    bool writable_ = false;
};

// Checks a binding against an exchange type; an error sentence or nullopt.
std::optional<std::string> check_binding(xlayout::ExchangeType type, const Binding& b);
// Whether binding `b` of an exchange of `type` takes a message (key, headers).
bool binding_matches(xlayout::ExchangeType type, const Binding& b, std::string_view routing_key,
                     std::span<const HeaderKV> headers) noexcept;

// ---------------------------------------------------------------------------
// Routing: where a message goes (what Publisher::publish sends through, and `shmq exchange route` shows).

struct TableVersion {
    std::string exchange;
    uint64_t version = 0;
    friend bool operator==(const TableVersion&, const TableVersion&) = default;
};

struct RouteResult {
    std::vector<std::string> queues;   // where the message goes, each live queue once, in the order reached
    std::size_t matched = 0;           // live queues matched by bindings (0 when unroutable)
    bool unroutable = false;           // no live queue matched
    bool to_alternate = false;         // unroutable, and queues = {the source's live alternate}
    std::vector<std::string> skipped;  // matched destinations found deleted (queues, then "exchange:" + name), once each
    uint64_t version = 0;              // of the source exchange's table
    std::vector<TableVersion> tables;  // every table consulted (source first) and the version read
};

// How routing sees the world; tests inject their own.
struct RouteEnv {
    std::function<bool(std::string_view queue)> queue_live;
    // nullptr when missing or deleted.
    std::function<std::shared_ptr<const ExchangeTable>(std::string_view exchange)> open_exchange;
};
// Queues are live when their region exists and is not marked deleted;
// exchanges are opened read-only, each once per environment.
RouteEnv default_route_env();
bool queue_is_live(std::string_view queue);

// Resolves (routing key, headers) through `source` and the exchanges it is
// bound to. Errc::ok, or invalid_argument (key too long), not_found (source
// deleted), region_corrupt / timeout (the source's table could not be read).
// A downstream exchange that is gone or unreadable is listed in `skipped`.
[[nodiscard]] Errc route(const ExchangeTable& source, std::string_view routing_key, std::span<const HeaderKV> headers,
                         const RouteEnv& env, RouteResult& out, std::string* why = nullptr);

// One publisher's memo of routing results: (routing key, headers) -> result,
// valid while every table it consulted still has the version it read. Queue
// liveness is not part of the key: a queue deleted since is found by the send.
class RouteCache {
public:
    explicit RouteCache(std::size_t max_entries = 1024) : max_entries_(max_entries) {}
    // version_of(exchange): its current version (0: gone).
    const RouteResult* find(std::string_view routing_key, std::span<const HeaderKV> headers,
                            const std::function<uint64_t(std::string_view)>& version_of) const;
    // Stores `result`; the reference stays valid until the next put().
    const RouteResult& put(std::string_view routing_key, std::span<const HeaderKV> headers, RouteResult result);
    std::size_t size() const noexcept { return entries_.size(); }

private:
    static std::string cache_key(std::string_view routing_key, std::span<const HeaderKV> headers);
    std::size_t max_entries_;
    std::unordered_map<std::string, RouteResult> entries_;
};

}  // namespace shmq::detail
