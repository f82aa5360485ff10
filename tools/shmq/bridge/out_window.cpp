#include "out_window.hpp"

#include <algorithm>

namespace shmq::cli::bridge {

bool OutWindow::add(Message message, uint16_t redrives) {
    const uint32_t p = message.partition();
    if (p >= parts_.size()) return false;
    auto& entries = parts_[p].entries;
    const uint64_t offset = message.offset();
    OutEntry e;
    e.offset = offset;
    e.payload.assign(message.text());
    e.key.assign(message.key());
    e.dedup_id.assign(message.dedup_id());
    if (!e.dedup_id.empty()) e.redrives = redrives;
    e.routing_key.assign(message.routing_key());
    for (std::size_t i = 0; i < message.header_count(); ++i) {
        const auto [k, v] = message.header_at(i);
        e.headers.emplace_back(std::string(k), std::string(v));
    }
    e.message = std::move(message);
    // A redelivery of an offset we still hold (our lease was lost and came
    // back): the new lease replaces the old; the entry is re-sent.
    if (auto* old = find(p, offset)) {
        if (old->state == OutState::in_flight) --in_flight_;
        const bool stored = old->state == OutState::stored;
        const uint64_t seq = old->stream_seq;
        const bool duplicate = old->duplicate;
        *old = std::move(e);
        if (stored) {
            old->state = OutState::stored;
            old->stream_seq = seq;
            old->duplicate = duplicate;
        }
        return true;
    }
    auto at = std::upper_bound(entries.begin(), entries.end(), offset,
                               [](uint64_t o, const OutEntry& x) { return o < x.offset; });
    entries.insert(at, std::move(e));
    ++held_;
    return true;
}

OutEntry* OutWindow::find(uint32_t partition, uint64_t offset) {
    if (partition >= parts_.size()) return nullptr;
    auto& entries = parts_[partition].entries;
    auto it = std::lower_bound(entries.begin(), entries.end(), offset,
                               [](const OutEntry& x, uint64_t o) { return x.offset < o; });
    return it != entries.end() && it->offset == offset ? &*it : nullptr;
}

std::vector<OutEntry*> OutWindow::to_send(std::size_t max) {
    std::vector<OutEntry*> out;
    if (failing_ && in_flight_ != 0) return out;  // wait for every answer first: re-sends keep offset order
    bool failed_left = false;
    for (auto& part : parts_)
        for (auto& e : part.entries) {
            const bool due = e.state == OutState::unsent || e.state == OutState::failed;
            if (!due) continue;
            if (out.size() == max) {
                failed_left = failed_left || e.state == OutState::failed;
                continue;
            }
            if (e.state == OutState::failed) ++counters_.resent;
            out.push_back(&e);
        }
    failing_ = failed_left;
    return out;
}

void OutWindow::mark_sent(OutEntry& e, Clock::time_point now) {
    if (e.state != OutState::in_flight) ++in_flight_;
    e.state = OutState::in_flight;
    e.sent_at = now;
}

void OutWindow::on_stored(uint32_t partition, uint64_t offset, uint64_t stream_seq, bool duplicate) {
    auto* e = find(partition, offset);
    if (e == nullptr || e->state != OutState::in_flight) return;  // stale (taken back, or a duplicate answer)
    --in_flight_;
    e->state = OutState::stored;
    newest_answered_sent_at_ = std::max(newest_answered_sent_at_, e->sent_at);
    e->stream_seq = stream_seq;
    e->duplicate = duplicate;
    ++counters_.published;
    if (duplicate) ++counters_.duplicates;
}

void OutWindow::on_failed(uint32_t partition, uint64_t offset) {
    auto* e = find(partition, offset);
    if (e == nullptr || e->state != OutState::in_flight) return;
    --in_flight_;
    e->state = OutState::failed;
    failing_ = true;
    ++counters_.publish_errors;
}

std::size_t OutWindow::expire(Clock::time_point deadline) {
    std::size_t n = 0;
    for (auto& part : parts_)
        for (auto& e : part.entries)
            if (e.state == OutState::in_flight && e.sent_at < deadline) {
                e.state = OutState::failed;
                --in_flight_;
                ++n;
            }
    if (n != 0) {
        failing_ = true;
        counters_.publish_errors += n;
    }
    return n;
}

std::size_t OutWindow::fail_all_in_flight() { return expire(Clock::time_point::max()); }

void OutWindow::settle() {
    for (auto& part : parts_) {
        auto& entries = part.entries;
        while (!entries.empty() && entries.front().state == OutState::stored) {
            auto& e = entries.front();
            // A duplicate of a dedup id answers with the sequence of the id's
            // first message, which may lie anywhere before: not an order check.
            if (!(e.duplicate && !e.dedup_id.empty())) {
                if (e.stream_seq <= part.last_seq) ++counters_.order_violations;
                part.last_seq = std::max(part.last_seq, e.stream_seq);
            }
            const Status st = e.message.ack();
            if (st) ++counters_.acked;
            else ++counters_.lease_lost;  // stored anyway; its redelivery is deduplicated
            entries.pop_front();
            --held_;
        }
    }
}

void OutWindow::extend_all(Millis lease) {
    for (auto& part : parts_)
        for (auto& e : part.entries) {
            const Status st = e.message.extend(lease);
            (void)st;  // lease_lost: the message comes back to this group; add() takes it again
        }
}

Clock::time_point OutWindow::oldest_in_flight() const {
    auto oldest = Clock::time_point::max();
    for (const auto& part : parts_)
        for (const auto& e : part.entries)
            if (e.state == OutState::in_flight) oldest = std::min(oldest, e.sent_at);
    return oldest;
}

}  // namespace shmq::cli::bridge
