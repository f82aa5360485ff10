// The messages `bridge out` holds: per partition, in offset order, each one
// leased locally until JetStream has stored it. A message is ACKed locally
// only when it and every earlier one of its partition have their PubAck, so
// after a crash redelivery restarts at the first unconfirmed offset and
// everything after it is re-sent (the stream's duplicate window drops the
// copies). After a failure nothing new is sent until every message in flight
// has an answer (or is given up on); then the failed ones are re-sent in
// offset order. How many go at once is the caller's (bridge_out.cpp: one
// probe while the stream has not answered lately). The stream sequences in the PubAcks (a duplicate's is the
// original's) must rise along each partition: `order_violations` counts
// where they did not. A message published with its dedup id may rightly
// be a duplicate of an earlier message (the queue held the id twice): its
// answer's sequence is not checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "shmq/shmq.hpp"

namespace shmq::cli::bridge {

using Clock = std::chrono::steady_clock;

enum class OutState : uint8_t { unsent, in_flight, failed, stored };

struct OutEntry {
    uint64_t offset = 0;
    Message message;       // the local lease
    std::string payload;   // a copy: re-sends never read a slot we might have lost
    std::string key;
    std::string dedup_id;  // a copy of Message::dedup_id(); empty: published with its position id
    uint16_t redrives = 0; // how often `shmq dlq redrive` re-published it (with a dedup id only)
    std::string routing_key;  // copies of the message's attributes (Publisher::publish)
    std::vector<std::pair<std::string, std::string>> headers;
    OutState state = OutState::unsent;
    uint64_t stream_seq = 0;
    bool duplicate = false;  // the stream answered that it already had the id
    Clock::time_point sent_at{};
};

struct OutCounters {
    uint64_t published = 0;        // PubAcks received (first sends and re-sends)
    uint64_t duplicates = 0;       // PubAcks saying the stream already had the message
    uint64_t publish_errors = 0;   // failed publishes (errors, timeouts, given up)
    uint64_t resent = 0;           // messages published again after a failure
    uint64_t acked = 0;            // local ACKs
    uint64_t lease_lost = 0;       // local leases lost (the message went elsewhere; it will come back)
    uint64_t order_violations = 0; // stream sequences not rising along a partition
};

class OutWindow {
public:
    explicit OutWindow(uint32_t partitions) : parts_(partitions) {}

    // A newly received message (`redrives`: its slot's redrive count); false
    // if its partition is out of range.
    bool add(Message message, uint16_t redrives = 0);
    std::size_t held() const noexcept { return held_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    bool failing() const noexcept { return failing_; }

    // Up to `max` entries to publish now, in order per partition: unsent
    // ones normally; after a failure, once nothing is in flight, the failed
    // ones and those after them. failing() ends when no failed one is left.
    std::vector<OutEntry*> to_send(std::size_t max = SIZE_MAX);
    void mark_sent(OutEntry& e, Clock::time_point now);
    // A publish answer for (partition, offset); stale answers are ignored.
    void on_stored(uint32_t partition, uint64_t offset, uint64_t stream_seq, bool duplicate);
    void on_failed(uint32_t partition, uint64_t offset);
    // Marks every in-flight entry sent before `deadline` as failed; returns how many.
    std::size_t expire(Clock::time_point deadline);
    // Everything in flight counts as failed (its answers were taken back).
    std::size_t fail_all_in_flight();
    // ACKs the stored prefix of every partition and forgets it.
    void settle();
    // Keeps every held lease for `lease` more.
    void extend_all(Millis lease);
    Clock::time_point oldest_in_flight() const;
    // When the newest message the stream answered for (stored, or a
    // duplicate) was sent: the stream leader was alive after that instant.
    Clock::time_point newest_answered_sent_at() const noexcept { return newest_answered_sent_at_; }

    const OutCounters& counters() const noexcept { return counters_; }

private:
    struct Partition {
        std::deque<OutEntry> entries;  // ascending offsets
        uint64_t last_seq = 0;         // stream sequence of the last settled message
    };
    OutEntry* find(uint32_t partition, uint64_t offset);
    std::vector<Partition> parts_;
    std::size_t held_ = 0;
    std::size_t in_flight_ = 0;
    bool failing_ = false;  // a failure is not yet re-sent
    Clock::time_point newest_answered_sent_at_ = Clock::time_point::min();
    OutCounters counters_;
};

}  // namespace shmq::cli::bridge
