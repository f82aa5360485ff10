// shmq::Publisher: publishing through an exchange (docs/ARCHITECTURE.md,
// "Exchanges"). Which queues: the exchange's route, remembered; how: one
// target is a plain Producer::send, several go through publish_atomically
// (all or nothing).
//
// Caches, from the cheapest:
//  - the last plan: the route last used, with its targets' producers. Reused
//    while the routing key and headers are the same, every table it
//    consulted still has the version it read (one acquire load of its
//    `current` word each, pairing with the admin's W5: a bind, unbind or
//    delete that returned before this publish began is seen; a delete
//    publishes a new version for this, ExchangeTable::remove), no target
//    queue is marked deleted, and no destination it skipped has come back.
//    No allocation, no copy, no table read.
//  - RouteCache: routes per (routing key, headers), under the same rule.
//  - targets: one Queue + Producer per queue name, opened on first use,
//    dropped when its queue is found deleted (a recreated queue is opened
//    anew by the next route).
// The send itself answers queue_deleted for a queue deleted since (a
// round more, below); one deleted in the nanoseconds between the send's
// check and its publish takes the message with it, as it would a plain
// Producer's: deletion is an admin's act, not a race a send can close.
#include <cstring>
#include <map>

#include "producer_core.hpp"
#include "shmq/internal/attributes.hpp"
#include "shmq/internal/exchange_table.hpp"
#include "tx/atomic_publish.hpp"

namespace shmq {
namespace detail {

namespace {

constexpr std::string_view kExchangeMark = "exchange:";  // RouteResult::skipped's prefix for exchanges

constexpr uint32_t kLiveRegion = static_cast<uint32_t>(layout::Lifecycle::live);

// a == b, inline (routing keys are short: no call into memcmp).
inline bool same_bytes(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    std::size_t i = 0;
    for (; i + 8 <= a.size(); i += 8) {
        uint64_t x, y;
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        if (x != y) return false;
    }
    for (; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

inline bool same_headers(std::span<const HeaderKV> a, std::span<const MessageHeader> b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].key != b[i].key || a[i].value != b[i].value) return false;
    return true;
}

// A destination the route skipped as deleted exists again: route anew.
bool skipped_came_back(const std::vector<std::string>& skipped) {
    for (const auto& s : skipped) {
        const std::string_view name = s;
        if (name.substr(0, kExchangeMark.size()) == kExchangeMark) {
            if (ExchangeTable::exists(name.substr(kExchangeMark.size()))) return true;
        } else if (Queue::exists(name)) {
            return true;
        }
    }
    return false;
}

}  // namespace

struct PublisherCore {
    // A target queue and the producer kept for it.
    struct Target {
        Queue queue;
        Producer producer;
    };

    // The route of the last publish and the producers it goes through.
    struct Plan {
        bool valid = false;
        std::string routing_key;
        std::vector<HeaderKV> headers;
        std::vector<std::pair<std::shared_ptr<const ExchangeTable>, uint64_t>> tables;  // consulted, version read
        std::vector<std::string> skipped;
        std::vector<Producer*> producers;  // into `targets`' nodes; cleared whenever a target is dropped
        std::vector<const Region*> regions;  // producers[i]'s queue, to see it deleted
        uint64_t version = 0;
        bool unroutable = false;
        bool to_alternate = false;
        // The common plan, one table and one matched queue, nothing skipped,
        // as the words to check (no hops through the vectors and objects
        // above): Publisher::publish's hit path. producer == nullptr: none.
        struct Single {
            const std::atomic<uint64_t>* current = nullptr;  // the table's `current` word
            uint64_t version = 0;
            const std::atomic<uint32_t>* lifecycle = nullptr;  // the target region's
            Producer* producer = nullptr;
        } single;
        // routing_key and headers encoded as every target's slot stores them
        // (layout.hpp, "Attribute block"); size 0 when both are empty. Valid
        // while the plan is: it holds only for the same key and headers.
        attrs::Block attrs;
    };

    std::shared_ptr<ExchangeTable> table;
    RouteEnv env;
    RouteCache routes;
    std::function<uint64_t(std::string_view)> version_of;
    std::map<std::string, Target, std::less<>> targets;  // node-based: Producer* stay valid until erased
    Plan plan;
    // This publisher's own routed count in the exchange (nullptr: every cell
    // was taken; the shared counter then), bumped without an RMW.
    std::atomic<uint64_t>* routed_count = nullptr;

