// shmq: a message queue for processes on one Linux host.
//
//   auto q = shmq::Queue::open("photos");            // or Queue::create(name, options)
//   auto p = q.producer();
//   p.send(bytes, {.key = "user-42"});
//   auto c = q.consumer("resizers", {.kind = shmq::GroupKind::shared});
//   if (auto m = c.receive(std::chrono::seconds(1))) { use(m->data()); m->ack(); }
//
// Errors on the hot path are values (Status, Result<T>, BatchResult); Queue::create/open,
// producer() and consumer() throw shmq::Error. Handles detach in their
// destructors. A Producer or Consumer is used by one thread at a time;
// Messages may be settled (ack/nack) from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmq {

// One documented error code per failure; to_string gives a one-line meaning.
// Values are stable (the C API mirrors 1..11): new codes go at the end.
enum class Errc : uint8_t {
    ok = 0,
    timeout,            // nothing arrived / no room within the timeout
    overloaded,         // partition full and on_full=reject: retry later or add consumers
    message_too_large,  // payload (with its routing key and headers, through an exchange) larger than max_message
    key_too_large,      // key longer than 64 bytes
    lease_lost,         // the lease expired or its owner was declared dead; the message went elsewhere
    already_settled,    // ack/nack/extend on a message that was already settled
    claim_aborted,      // the claim was aborted (by abort() or the reaper); nothing was published
    queue_deleted,      // the queue was deleted while attached
    region_corrupt,     // the region failed a consistency check; see `shmq stat`
    invalid_argument,
    no_resources,       // lease table, group table or DLQ full
    not_found,          // no queue (or group: replay, group delete) with that name
    already_exists,     // create of a queue that exists
    permission_denied,  // the OS refused access (EACCES/EPERM): run as the owner, or see --mode/--group
    writer_busy,        // the partition has an exclusive producer (WriterMode::exclusive): close it first
    unroutable,         // Publisher::publish: no binding matched and the exchange has no (live) alternate queue
};
const char* to_string(Errc) noexcept;

class [[nodiscard]] Status {
public:
    constexpr Status() noexcept = default;
    constexpr Status(Errc code) noexcept : code_(code) {}  // NOLINT: implicit from a code
    constexpr bool ok() const noexcept { return code_ == Errc::ok; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    constexpr Errc code() const noexcept { return code_; }
    const char* message() const noexcept { return to_string(code_); }
    friend constexpr bool operator==(Status a, Status b) noexcept { return a.code_ == b.code_; }

private:
    Errc code_ = Errc::ok;
};

// What a batch call (send_batch, receive_batch) did: the first `count`
// items were done, in order; `status` says why the batch stopped early (ok
// when it did not). Both at once, so a partial batch is never mistaken for a
// whole one or its error lost.
struct [[nodiscard]] BatchResult {
    std::size_t count = 0;
    Status status{};
    constexpr bool ok() const noexcept { return status.ok(); }
    constexpr explicit operator bool() const noexcept { return ok(); }
    constexpr Errc code() const noexcept { return status.code(); }
};

// A value or an error code (std::expected is C++23).
template <class T>
class [[nodiscard]] Result {
public:
    Result(T&& value) : ok_(true) { new (&storage_) T(std::move(value)); }  // NOLINT: one move, no copy
    Result(Errc code) noexcept : code_(code) {}                          // NOLINT
    Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : code_(o.code_), ok_(o.ok_) {
        if (ok_) new (&storage_) T(std::move(*o.ptr()));
    }
    Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &o) {
            reset();
            code_ = o.code_;
            ok_ = o.ok_;
            if (ok_) new (&storage_) T(std::move(*o.ptr()));
        }
        return *this;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result() { reset(); }

    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    Errc code() const noexcept { return code_; }
    Status status() const noexcept { return code_; }
    T& value() & { return *ptr(); }
    T&& value() && { return std::move(*ptr()); }
    T* operator->() noexcept { return ptr(); }
    T& operator*() noexcept { return *ptr(); }

private:
    T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(&storage_)); }
    void reset() noexcept {
        if (ok_) ptr()->~T();
        ok_ = false;
    }
    alignas(T) std::byte storage_[sizeof(T)];
    Errc code_ = Errc::ok;
    bool ok_ = false;
};

