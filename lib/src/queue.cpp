// Queue: create/open/remove and handing out producers and consumers.
#include "consumer_core.hpp"
#include "hash.hpp"
#include "shmq/internal/names.hpp"
#include "producer_core.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/delay_mover.hpp"

#include <boost/interprocess/shared_memory_object.hpp>

namespace shmq {

const char* to_string(Errc e) noexcept {
    switch (e) {
        case Errc::ok: return "ok";
        case Errc::timeout: return "timed out";
        case Errc::overloaded:
            return "queue partition is full (on_full=reject), or its spill to disk cannot keep up (on_full=spill: "
                   "is shmqd running? is its data dir full?); retry later or add consumers";
        case Errc::message_too_large:
            return "message is larger than the queue's max-message (through an exchange its routing key and headers "
                   "count too); send less or recreate the queue with a larger max-message";
        case Errc::key_too_large: return "key is longer than 64 bytes";
        case Errc::lease_lost: return "lease lost: it expired or its holder was declared dead; the message went to another consumer";
        case Errc::already_settled: return "message already acked or nacked";
        case Errc::claim_aborted: return "claim was aborted; nothing was published";
        case Errc::queue_deleted: return "queue was deleted";
        case Errc::region_corrupt: return "queue region is corrupt; see `shmq stat`";
        case Errc::invalid_argument: return "invalid argument";
        case Errc::no_resources: return "no free entry (participants, groups or DLQ)";
        case Errc::not_found: return "no such queue or group";
        case Errc::already_exists: return "queue already exists";
        case Errc::permission_denied: return "permission denied";
        case Errc::writer_busy:
            return "the partition has an exclusive producer; close it, or send through it";
        case Errc::unroutable: return "no binding matched and the exchange has no alternate queue";
    }
    return "unknown error";
}

uint32_t partition_for_key(std::string_view key, uint32_t partitions) noexcept {
    if (partitions == 0) return 0;
    return static_cast<uint32_t>(detail::fnv1a64(key) % partitions);
}

Queue::Queue(std::shared_ptr<detail::Region> region) noexcept : region_(std::move(region)) {}
Queue::Queue(Queue&&) noexcept = default;
Queue& Queue::operator=(Queue&&) noexcept = default;
Queue::~Queue() = default;

Queue Queue::create(std::string_view name, const QueueOptions& options) {
    return Queue(detail::Region::create(name, options));
}

Queue Queue::open(std::string_view name) { return Queue(detail::Region::open(name)); }

void Queue::remove(std::string_view name) { detail::Region::remove(name); }

bool Queue::exists(std::string_view name) {
    if (detail::check_name(name, "queue")) return false;
    try {
        boost::interprocess::shared_memory_object shm(boost::interprocess::open_only,
                                                      detail::region_object_name(name).c_str(),
                                                      boost::interprocess::read_only);
        return true;
    } catch (const boost::interprocess::interprocess_exception& e) {
        return e.get_error_code() != boost::interprocess::not_found_error;
    }
}

namespace detail {
ProducerCore* make_producer_core(std::shared_ptr<Region> region, WriterMode mode) {
    auto core = std::make_unique<ProducerCore>();
    core->region = region;
    for (uint32_t p = 0; p < region->partitions(); ++p) core->views.push_back(ring::make_view(*region, p));
    core->limits.assign(region->partitions(), 0);  // 0: read head at the first claim
    if (region->spill_capacity() != 0)
        for (uint32_t p = 0; p < region->partitions(); ++p) core->staging.push_back(ring::spill_ring(*region, p));
    core->me = attach_participant(*region, layout::Role::producer, layout::kNoGroup, 0);
    core->mode = mode;
    core->dedup = region->dedup_on();
    core->delays = region->delay_capacity() != 0;
    core->held.assign(region->partitions(), 0);
    core->own_next.assign(region->partitions(), 0);
    core->contested.assign(region->partitions(), 1);
    if (core->mode == WriterMode::exclusive) core->take_exclusive();  // throws; the core's destructor detaches
    else core->take_auto();  // writer_token.hpp (9): only while no other producer is attached
    return core.release();  // the handle's reference (ProducerCore::live)
}
}  // namespace detail

Producer Queue::producer(const ProducerOptions& options) {
    return Producer(detail::make_producer_core(region_, options.exclusive ? WriterMode::exclusive : options.writer));
}

Consumer Queue::consumer(std::string_view group, const ConsumerOptions& options) {
    return Consumer(new detail::ConsumerCore(region_, group, options));
}

const QueueOptions& Queue::options() const noexcept { return region_->options(); }
const std::string& Queue::name() const noexcept { return region_->name(); }

}  // namespace shmq
