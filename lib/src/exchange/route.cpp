#include <algorithm>
#include <map>

#include "shmq/internal/exchange_table.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::detail {

namespace xl = xlayout;

bool queue_is_live(std::string_view queue) {
    try {
        auto r = Region::open(queue, Access::read_only, /*wait_for_creator=*/false);
        return !r->deleted();
    } catch (const Error&) {
        return false;  // gone, unfinished or unreadable: nothing can be delivered there
    }
}

RouteEnv default_route_env() {
    auto opened = std::make_shared<std::map<std::string, std::shared_ptr<const ExchangeTable>, std::less<>>>();
    RouteEnv env;
    env.queue_live = queue_is_live;
    env.open_exchange = [opened](std::string_view name) -> std::shared_ptr<const ExchangeTable> {
        auto it = opened->find(name);
        if (it == opened->end() || it->second->deleted()) {
            std::shared_ptr<const ExchangeTable> t;
            try {
                t = ExchangeTable::open_if_finished(name);  // never stalls a router on a creator
                if (!t) return nullptr;
            } catch (const Error&) {
                return nullptr;
            }
            it = opened->insert_or_assign(std::string(name), std::move(t)).first;
        }
        return it->second->deleted() ? nullptr : it->second;
    };
    return env;
}

Errc route(const ExchangeTable& source, std::string_view routing_key, std::span<const HeaderKV> headers,
           const RouteEnv& env, RouteResult& out, std::string* why) {
    out = RouteResult{};
    if (auto err = check_key(routing_key, "the routing key")) {
        if (why) *why = *err;
        return Errc::invalid_argument;
    }
    if (auto err = check_headers(headers, "the message")) {
        if (why) *why = *err;
        return Errc::invalid_argument;
    }
    if (source.deleted()) {
        if (why) *why = "exchange '" + source.name() + "' was deleted";
        return Errc::not_found;
    }
    // Breadth first over exchange-to-exchange bindings; every exchange is
    // consulted once (so a cycle left by a scribbler, or a diamond, cannot
    // loop or count twice) and every queue appears once.
    std::vector<std::shared_ptr<const ExchangeTable>> held;  // keeps the tables below alive
    std::vector<const ExchangeTable*> todo{&source};
    std::vector<std::string> visited{source.name()};
    auto seen = [](const std::vector<std::string>& v, std::string_view s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    for (std::size_t k = 0; k < todo.size(); ++k) {
        const ExchangeTable& x = *todo[k];
        TableSnapshot snap;
        std::string reason;
        const Errc rc = x.snapshot(snap, &reason);
        if (rc != Errc::ok) {
            if (k == 0) {
                if (why) *why = reason;
                return rc;
            }
            out.skipped.push_back("exchange:" + x.name());  // unreadable downstream: as if gone
            continue;
        }
        if (k == 0) out.version = snap.version;
        out.tables.push_back({x.name(), snap.version});
        for (const auto& b : snap.bindings) {
            if (!binding_matches(x.type(), b, routing_key, headers)) continue;
            if (b.kind == xl::DestKind::queue) {
                if (seen(out.queues, b.dest) || seen(out.skipped, b.dest)) continue;
                (env.queue_live(b.dest) ? out.queues : out.skipped).push_back(b.dest);
            } else {
                if (seen(visited, b.dest)) continue;
                visited.push_back(b.dest);
                auto next = env.open_exchange(b.dest);
                if (!next) {
                    out.skipped.push_back("exchange:" + b.dest);
                    continue;
                }
                todo.push_back(next.get());
                held.push_back(std::move(next));
            }
        }
    }
    out.matched = out.queues.size();
    out.unroutable = out.queues.empty();
    if (out.unroutable && !source.alternate().empty()) {
        if (env.queue_live(source.alternate())) {
            out.queues.push_back(source.alternate());
            out.to_alternate = true;
        } else if (!seen(out.skipped, source.alternate())) {
            out.skipped.push_back(source.alternate());
        }
    }
    return Errc::ok;
}

std::string RouteCache::cache_key(std::string_view routing_key, std::span<const HeaderKV> headers) {
    // Length-prefixed: unambiguous whatever bytes the key holds.
    std::string k = std::to_string(routing_key.size()) + ':' + std::string(routing_key);
    for (const auto& h : headers)
        k += std::to_string(h.key.size()) + ':' + h.key + std::to_string(h.value.size()) + ':' + h.value;
    return k;
}

const RouteResult* RouteCache::find(std::string_view routing_key, std::span<const HeaderKV> headers,
                                    const std::function<uint64_t(std::string_view)>& version_of) const {
    auto it = entries_.find(cache_key(routing_key, headers));
    if (it == entries_.end()) return nullptr;
    for (const auto& t : it->second.tables)
        if (version_of(t.exchange) != t.version) return nullptr;  // a table changed since: resolve again
    return &it->second;
}

const RouteResult& RouteCache::put(std::string_view routing_key, std::span<const HeaderKV> headers,
                                   RouteResult result) {
    if (entries_.size() >= max_entries_) entries_.clear();  // simple and bounded; a producer's keys are few
    return entries_.insert_or_assign(cache_key(routing_key, headers), std::move(result)).first->second;
}

}  // namespace shmq::detail