// Thrown by Queue::create/open and handle constructors: one line saying what
// was wrong and what to do.
class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

enum class OnFull : uint8_t { block = 0, reject = 1, spill = 2, drop_oldest = 3 };
// keyed: consumers compete as in shared, but one key's messages go one at a time, in offset
// order (SQS FIFO message groups; docs/ARCHITECTURE.md, "Keyed groups").
enum class GroupKind : uint8_t { exclusive = 1, shared = 2, keyed = 3 };
enum class StartAt : uint8_t { oldest = 0, latest = 1 };
// When shmqd makes its disk writes (spill) durable: never (page cache: survives
// a crash of any process, not a power loss), batch (group commit: one
// fdatasync per batch of writes), always (one per message).
enum class Fsync : uint8_t { never = 0, batch = 1, always = 2 };
// What an expired message becomes (QueueOptions::ttl_action): a DLQ entry
// with reason ttl, or nothing (only counted).
enum class TtlAction : uint8_t { dlq = 0, drop = 1 };

using Millis = std::chrono::milliseconds;
inline constexpr Millis kForever = Millis::max();

struct QueueOptions {
    uint32_t partitions = 1;        // 1..1024
    uint32_t capacity = 1024;       // slots per partition, power of two, 2..2^24
    uint32_t max_message = 1024;    // payload bytes, 1..16 MiB
    OnFull on_full = OnFull::block;
    uint32_t lease_ms = 30000;      // visibility timeout of a delivery
    uint32_t max_groups = 16;       // 1..256
    uint32_t max_participants = 128;  // attached producers + consumers, 1..4094
    uint32_t max_deliveries = 5;    // failed deliveries before the DLQ, 1..1000 (a handoff is not one)
    uint32_t dlq_capacity = 1024;   // DLQ slots, power of two
    uint32_t mode = 0600;           // permission bits of the region
    // A partition deeper than this % of its capacity makes the queue report
    // "overloaded" (shmq check, stat, /metrics). 0..100; 0: never.
    uint32_t high_watermark_pct = 80;
    // on_full=spill: staging slots per partition that producers fill while
    // the ring is full and shmqd drains to disk. 0: max(capacity, 1024).
    uint32_t spill_buffer = 0;
    Fsync fsync = Fsync::batch;
    // shmqd journals every published message to disk (a built-in reader: a
    // slot is reused only once journaled), keeping whole segments within
    // retain_bytes per partition and retain_ms of age (0: no limit).
    bool journal = false;
    uint64_t retain_bytes = 0;
    uint64_t retain_ms = 0;
    // Deduplicated publishing (docs/ARCHITECTURE.md, "Deduplication"): a
    // send whose SendOptions::dedup_id was published within the last
    // dedup_window_ms (CLOCK_REALTIME) is not enqueued again; it succeeds
    // with SendOutcome::duplicate. 0: off. At most 7 days.
    uint32_t dedup_window_ms = 0;
    // Ids the table takes per half window (each of its three generations
    // holds this many; a send beyond it answers overloaded). 0: partitions x
    // (capacity + spill_buffer). Memory: 3 x (a power of two >= 2 x this) x 32 bytes.
    uint32_t dedup_capacity = 0;
    // A send without an id uses FNV-1a 128 of its key and payload as its id
    // (Producer::send; a Transaction's sends are not deduplicated).
    bool dedup_content = false;
    // Keyed groups (GroupKind::keyed) the queue can hold at once, at most
    // max_groups (clamped to it). Each costs partitions x capacity x 48 bytes
    // for its key index. 0: none.
    uint32_t keyed_groups = 2;
    // Message TTL (docs/ARCHITECTURE.md, "Message TTL"): a message not yet
    // delivered this long after it was published is never delivered; it
    // becomes ttl_action's. SendOptions::ttl may lower it per message. 0:
    // only per-message TTLs. At most 2^32 - 1 ms. Not on drop_oldest queues.
    uint32_t message_ttl_ms = 0;
    TtlAction ttl_action = TtlAction::dlq;
    // Delayed messages (SendOptions::delay) the queue holds at once, waiting
    // for their due time, 0..2^24. Each costs max_message + ~200 bytes of
    // region (plus 128 with a dedup window). 0: delays are refused (invalid_argument).
    uint32_t delay_capacity = 0;
};

