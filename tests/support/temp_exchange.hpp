// An exchange with a unique name, removed when the test ends, and small
// queues to bind it to.
#pragma once

#include <memory>
#include <string>

#include "shmq/internal/exchange_table.hpp"
#include "support/temp_queue.hpp"

namespace shmq::test {

struct TempExchange {
    std::string name;
    std::shared_ptr<detail::ExchangeTable> table;
    explicit TempExchange(const char* tag, xlayout::ExchangeType type, const std::string& alternate = {})
        : name(unique_queue_name(tag)), table(detail::ExchangeTable::create(name, type, alternate)) {}
    ~TempExchange() {
        try {
            detail::ExchangeTable::remove(name);
        } catch (...) {
        }
    }
    detail::ExchangeTable* operator->() { return table.get(); }
};

// The smallest queue that exists: bindings only need it to be there.
inline QueueOptions tiny_queue() {
    QueueOptions o;
    o.capacity = 2;
    o.max_message = 8;
    o.dlq_capacity = 2;
    o.max_groups = 1;
    o.max_participants = 2;
    return o;
}

inline detail::Binding to_queue(const std::string& queue, const std::string& key = {}) {
    return detail::Binding{xlayout::DestKind::queue, queue, key, xlayout::HeaderMatch::none, {}};
}
inline detail::Binding to_exchange(const std::string& exchange, const std::string& key = {}) {
    return detail::Binding{xlayout::DestKind::exchange, exchange, key, xlayout::HeaderMatch::none, {}};
}

}  // namespace shmq::test
