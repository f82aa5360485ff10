#include "group_replay.hpp"

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "shmq/internal/groups.hpp"
#include "log.hpp"
#include "record_dedup.hpp"
#include "slot_dedup_id.hpp"
#include "shmq/internal/reaper.hpp"
#include "shmq/internal/replay_request.hpp"
#include "shmq/internal/commit_protocol.hpp"
#include "shmq/internal/delivery.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"

namespace shmq::daemon {

namespace {

using layout::ReplayFrom;
using layout::ReplayResult;
using layout::ReplayState;

constexpr uint64_t kMaxFeedPerTurn = 4096;  // per partition

void set_state(detail::Region& q, uint32_t g, ReplayState s) {
    q.group(g).replay_state.store(static_cast<uint32_t>(s), std::memory_order_release);
    detail::wake_consumers(q);
}

// The first committed offset of [head, floor) published at or after
// `unix_ns`, else floor. Slots below the group's floor and at or above head
// are not reused while we read (head cannot pass the floor).
uint64_t first_in_ring_at_or_after(const detail::Region& q, uint32_t g, uint32_t p, uint64_t unix_ns) {
    const uint64_t head = q.partition(p).head.load(std::memory_order_acquire);
    const uint64_t floor = q.group_partition(g, p).floor.load(std::memory_order_acquire);
    const ring::RingRef ring = ring::partition_ring(q, p);
    for (uint64_t o = head; o < floor && o < head + q.capacity(); ++o) {
        const uint64_t st = ring.state(o).load(std::memory_order_acquire);
        if (!ring::slot_is(st, o) || ring::slot_kind(st) != ring::SlotKind::committed) continue;
        if (q.slot(p, o).publish_unix_ns >= unix_ns) return o;
    }
    return floor;
}

disk::LogFn warn_to_log(const std::string& label) {
    return [label](const std::string& line) { log(Level::warn, label + ": " + line); };
}

}  // namespace

void give_region_to(const detail::Region& r, uint32_t uid, uint32_t gid) {
    struct stat st {};
    if (::fstat(r.probe_fd(), &st) == 0 && st.st_uid == uid && st.st_gid == gid) return;
    if (::fchown(r.probe_fd(), uid, gid) != 0)
        log(Level::warn, "queue " + r.name() + ": cannot give a region it made to uid " + std::to_string(uid) + " gid " +
                             std::to_string(gid) + " (" + std::strerror(errno) +
                             "); run shmqd as the queue's owner or as root");
}

std::pair<uint32_t, uint32_t> region_owner(const detail::Region& r) {
    struct stat st {};
    if (::fstat(r.probe_fd(), &st) != 0) return {::geteuid(), ::getegid()};
    return {st.st_uid, st.st_gid};
}

std::shared_ptr<detail::Region> make_replay_region(const std::string& queue, const QueueOptions& queue_options,
                                                   uint32_t uid, uint32_t gid, const std::string& group, GroupKind kind,
                                                   const std::vector<uint64_t>& base, const std::vector<uint64_t>& end) {
    const std::string object = detail::replay_object_name(queue, group);
    boost::interprocess::shared_memory_object::remove(object.c_str());  // left by a crash while preparing
    QueueOptions o = queue_options;
    o.on_full = OnFull::block;
    o.journal = false;
    o.spill_buffer = 0;
    o.retain_bytes = o.retain_ms = 0;
    o.max_groups = 1;
    // Its slots carry dedup ids (the extension area stays), but nobody sends
    // to it: the smallest table will do.
    if (o.dedup_window_ms != 0) o.dedup_capacity = 1;
    o.delay_capacity = 0;  // nobody sends to it: no delay store
    detail::CreateSpec spec;
    spec.object = object;
    spec.base = base;
    spec.replay_end = end;
    spec.history = true;  // what it delivers is history: no TTL takes it away (docs/ARCHITECTURE.md, "Message TTL")
    spec.groups.push_back({group, kind});
    auto r = detail::Region::create(queue, o, spec);
    give_region_to(*r, uid, gid);
    return r;
}

std::unique_ptr<GroupReplay> GroupReplay::prepare(detail::Region& q, uint32_t g, const detail::Participant& me,
                                                  const std::string& journal_root) {
    auto& e = q.group(g);
    uint32_t st = static_cast<uint32_t>(ReplayState::requested);
    if (!e.replay_state.compare_exchange_strong(st, static_cast<uint32_t>(ReplayState::preparing),
                                                std::memory_order_acq_rel) &&
        st != static_cast<uint32_t>(ReplayState::preparing))
        return nullptr;  // withdrawn by the tool
    const uint64_t group_state = e.state.load(std::memory_order_acquire);
    const auto kind = static_cast<ReplayFrom>(e.replay_from_kind.load(std::memory_order_relaxed));
    const uint64_t value = e.replay_from.load(std::memory_order_relaxed);
    const std::string gname = detail::group_name(q, g);
    const std::string label = "queue " + q.name() + ": replay of group " + gname;
    const bool journaled = q.params().journal != 0;
    const uint32_t partitions = q.partitions();
    std::vector<uint64_t> base(partitions), end(partitions);
    uint64_t messages = 0;
    uint64_t rewound = 0;
    bool ring_only = false;
    for (uint32_t p = 0; p < partitions; ++p) {
        std::string error;
        disk::DirFd dir;
        if (journaled) dir = disk::open_partition_dir(journal_root, q.name(), p, false, error);
        JournalCursor journal(dir.get(), label + " p" + std::to_string(p), warn_to_log(label));
        const uint64_t head = q.partition(p).head.load(std::memory_order_acquire);
        const uint64_t floor = q.group_partition(g, p).floor.load(std::memory_order_acquire);
        uint64_t target = floor;
        switch (kind) {
            case ReplayFrom::offset: target = value; break;
            case ReplayFrom::start: target = 0; break;
            case ReplayFrom::time: {
                const auto found = dir.valid() ? journal.first_at_or_after(value, head) : std::nullopt;
                target = found ? *found : first_in_ring_at_or_after(q, g, p, value);
                break;
            }
        }
        uint64_t at = floor;
        if (target < floor) at = detail::rewind_group_partition(q, g, p, target, me.token());
        rewound += floor - at;
        base[p] = end[p] = at;
        if (target >= at) continue;
        if (!dir.valid()) {
            ring_only = true;
            log(Level::warn, label + ": partition " + std::to_string(p) + ": offsets " + std::to_string(target) +
                                 ".." + std::to_string(at) + " have left the ring and " +
                                 (journaled ? "the journal cannot be read (" + error + ")" : "the queue keeps no journal") +
                                 "; replaying from " + std::to_string(at));
            continue;
        }
        const uint64_t first = journal.first_offset().value_or(at);
        const uint64_t from = std::min(std::max(target, first), at);
        if (from > target)
            log(Level::warn, label + ": partition " + std::to_string(p) + ": the journal starts at " +
                                 std::to_string(from) + " (older segments were removed by retention); replaying from there");
        base[p] = from;
        messages += at - from;
    }
    std::unique_ptr<GroupReplay> replay;
    if (messages > 0) {
        try {
            const auto [uid, gid] = region_owner(q);
            auto rr = make_replay_region(q.name(), q.options(), uid, gid, gname,
                                         static_cast<GroupKind>(layout::group_kind(group_state)), base, end);
            replay.reset(new GroupReplay(q, g, me, layout::group_gen(group_state), std::move(rr), journal_root));
        } catch (const std::exception& ex) {
            log(Level::error, label + ": cannot create its replay region: " + ex.what() +
                                  "; the group was rewound within the ring only");
            e.replay_result.store(static_cast<uint32_t>(ReplayResult::failed), std::memory_order_release);
            set_state(q, g, ReplayState::none);
            return nullptr;
        }
    }
    e.replay_messages.store(messages, std::memory_order_relaxed);
    // release: the tool acquire-loads the result, then reads replay_messages.
    e.replay_result.store(static_cast<uint32_t>(ring_only ? ReplayResult::not_journaled : ReplayResult::started),
                          std::memory_order_release);
    log(Level::info, label + ": rewound " + std::to_string(rewound) + " offset(s) in the ring" +
                         (messages ? ", " + std::to_string(messages) + " more from the journal first" : ""));
    set_state(q, g, replay ? ReplayState::running : ReplayState::none);
    return replay;
}

std::unique_ptr<GroupReplay> GroupReplay::resume(detail::Region& q, uint32_t g, const detail::Participant& me,
                                                 const std::string& journal_root) {
    const std::string gname = detail::group_name(q, g);
    try {
        auto rr = detail::Region::open(q.name(), detail::Access::read_write, false,
                                       detail::replay_object_name(q.name(), gname));
        if (rr->partitions() != q.partitions() || rr->max_groups() < 1)
            throw Error(Errc::region_corrupt, "its partitions do not match the queue's");
        const uint64_t state = q.group(g).state.load(std::memory_order_acquire);
        return std::unique_ptr<GroupReplay>(
            new GroupReplay(q, g, me, layout::group_gen(state), std::move(rr), journal_root));
    } catch (const std::exception& ex) {
        log(Level::error, "queue " + q.name() + ": group " + gname + " was replaying but its replay region cannot be used (" +
                              ex.what() + "); the group goes on with the ring");
        set_state(q, g, ReplayState::none);
        return nullptr;
    }
}

GroupReplay::GroupReplay(detail::Region& q, uint32_t g, const detail::Participant& q_me, uint64_t group_gen,
                         std::shared_ptr<detail::Region> rr, const std::string& journal_root)
    : q_(q),
      g_(g),
      q_me_(q_me),
      group_gen_(group_gen),
      label_("queue " + q.name() + ": replay of group " + detail::group_name(q, g)),
      rr_(std::move(rr)) {
    me_ = detail::attach_participant(*rr_, layout::Role::admin, layout::kNoGroup, 0);
    for (uint32_t p = 0; p < rr_->partitions(); ++p) {
        std::string error;
        dirs_.push_back(q.params().journal != 0 ? disk::open_partition_dir(journal_root, q.name(), p, false, error)
                                                : disk::DirFd{});
        cursors_.push_back(std::make_unique<JournalCursor>(dirs_.back().get(), label_ + " p" + std::to_string(p),
                                                           warn_to_log(label_)));
        const ring::RingRef ring = ring::partition_ring(*rr_, p);
        // Where a previous shmqd stopped: tail, past any slot it finished
        // but did not get to move tail over.
        uint64_t pos = ring.tail->load(std::memory_order_acquire);
        const uint64_t end = rr_->partition(p).replay_end.load(std::memory_order_relaxed);
        for (uint64_t k = 0; k < ring.capacity && pos < end; ++k, ++pos) {
            const uint64_t st = ring.state(pos).load(std::memory_order_acquire);
            if (!ring::slot_is(st, pos)) break;
        }
        ring.tail->store(pos, std::memory_order_release);
        next_.push_back(pos);
        end_.push_back(end);
    }
}

GroupReplay::~GroupReplay() {
    if (rr_) detail::detach_participant(*rr_, me_);
}

bool GroupReplay::feeding() const {
    for (uint32_t p = 0; p < next_.size(); ++p)
        if (next_[p] < end_[p]) return true;
    return false;
}

int GroupReplay::feed() {
    if (done_) return 0;
    int work = 0;
    const uint64_t max_message = rr_->params().max_message;
    for (uint32_t p = 0; p < next_.size(); ++p) {
        const ring::RingRef ring = ring::partition_ring(*rr_, p);
        uint64_t pos = next_[p];
        for (uint64_t n = 0; pos < end_[p] && n < kMaxFeedPerTurn; ++n) {
            if (pos >= ring.head->load(std::memory_order_acquire) + ring.capacity) {
                ring::reclaim(*rr_, p, me_.token());
                if (pos >= ring.head->load(std::memory_order_acquire) + ring.capacity) break;  // the group is behind
            }
            const disk::RecordView* rec = cursors_[p]->peek(pos);
            bool put = rec != nullptr && rec->offset == pos;
            // Key and dedup id (record_dedup.hpp); untrusted, like every length read from disk.
            const auto key_id = put ? disk::split_key(rec->flags, rec->key) : std::nullopt;
            if (put && (!key_id || rec->payload.size() > max_message || key_id->key.size() > layout::kMaxKeyBytes)) {
                log(Level::error, label_ + ": partition " + std::to_string(p) + " offset " + std::to_string(pos) +
                                      ": the journal's record has a key, dedup id or payload the queue does not allow; skipped");
                put = false;
            }
            if (!put) {
                if (rec == nullptr && gaps_ == 0)
                    log(Level::warn, label_ + ": partition " + std::to_string(p) + ": the journal holds nothing from " +
                                         std::to_string(pos) + " to " + std::to_string(end_[p]) + "; skipped as gaps");
                ++gaps_;
            } else {
                std::byte* base = ring.base(pos);
                std::memcpy(base + layout::kSlotHeaderBytes, rec->payload.data(), rec->payload.size());
                if (!key_id->key.empty())
                    std::memcpy(base + layout::kSlotHeaderBytes + rr_->payload_area(), key_id->key.data(),
                                key_id->key.size());
                auto& h = *reinterpret_cast<layout::SlotHeader*>(base);
                h.payload_len = static_cast<uint32_t>(rec->payload.size());
                h.key_len = static_cast<uint16_t>(key_id->key.size());
                // Its id again, for the consumer (Message::dedup_id); a replay never asks the table.
                h.flags = static_cast<uint16_t>(put_slot_dedup_id(*rr_, base, key_id->id, key_id->redrives) |
                                                ((rec->flags & disk::kRecordAttributes) != 0 ? layout::kSlotAttributes : 0));
                h.publish_unix_ns = rec->publish_unix_ns;
                h.reserved = 0;
            }
            // The sole producer's publish (see the header): CAS, then tail.
            if (!ring::finish_claim(ring, pos, put ? ring::SlotKind::committed : ring::SlotKind::aborted) &&
                !ring::slot_is(ring.state(pos).load(std::memory_order_acquire), pos)) {
                log(Level::error, label_ + ": partition " + std::to_string(p) + ": slot of offset " +
                                      std::to_string(pos) + " is in no state the replay left it in; stopping this replay");
                abandon();
                return work;
            }
            ring.tail->store(pos + 1, std::memory_order_release);
            ++pos;
            ++work;
        }
        next_[p] = pos;
    }
    if (work > 0) {
        detail::wake_consumers(q_);  // the group's consumers sleep on the queue's doorbell
        detail::wake_consumers(*rr_);
    }
    return work;
}

std::optional<uint64_t> GroupReplay::position(uint32_t p) const {
    if (done_ || p >= end_.size()) return std::nullopt;
    const uint64_t floor = rr_->group_partition(0, p).floor.load(std::memory_order_acquire);
    if (floor >= end_[p]) return std::nullopt;
    return floor;
}

void GroupReplay::abandon() {
    if (done_) return;
    done_ = true;
    rr_->remove_self();
}

// Dead letters of the replay go to the queue's DLQ, for `shmq dlq`. Only
// shmqd reads the replay region's DLQ: its head moves past each one copied.
// False while something is left (the queue's DLQ is full, or a move is open).
namespace {
bool move_dead_letters(detail::Region& from, detail::Region& to, uint32_t to_group, uint32_t mover_id) {
    auto& fc = from.dlq();
    const ring::RingRef src = ring::dlq_ring(from);
    const ring::RingRef dst = ring::dlq_ring(to);
    for (uint64_t pos = fc.head.load(std::memory_order_acquire); pos < fc.tail.load(std::memory_order_acquire); ++pos) {
        const uint64_t st = src.state(pos).load(std::memory_order_acquire);
        if (!ring::slot_is(st, pos)) return false;  // a move still open
        if (ring::slot_kind(st) == ring::SlotKind::committed) {
            uint64_t at = 0;
            uint64_t limit = 0;
            // try_claim case (4) or (6): the queue's DLQ is full (or damaged); try again next tick.
            if (ring::try_claim(dst, mover_id, limit, at) != ring::ClaimResult::claimed) return false;
            const auto& s = from.dlq_slot(pos);
            auto& d = to.dlq_slot(at);
            const uint32_t len = std::min<uint32_t>(s.payload_len, to.params().max_message);
            const uint16_t key_len = std::min<uint16_t>(s.key_len, static_cast<uint16_t>(layout::kMaxKeyBytes));
            std::memcpy(to.dlq_payload(at), from.dlq_payload(pos), len);
            std::memcpy(to.dlq_key(at), from.dlq_key(pos), key_len);
            d.payload_len = len;
            d.key_len = key_len;
            // The attribute block is in the payload copied above; the dedup id
            // (in the extension, not copied) stays behind.
            d.flags = static_cast<uint8_t>(s.flags & layout::kSlotAttributes);
            d.reason = s.reason;
            d.partition = s.partition;
            d.deliveries = s.deliveries;
            d.offset = s.offset;
            d.first_delivery_unix_ns = s.first_delivery_unix_ns;
            d.last_delivery_unix_ns = s.last_delivery_unix_ns;
            d.dead_unix_ns = s.dead_unix_ns;
            d.publish_unix_ns = s.publish_unix_ns;
            d.group_index = to_group;
            if (ring::commit(dst, at)) to.dlq().dead_lettered.fetch_add(1, std::memory_order_relaxed);
        }
        fc.head.store(pos + 1, std::memory_order_release);
    }
    sys::ring_doorbell(to.header().dlq_doorbell, to.header().dlq_waiters);
    return true;
}
}  // namespace

bool GroupReplay::finish() {
    for (uint32_t p = 0; p < end_.size(); ++p)
        if (next_[p] < end_[p] || rr_->group_partition(0, p).floor.load(std::memory_order_acquire) < end_[p])
            return false;
    if (!move_dead_letters(*rr_, q_, g_, q_me_.id())) return false;
    uint32_t running = static_cast<uint32_t>(ReplayState::running);
    q_.group(g_).replay_state.compare_exchange_strong(running, static_cast<uint32_t>(ReplayState::none),
                                                      std::memory_order_acq_rel);
    detail::wake_consumers(q_);
    log(Level::info, label_ + ": caught up with the ring; the group goes on with it");
    abandon();
    return true;
}

int GroupReplay::tick(uint64_t now_mono) {
    if (done_) return 0;
    const uint64_t state = q_.group(g_).state.load(std::memory_order_acquire);
    if (layout::group_status(state) != layout::kGroupActive || layout::group_gen(state) != group_gen_) {
        log(Level::info, label_ + ": the group was deleted; replay region removed");
        abandon();
        return 1;
    }
    int work = 0;
    detail::Region& r = *rr_;
    for (uint32_t i = 0; i < r.max_participants(); ++i) {
        if (i == me_.index) continue;
        if (layout::participant_kind(r.participant(i).state.load(std::memory_order_acquire)) == layout::kParticipantFree)
            continue;
        if (detail::entry_liveness(r, i) == detail::Liveness::dead && detail::reap_participant(r, i, me_.id()).reaped)
            ++work;
    }
    for (uint32_t p = 0; p < r.partitions(); ++p) work += static_cast<int>(ring::expire_leases(r, 0, p, now_mono, me_.id()));
    if (finish()) ++work;
    return work;
}

}  // namespace shmq::daemon