inline constexpr std::size_t kMaxKeyBytes = 64;

struct SendOptions {
    std::string_view key{};  // same key -> same partition (FNV-1a 64 of the bytes, mod partitions)
    Millis timeout = kForever;  // how long on_full=block may wait for room
    std::optional<uint32_t> partition{};  // explicit partition (overrides the key's); invalid_argument if out of range
    // Up to 128 bytes; on a queue with a dedup window, a send of an id
    // already published within the window is not enqueued again (see
    // SendOutcome). Ignored by queues without one. send() only: claim() and a
    // send_batch of more than one payload answer invalid_argument.
    std::string_view dedup_id{};
    // Per-message TTL, counted from the publish: the lower of it and the
    // queue's message_ttl_ms applies. 0: the queue's. Carried in the
    // message's attribute block (8 bytes of max_message). send(),
    // send_batch() and a Transaction's sends; claim() answers
    // invalid_argument. 1 ms..2^32 - 1 ms.
    Millis ttl{0};
    // Delayed delivery (docs/ARCHITECTURE.md, "Delayed delivery"): > 0 keeps
    // the message in the queue's delay store until now + delay, then it
    // enters its partition (key, partition and dedup_id applied then) and
    // takes its offset: per key, messages come out in the order they
    // became due. Never delivered early. No cap. A full store answers
    // overloaded; a queue created without --delay-capacity (0) answers
    // invalid_argument. send() and send_batch() only: claim() and a
    // Transaction's sends answer invalid_argument. 0: none.
    Millis delay{0};
};

inline constexpr std::size_t kMaxDedupIdBytes = 128;

// What a send did. For a duplicate (its id was published within the
// window): duplicate = true and the original's partition and offset; the
// message was not enqueued again. staged: `offset` is a spill sequence (the
// message went to disk staging; its offset is assigned when it is refilled).
// delayed: the message waits in the delay store (SendOptions::delay); its
// offset is assigned when it is due, so `offset` means nothing (0), and
// `partition` is the explicit or the key's one (0 without either: chosen when due).
struct SendOutcome {
    uint32_t partition = 0;
    uint64_t offset = 0;
    bool duplicate = false;
    bool staged = false;
    bool delayed = false;
};

// How a producer writes a partition (docs/ARCHITECTURE.md, "The life of a message").
enum class WriterMode : uint8_t {
    // The default. While it is the only producer attached to the queue, it
    // holds every partition's writer role and publishes with plain stores
    // (no atomic read-modify-write per message); it gives a partition's
    // role back as soon as another writer (a producer, `shmq produce`,
    // `shmq dlq redrive`, `bridge in`) sends to it, and takes it again,
    // within 4096 of its sends, once it is alone again. Never on an
    // on_full=spill queue, nor where membarrier() is unavailable: there it
    // is `shared`. A contender's first send to a held partition waits for
    // the handover (a membarrier, microseconds; a holder stopped inside a
    // send, e.g. by SIGSTOP, makes it wait up to its timeout, at least 10 ms,
    // then answer `timeout`; a dead holder is reaped by the contender).
    automatic = 0,
    // Always the multi-producer protocol (a claim CAS per message).
    shared = 1,
    // The queue's only writer (like Aeron's exclusive publication): takes
    // every partition's writer role when opened and keeps it. producer()
    // throws writer_busy if another exclusive producer holds a partition
    // (an automatic holder is asked to give it back first), and
    // invalid_argument on an on_full=spill queue (shmqd refills its
    // partitions). While it lives, other producers' sends, `shmq dlq
    // redrive` and `shmq produce` get writer_busy.
    exclusive = 2,
};

struct ProducerOptions {
    // The same as writer = WriterMode::exclusive (kept for existing callers).
    bool exclusive = false;
    WriterMode writer = WriterMode::automatic;
};

