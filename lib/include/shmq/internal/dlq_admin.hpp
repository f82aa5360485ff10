// Administering a queue's DLQ: listing, redriving (back into the partition
// each message came from, in DLQ order, delivery count reset) and purging.
// Consumption of the DLQ ring is serialized by DlqControl::admin_lock: its
// holder releases slots from head and stores the new head (release).
// A redrive killed between re-publishing and advancing head re-publishes
// those messages again: at-least-once, never lost.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shmq/internal/layout.hpp"
#include "shmq/internal/participants.hpp"
#include "shmq/internal/region.hpp"

namespace shmq::dlq {

struct DeadLetter {
    uint64_t position = 0;  // in the DLQ ring
    uint32_t partition = 0;
    uint64_t offset = 0;
    uint32_t deliveries = 0;
    std::string reason;  // nacked, lease_expired, owner_died
    std::string group;
    std::string key;
    std::string payload;    // the user payload (after the attribute block, when there is one)
    std::string dedup_id;   // empty: none
    // Its routing key and headers (layout.hpp, "Attribute block"), and the
    // block as stored, which a redrive puts back in front of the payload.
    // attributes_malformed: the slot said it has a block that does not
    // check out; payload is then everything stored, nothing is parsed.
    std::string routing_key;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string attributes;
    bool attributes_malformed = false;
    uint32_t redrives = 0;  // times this message was redriven before
    uint64_t publish_unix_ns = 0, first_delivery_unix_ns = 0, last_delivery_unix_ns = 0, dead_unix_ns = 0;
};

// Up to `max` dead letters from the oldest, read-only (no lock: an entry
// released while we copy it is skipped by re-checking its state after).
std::vector<DeadLetter> list(const detail::Region& r, uint64_t max);

// Processes up to `max` dead letters from the oldest under the DLQ lock:
// `redrive` re-publishes each with `send` before releasing it. Returns how
// many were handled; throws Error when the lock is held by a live process
// or a send fails (those already handled stay handled).
struct Handler {
    virtual ~Handler() = default;
    virtual Status handle(const DeadLetter& letter) = 0;  // not ok: stop, keep this letter
};
uint64_t consume(detail::Region& r, const detail::Participant& me, uint64_t max, Handler* redrive);

const char* reason_name(uint8_t reason);

}  // namespace shmq::dlq