    void count_routed() noexcept {
        if (routed_count != nullptr) [[likely]]
            ExchangeTable::count_routed_in(*routed_count);
        else
            table->count_routed();
    }

    explicit PublisherCore(std::shared_ptr<ExchangeTable> t)
        : table(std::move(t)), env(default_route_env()), routed_count(table->take_publisher_count()) {
        version_of = [this](std::string_view exchange) -> uint64_t {
            if (exchange == table->name()) return table->deleted() ? 0 : table->version_guess();
            const auto other = env.open_exchange(exchange);  // nullptr when gone
            return other ? other->version_guess() : 0;
        };
    }

    // Whether `plan` still routes (key, headers): see the file comment.
    [[gnu::always_inline]] bool plan_holds(std::string_view routing_key, std::span<const MessageHeader> headers) const {
        if (!plan.valid || !same_bytes(plan.routing_key, routing_key) || !same_headers(plan.headers, headers)) return false;
        for (const auto& [t, v] : plan.tables)
            if (t->version_guess() != v) return false;  // a bind, unbind or delete since
        for (const Region* r : plan.regions)
            if (r->deleted()) return false;  // dropped by drop_deleted_targets
        return plan.skipped.empty() || !skipped_came_back(plan.skipped);
    }

    void drop_deleted_targets() noexcept {
        plan.valid = false;
        plan.single = {};
        plan.producers.clear();
        plan.regions.clear();
        for (auto it = targets.begin(); it != targets.end();)
            it = it->second.producer.core_->region->deleted() ? targets.erase(it) : std::next(it);
    }

    // The producer for `queue`, opened on first use. Throws Error (not_found: gone since the route).
    Producer* producer_for(const std::string& queue) {
        auto it = targets.find(queue);
        if (it == targets.end()) {
            Queue q = Queue::open(queue);
            Producer p = q.producer();
            it = targets.emplace(queue, Target{std::move(q), std::move(p)}).first;
        }
        return &it->second.producer;
    }

    // Routes (key, headers) anew, or from the RouteCache unless `fresh`, into `plan`.
    // Errc::ok or route()'s errors; throws Error / bad_alloc from opening targets.
    Errc make_plan(std::string_view routing_key, std::span<const MessageHeader> headers, bool fresh) {
        plan.valid = false;
        plan.single = {};
        if (!attrs::encode(routing_key, headers, plan.attrs)) return Errc::invalid_argument;  // over the limits
        std::vector<HeaderKV> pairs;
        pairs.reserve(headers.size());
        for (const auto& h : headers) pairs.push_back({h.key, h.value});
        const RouteResult* cached = fresh ? nullptr : routes.find(routing_key, pairs, version_of);
        if (cached && !cached->skipped.empty() && skipped_came_back(cached->skipped)) cached = nullptr;
        if (!cached) {
            RouteResult r;
            if (const Errc rc = route(*table, routing_key, pairs, env, r); rc != Errc::ok) return rc;
            cached = &routes.put(routing_key, pairs, std::move(r));
        }
        const RouteResult& r = *cached;
        bool keep = true;  // false: this route is used once, not remembered
        plan.routing_key.assign(routing_key);
        plan.headers = std::move(pairs);
        plan.tables.clear();
        for (const auto& tv : r.tables) {
            std::shared_ptr<const ExchangeTable> t =
                tv.exchange == table->name() ? std::shared_ptr<const ExchangeTable>(table) : env.open_exchange(tv.exchange);
            if (!t) {
                keep = false;  // deleted since it was routed: its changes could not be seen
                continue;
            }
            // Deleted while routed: its last version (remove() publishes one
            // after the mark) may be the one read, and no later version would
            // tell the plan. acquire: pairs with the mark, as route() does.
            if (t->deleted()) {
                if (t.get() == table.get()) return Errc::not_found;
                keep = false;
            }
            plan.tables.emplace_back(std::move(t), tv.version);
        }
        plan.skipped = r.skipped;
        plan.version = r.version;
        plan.unroutable = r.unroutable;
        plan.to_alternate = r.to_alternate;
        plan.producers.clear();
        plan.regions.clear();
        for (const auto& q : r.queues) {
            plan.producers.push_back(producer_for(q));
            plan.regions.push_back(plan.producers.back()->core_->region.get());
        }
        plan.valid = keep;
        if (keep && plan.tables.size() == 1 && plan.producers.size() == 1 && !plan.unroutable && plan.skipped.empty())
            plan.single = {&plan.tables.front().first->current_word(), plan.tables.front().second,
                           &plan.regions.front()->header().lifecycle, plan.producers.front()};
        return Errc::ok;
    }