namespace detail {
class Region;
struct ProducerCore;
struct ConsumerCore;
struct ClaimRef;
struct ConsumerSleep;  // shmq/internal/consumer_sleep.hpp
struct TxCore;         // lib/src/tx/tx_core.hpp
struct PublisherCore;  // lib/src/exchange/publisher.cpp
}  // namespace detail
class Producer;
namespace detail {
// shmq/internal/carried_send.hpp: a send that carries a dedup id without the
// window's check, and the message's attribute block (empty: none).
Status send_carrying_id(Producer& producer, std::span<const std::byte> payload, const SendOptions& options,
                        std::string_view dedup_id, uint16_t redrives,
                        std::span<const std::byte> attribute_block = {}) noexcept;
// shmq/internal/carried_send.hpp: send(payload, options, outcome) with an
// attribute block (shmq/internal/attributes.hpp; empty: a plain send).
Status send_with_attributes(Producer& producer, std::span<const std::byte> payload, const SendOptions& options,
                            std::span<const std::byte> attribute_block, SendOutcome& outcome) noexcept;
}  // namespace detail

// A claimed, not yet published slot (zero-copy send). Fill data(), then
// commit(); dropping it unpublished aborts it (consumers skip the offset).
// A claim keeps its producer's state alive: it may be committed or aborted
// after the Producer handle is gone, and on another thread (the producer
// stays attached until the last of the handle and its claims is gone). Two
// commits of one producer's claims must not run at the same time, nor one
// beside a send of that producer (they share its publish bookkeeping).
class [[nodiscard]] Claim {
public:
    Claim(Claim&& o) noexcept;
    Claim& operator=(Claim&& o) noexcept;
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim();

    std::span<std::byte> data() const noexcept { return {data_, size_}; }
    uint32_t partition() const noexcept { return partition_; }
    // The partition offset; for a claim staged for spilling (on_full=spill
    // while the partition spills) the spill sequence instead: the offset is
    // assigned when shmqd moves the message into the ring.
    uint64_t offset() const noexcept { return offset_; }
    bool staged() const noexcept { return staged_; }
    // Publishes the first `used` bytes (default: all). claim_aborted if the
    // reaper aborted this claim meanwhile (possible only after a long stall).
    Status commit() noexcept { return commit(size_); }
    Status commit(std::size_t used) noexcept;
    void abort() noexcept;

private:
    friend class Producer;
    Claim(detail::ProducerCore* core, uint32_t partition, uint64_t offset, std::byte* data, std::size_t size,
          bool staged) noexcept
        : core_(core), data_(data), size_(size), partition_(partition), offset_(offset), staged_(staged) {}
    detail::ProducerCore* core_ = nullptr;  // holds one reference while open
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    uint32_t partition_ = 0;
    uint64_t offset_ = 0;
    bool staged_ = false;
};

class Producer {
public:
    Producer(Producer&&) noexcept;
    Producer& operator=(Producer&&) noexcept;
    ~Producer();

    // Copies `payload` into the queue. timeout / overloaded on a full
    // partition (per on_full), message_too_large, key_too_large, queue_deleted.
    Status send(std::span<const std::byte> payload, const SendOptions& options = {}) noexcept;
    Status send(std::string_view payload, const SendOptions& options = {}) noexcept {
        return send(std::as_bytes(std::span(payload.data(), payload.size())), options);
    }
    // The same, saying where the message went (or, for a duplicate, where
    // the original is).
    Status send(std::span<const std::byte> payload, const SendOptions& options, SendOutcome& outcome) noexcept;
    Status send(std::string_view payload, const SendOptions& options, SendOutcome& outcome) noexcept {
        return send(std::as_bytes(std::span(payload.data(), payload.size())), options, outcome);
    }
    // Zero-copy: reserves `size` bytes in the next slot of the chosen partition.
    Result<Claim> claim(std::size_t size, const SendOptions& options = {}) noexcept;
    // Sends payloads in order, each with `options`, stopping at the first
    // failure: count = how many were sent; ok() iff all were, else status is
    // why payloads[count] failed (the errors of send). The whole batch goes
    // to one partition (the key's, options.partition, or the next in turn)
    // and publishes its tail and wakes consumers once per run of room.
    BatchResult send_batch(std::span<const std::span<const std::byte>> payloads,
                           const SendOptions& options = {}) noexcept;

    uint32_t participant_id() const noexcept;

private:
    friend class Queue;
    friend class Transaction;
    friend struct detail::TxCore;
    friend struct detail::PublisherCore;  // sees whether a target's queue was deleted
    friend Status detail::send_carrying_id(Producer&, std::span<const std::byte>, const SendOptions&, std::string_view,
                                           uint16_t, std::span<const std::byte>) noexcept;
    friend Status detail::send_with_attributes(Producer&, std::span<const std::byte>, const SendOptions&,
                                               std::span<const std::byte>, SendOutcome&) noexcept;
    explicit Producer(detail::ProducerCore* core) noexcept;
    detail::ProducerCore* core_ = nullptr;  // holds one reference
};

// A delivered message: a view into shared memory. The bytes stay valid while
// the lease is held: until settled, or until the lease deadline (lease_ms
// after delivery; extend() moves it) passes and another consumer takes and
// finishes the message, after which the slot may be reused. A consumer that
// may outrun its lease reads (or copies) first and then checks lease_held():
// true means what it read was intact (a seqlock-style validation). An
// at-most-once message never expires: its bytes stay valid until released.
// Dropping an unsettled at-least-once message NACKs it (redelivered at once);
// dropping an at-most-once message releases it.
class [[nodiscard]] Message {
public:
    Message() = default;  // empty and settled; receive/receive_batch fill it
    Message(Message&& o) noexcept;
    Message& operator=(Message&& o) noexcept;
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    ~Message();

    std::span<const std::byte> data() const noexcept { return {data_, size_}; }
    std::string_view text() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
    std::string_view key() const noexcept { return {key_, key_size_}; }
    uint32_t partition() const noexcept { return partition_; }
    uint64_t offset() const noexcept { return offset_; }
    uint32_t deliveries() const noexcept { return deliveries_; }
    // CLOCK_REALTIME_COARSE at publish (resolution: the kernel tick, 1-4 ms),
    // except every 64th offset of a partition, stamped precisely for the
    // publish -> ACK latency histogram. For sub-ms latencies stamp your own.
    uint64_t publish_unix_ns() const noexcept { return publish_unix_ns_; }
    // The dedup id it was sent with (SendOptions::dedup_id, or the content
    // hash's 16 bytes with dedup_content); empty when none. Read from the
    // slot, like data(): valid while the bytes are.
    std::string_view dedup_id() const noexcept;
    // The routing key and headers it was published with through an exchange
    // (Publisher::publish); empty / none for a plain send. Read from the
    // slot, like data(): valid while the bytes are. header(): the first
    // header named `key`. header_at(i), i < header_count(): the i-th, in
    // publish order ({} beyond).
    std::string_view routing_key() const noexcept;
    std::optional<std::string_view> header(std::string_view key) const noexcept;
    std::size_t header_count() const noexcept { return attrs_count_ & 0x0f; }
    std::pair<std::string_view, std::string_view> header_at(std::size_t i) const noexcept;
    // The slot said it holds an attribute block, but the block is malformed
    // (a damaged or hostile region): no routing key or headers are shown and
    // data() is the whole stored payload, block included, as a slot whose
    // payload_len is out of range is clamped rather than trusted.
    bool attributes_malformed() const noexcept { return attrs_malformed_; }

    Status ack() noexcept;                      // lease_lost if it was taken away
    Status nack(Millis delay = Millis(0)) noexcept;  // redeliver after `delay`
    Status extend(Millis more) noexcept;        // deadline = now + more
    // True while this delivery still holds its lease (nobody else can have
    // taken the message, so the bytes read before this call were intact).
    bool lease_held() const noexcept;

private:
    friend struct detail::ConsumerCore;
    friend struct detail::TxCore;
    friend std::size_t ack_all(std::span<Message> messages) noexcept;
    detail::ConsumerCore* core_ = nullptr;  // holds one reference while unsettled
    const std::byte* data_ = nullptr;
    const char* key_ = nullptr;
    std::size_t size_ = 0;
    uint32_t key_size_ = 0;
    uint32_t partition_ = 0;
    uint64_t offset_ = 0;
    uint64_t lease_ = 0;  // the lease word this delivery installed (its epoch)
    uint64_t revocations_ = 0;  // exclusive groups: the partition's revocation rounds at delivery (fast ACK)
    uint64_t publish_unix_ns_ = 0;
    uint32_t deliveries_ = 0;
    const std::byte* attrs_ = nullptr;  // the attribute block (checked at delivery), null: none
    uint16_t attrs_len_ = 0;
    uint8_t attrs_rk_len_ = 0;
    uint8_t attrs_count_ = 0;  // as stored: the header count, bit 7 when a TTL precedes the routing key
    bool attrs_malformed_ = false;
    bool settled_ = true;
};