    // One target: a plain send, or the attributed one when there is a block.
    static Status send_one(Producer& p, std::span<const std::byte> payload, const SendOptions& options,
                           const attrs::Block& block) noexcept {
        if (block.size == 0) return p.send(payload, options);
        return p.core_->send_attributed(payload, options, block.span());
    }

    Status send(std::span<const std::byte> payload, const PublishOptions& options) noexcept {
        SendOptions send_options;
        send_options.key = options.key;
        send_options.timeout = options.timeout;
        if (plan.producers.size() == 1) return send_one(*plan.producers.front(), payload, send_options, plan.attrs);
        return publish_atomically(plan.producers, payload, send_options, plan.attrs.span());
    }

    Status publish(std::span<const std::byte> payload, const PublishOptions& options, PublishOutcome& outcome) noexcept {
        outcome = PublishOutcome{};
        // The exchange deleted: plan_holds fails (its first table is this
        // one) and route() answers not_found.
        Status st = Errc::ok;
        // A target found deleted (by the check or by the send) costs one more
        // round: drop it, route anew, retry. Bounded: queues may keep being
        // recreated under us.
        constexpr int kRounds = 4;
        for (int round = 0; round < kRounds; ++round) {
            try {
                if (!plan_holds(options.routing_key, options.headers)) {
                    drop_deleted_targets();
                    if (const Errc rc = make_plan(options.routing_key, options.headers, round != 0); rc != Errc::ok)
                        return rc;
                }
            } catch (const Error& e) {
                if (e.code() == Errc::not_found || e.code() == Errc::queue_deleted) {
                    drop_deleted_targets();
                    st = Errc::queue_deleted;
                    continue;  // a target went away between its route and its opening
                }
                return e.code();
            } catch (const std::bad_alloc&) {
                return Errc::no_resources;
            }
            outcome.table_version = plan.version;
            if (plan.producers.empty()) {
                table->count_unroutable();
                return Errc::unroutable;
            }
            st = send(payload, options);
            if (st.code() == Errc::queue_deleted) {
                drop_deleted_targets();
                continue;
            }
            if (plan.unroutable) table->count_unroutable();
            if (!st) return st;
            if (!plan.unroutable) count_routed();
            outcome.queues = plan.producers.size();
            outcome.to_alternate = plan.to_alternate;
            return Errc::ok;
        }
        return st;
    }
};

}  // namespace detail

Publisher::Publisher(std::unique_ptr<detail::PublisherCore> core) noexcept : core_(std::move(core)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

Publisher Publisher::open(std::string_view exchange) {
    return Publisher(std::make_unique<detail::PublisherCore>(detail::ExchangeTable::open(exchange, true)));
}

Status Publisher::publish(std::span<const std::byte> payload, const PublishOptions& options,
                          PublishOutcome& outcome) noexcept {
    // The hit path: the last plan routes to one matched queue and still
    // holds. Its cost beside Producer::send: the key compared, two loads of
    // lines that only admins write (the table's `current`, the target
    // region's lifecycle), the attribute block's words and the bump of this
    // publisher's own routed count (a load and a store on a line pair no
    // other publisher writes; no RMW). Everything else, and any failure that needs a new plan, is
    // PublisherCore::publish.
    detail::PublisherCore& c = *core_;
    const auto& one = c.plan.single;
    // acquire: pairs with an admin's W5, as route()'s R1 (exchange_table.hpp);
    // relaxed: the target region's lifecycle, a hint as Region::deleted().
    if (one.producer != nullptr && detail::same_bytes(c.plan.routing_key, options.routing_key) &&
        detail::same_headers(c.plan.headers, options.headers) &&
        (one.current->load(std::memory_order_acquire) >> 1) == one.version &&
        one.lifecycle->load(std::memory_order_relaxed) == detail::kLiveRegion) [[likely]] {
        SendOptions send_options;
        send_options.key = options.key;
        send_options.timeout = options.timeout;
        const Status st = detail::PublisherCore::send_one(*one.producer, payload, send_options, c.plan.attrs);
        if (st.code() != Errc::queue_deleted) {
            outcome.table_version = one.version;
            outcome.to_alternate = false;
            outcome.queues = st.ok() ? 1 : 0;
            if (st.ok()) c.count_routed();
            return st;
        }
    }
    return c.publish(payload, options, outcome);  // nothing was sent above
}

const std::string& Publisher::exchange() const noexcept { return core_->table->name(); }

}  // namespace shmq