struct ConsumerOptions {
    GroupKind kind = GroupKind::shared;   // fixed when the group is created
    StartAt start = StartAt::oldest;      // where a new group starts
    uint32_t max_in_flight = 256;         // unsettled messages this consumer may hold
    bool at_most_once = false;            // free each message at pickup; never redelivered
};

class Consumer {
public:
    Consumer(Consumer&&) noexcept;
    Consumer& operator=(Consumer&&) noexcept;
    ~Consumer();

    // Waits up to `timeout` for a message (Millis(0): poll once). Errc::timeout
    // when none came; queue_deleted when the queue went away.
    Result<Message> receive(Millis timeout = kForever) noexcept;
    // Fills up to out.size() messages: waits up to `timeout` for the first,
    // then takes only what is ready. count = how many were filled (out[0,
    // count)); ok() when at least one came (fewer than out.size() is no
    // error), else count 0 and status is the error of receive (timeout,
    // queue_deleted, ...). Unsettled messages already in `out` are NACKed.
    BatchResult receive_batch(std::span<Message> out, Millis timeout = kForever) noexcept;

    uint32_t participant_id() const noexcept;
    uint32_t group_index() const noexcept;

private:
    friend class Queue;
    friend class Transaction;
    friend struct detail::TxCore;
    friend struct detail::ConsumerSleep;
    explicit Consumer(detail::ConsumerCore* core) noexcept;
    detail::ConsumerCore* core_ = nullptr;  // holds one reference
};

// Atomic consume-and-produce (docs/ARCHITECTURE.md, "Transactions"): the
// ACKs of input messages of one consumer and sends through any producers,
// on any queues, happen all together at commit() or not at all.
//
//   shmq::Transaction tx(consumer);
//   auto m = consumer.receive();
//   tx.send(resized, bytes, {.key = m->key()});
//   tx.ack(*m);
//   tx.commit();  // ok: the ACK and every send happened; else none did
//
// Until commit() returns ok, the outputs are invisible to every group (they
// hold their partitions: consumers of those wait at them) and the inputs
// stay leased. abort(), a failed commit, or destroying the object releases
// everything: the inputs are redelivered (each counts as a failed
// delivery), the outputs discarded. If the process dies before its commit
// point the same happens as soon as its death is seen; after it, a peer or
// shmqd finishes the commit. A transaction open longer than its timeout may
// be aborted by any peer (commit then answers lease_lost).
//
// The consumer must be at-least-once, on a queue that is not on_full
// drop_oldest; a producer takes part in one transaction at a time; sends
// carry no dedup id (nor a content id on a dedup_content queue: they are
// not deduplicated). An output into an on_full=spill queue may wait in its
// staging, which shmqd drains only once the transaction committed. At most kMaxTransactionOutputs distinct producers per
// transaction. After commit() or abort() the object starts a new
// transaction with its next send or ack. Used by one thread at a time, with
// its consumer and producers.
struct TransactionOptions {
    // How long the transaction may stay open (from its first send or ack)
    // before a peer may abort it. 0: the input queue's lease_ms.
    Millis timeout{0};
};
inline constexpr std::size_t kMaxTransactionOutputs = 32;
class Transaction {
public:
    // Throws Error(invalid_argument) for an at-most-once consumer or a drop_oldest queue.
    explicit Transaction(Consumer& input, const TransactionOptions& options = {});
    Transaction(Transaction&&) noexcept;
    Transaction& operator=(Transaction&&) noexcept;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();  // aborts what is open
    // Writes an output, invisible until commit, its options applied as
    // Producer::send's (a TTL counts from the send). The errors of
    // Producer::send, and invalid_argument (a dedup id; a delay; a 33rd
    // producer; a producer in another open transaction), lease_lost (a peer
    // aborted the transaction: late).
    Status send(Producer& producer, std::span<const std::byte> payload, const SendOptions& options = {}) noexcept;
    Status send(Producer& producer, std::string_view payload, const SendOptions& options = {}) noexcept {
        return send(producer, std::as_bytes(std::span(payload.data(), payload.size())), options);
    }
    // Producer::send_batch's counterpart: the payloads into one partition
    // under one key, claimed in runs (the cost of send_batch plus the commit's
    // per message), invisible until commit. count: the outputs written;
    // status: the first send's error (the errors of send), ok when all were.
    BatchResult send_batch(Producer& producer, std::span<const std::span<const std::byte>> payloads,
                           const SendOptions& options = {}) noexcept;
    // Takes `message` (received from this transaction's consumer) into the
    // transaction: it is settled for its holder (ack/nack answer
    // already_settled) and ACKed at commit. invalid_argument: another
    // consumer's; already_settled; lease_lost: its lease is gone already.
    // A message of a replay (`shmq replay`: delivered from the replay region
    // before the ring's) cannot be taken into one: invalid_argument; settle
    // it with ack()/nack().
    Status ack(Message& message) noexcept;
    // ack() of each message in order, without the early lease check (commit
    // answers lease_lost). count: the messages taken; status: the first
    // refusal (ack's errors), ok when all were taken.
    BatchResult ack_all(std::span<Message> messages) noexcept;
    // ok: every ACK and send happened. lease_lost: an input's lease was lost
    // (expiry, handoff, owner declared dead) or a peer aborted the
    // transaction; nothing of it happened and the inputs are redelivered.
    Status commit() noexcept;
    void abort() noexcept;
    std::size_t sends() const noexcept;  // in the open transaction
    std::size_t acks() const noexcept;

private:
    detail::TxCore* core_ = nullptr;
};

// Queue::create/open/remove throw Error with a code to branch on:
// invalid_argument (bad name or options), already_exists (create), not_found
// (open, remove), permission_denied (the region's owner or mode refuses us),
// region_corrupt (not a usable region), no_resources (/dev/shm full,
// descriptor or memory limits).
class Queue {
public:
    // Throws Error: invalid_argument, already_exists, permission_denied, no_resources.
    static Queue create(std::string_view name, const QueueOptions& options = {});
    // Throws Error: invalid_argument, not_found, permission_denied, region_corrupt, no_resources.
    static Queue open(std::string_view name);
    // Removes the region; attached processes see queue_deleted. Throws Error:
    // invalid_argument, not_found, permission_denied.
    static void remove(std::string_view name);
    static bool exists(std::string_view name);

    Producer producer(const ProducerOptions& options = {});
    Consumer consumer(std::string_view group, const ConsumerOptions& options = {});

    const QueueOptions& options() const noexcept;
    const std::string& name() const noexcept;

    Queue(Queue&&) noexcept;
    Queue& operator=(Queue&&) noexcept;
    ~Queue();

private:
    explicit Queue(std::shared_ptr<detail::Region> region) noexcept;
    std::shared_ptr<detail::Region> region_;
};

// Acks every unsettled message of `messages` (of any consumers); returns how
// many were acked (the others had lost their lease or were settled already).
std::size_t ack_all(std::span<Message> messages) noexcept;

// The partition a key maps to: FNV-1a 64 of the key bytes, modulo `partitions`.
uint32_t partition_for_key(std::string_view key, uint32_t partitions) noexcept;

// --- Exchanges (RabbitMQ-style routing; docs/CLI.md "Exchanges") -----------
// Routing tables in shared memory. route() says where a message would go;
// a Publisher sends it there.
namespace detail {
class ExchangeTable;
}  // namespace detail

enum class ExchangeType : uint8_t { direct = 1, topic = 2, fanout = 3, headers = 4 };
enum class HeaderMatch : uint8_t { all = 1, any = 2 };  // of a headers exchange's binding

struct MessageHeader {  // key 1..32 bytes, value up to 64; at most 8 per message or binding
    std::string key;
    std::string value;
};

struct RouteInfo {
    std::vector<std::string> queues;   // each live queue once (the alternate when unroutable and live)
    std::size_t matched = 0;           // live queues matched by bindings
    bool unroutable = false;           // no live queue matched
    bool to_alternate = false;
    std::vector<std::string> skipped;  // matched but deleted destinations
    uint64_t version = 0;              // of this exchange's table
};

// Exchange::create/open/remove, bind and unbind throw Error: invalid_argument
// (bad name, key over 255 bytes, a binding wrong for the type, a cycle),
// already_exists, not_found, permission_denied, region_corrupt, no_resources
// (256 bindings). bind/unbind return the table's version after the call and
// take effect for every route() that starts after they return.
class Exchange {
public:
    static Exchange create(std::string_view name, ExchangeType type, std::string_view alternate_queue = {});
    static Exchange open(std::string_view name);
    static void remove(std::string_view name);
    static bool exists(std::string_view name);

    uint64_t bind(std::string_view queue, std::string_view key = {});
    uint64_t bind_headers(std::string_view queue, HeaderMatch match, std::span<const MessageHeader> headers);
    uint64_t bind_exchange(std::string_view exchange, std::string_view key = {});  // refuses cycles
    uint64_t unbind(std::string_view queue, std::string_view key = {});
    uint64_t unbind_exchange(std::string_view exchange, std::string_view key = {});

    // Lock-free. invalid_argument (key over 255 bytes, bad headers),
    // not_found (deleted), region_corrupt or timeout (the table unreadable).
    [[nodiscard]] Status route(std::string_view routing_key, std::span<const MessageHeader> headers,
                               RouteInfo& out) const;

    const std::string& name() const noexcept;
    ExchangeType type() const noexcept;

    Exchange(Exchange&&) noexcept;
    Exchange& operator=(Exchange&&) noexcept;
    ~Exchange();

private:
    explicit Exchange(std::shared_ptr<detail::ExchangeTable> table) noexcept;
    std::shared_ptr<detail::ExchangeTable> table_;
};

struct PublishOptions {
    std::string_view routing_key{};                 // at most 255 bytes
    std::string_view key{};                         // partition key in every target queue (per-key order)
    std::span<const MessageHeader> headers{};       // matched by headers exchanges
    Millis timeout = kForever;                      // how long on_full=block targets may wait for room
};

struct PublishOutcome {
    std::size_t queues = 0;      // queues the message went to (0 when the publish failed)
    uint64_t table_version = 0;  // version of the routing table this publish used (0: none was read)
    bool to_alternate = false;   // unroutable, went to the exchange's alternate queue
};

// Publishes through an exchange (docs/ARCHITECTURE.md, "Exchanges"): the
// message goes to every live queue its bindings match, each once; one
// target is a plain send, several are all-or-nothing (every queue shows it
// or none does). Nothing matched: to the exchange's alternate queue if it
// is live, else Errc::unroutable and nothing is sent. Routes are cached per
// (routing key, headers) while the tables keep their versions; a producer
// is kept per target queue (reopened when the queue is recreated). Used by
// one thread at a time, like a Producer.
class Publisher {
public:
    // Throws Error like Exchange::open: invalid_argument, not_found,
    // permission_denied, region_corrupt.
    static Publisher open(std::string_view exchange);

    // The errors of Producer::send (timeout, overloaded, message_too_large,
    // key_too_large, ...), and unroutable, invalid_argument (routing key over
    // 255 bytes, bad headers), not_found (the exchange was deleted),
    // region_corrupt (a table or a target unreadable), no_resources (a
    // target's lease table full). On any error outcome.queues is 0 and no
    // queue shows the message.
    Status publish(std::span<const std::byte> payload, const PublishOptions& options,
                   PublishOutcome& outcome) noexcept;
    Status publish(std::string_view payload, const PublishOptions& options = {}) noexcept {
        PublishOutcome outcome;
        return publish(std::as_bytes(std::span(payload.data(), payload.size())), options, outcome);
    }

    const std::string& exchange() const noexcept;

    Publisher(Publisher&&) noexcept;
    Publisher& operator=(Publisher&&) noexcept;
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;
    ~Publisher();

private:
    explicit Publisher(std::unique_ptr<detail::PublisherCore> core) noexcept;
    std::unique_ptr<detail::PublisherCore> core_;
};


}  // namespace shmq
