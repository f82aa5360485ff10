/* shmq C API: the C++ library (shmq.hpp) behind opaque handles, for C99/C11
 * programs and foreign-function interfaces.
 *
 *   shmq_producer* p;  shmq_consumer* c;  shmq_message* m;
 *   shmq_queue_create("photos", NULL);                  // defaults; or fill shmq_queue_options
 *   shmq_producer_open("photos", &p);
 *   shmq_producer_send(p, "hi", 2, "user-42", 7, SHMQ_FOREVER);
 *   shmq_consumer_open("photos", "resizers", SHMQ_GROUP_SHARED, &c);
 *   if (shmq_consumer_receive(c, 1000, &m) == SHMQ_OK) {
 *       use(shmq_message_data(m), shmq_message_size(m));
 *       shmq_message_ack(m);
 *       shmq_message_close(m);
 *   }
 *   shmq_consumer_close(c);  shmq_producer_close(p);  shmq_queue_remove("photos");
 *
 * Status: every function that can fail returns an int: SHMQ_OK (0) or a
 * negative shmq_status. Codes -1..-11 mirror shmq::Errc (code == -(int)Errc);
 * codes <= -100 exist only here (Errc's not_found, already_exists and
 * permission_denied, writer_busy and unroutable map onto SHMQ_ERR_NOT_FOUND,
 * SHMQ_ERR_EXISTS, SHMQ_ERR_PERMISSION_DENIED, SHMQ_ERR_WRITER_BUSY and
 * SHMQ_ERR_UNROUTABLE). shmq_strerror(code) gives the fixed meaning
 * of a code; shmq_last_error_message() gives the one-line detail of the
 * calling thread's last failed call (which queue, which value, what to do).
 * No C++ exception ever crosses this interface.
 *
 * Ownership and lifetime:
 *  - Each *_open / shmq_consumer_receive that returns SHMQ_OK stores a new
 *    handle in *out, owned by the caller, released by exactly one matching
 *    *_close. On failure *out is set to NULL. Every *_close accepts NULL.
 *  - A producer or consumer is used by one thread at a time; different
 *    handles need no coordination. Messages may be settled and closed from
 *    any thread, and may outlive the consumer that received them.
 *  - The pointers returned by shmq_message_data and shmq_message_key point
 *    into shared memory. They are valid only until the message is settled
 *    (ack or nack) or closed, whichever comes first; copy what you keep.
 *  - Settling does not free the handle: a message is always closed. Closing
 *    an unsettled message NACKs it (redelivered at once).
 *  - Strings passed in (names, groups) are only read during the call. The
 *    strings returned by shmq_strerror are static; the one returned by
 *    shmq_last_error_message stays valid until the calling thread's next
 *    shmq call.
 */
#ifndef SHMQ_SHMQ_H
#define SHMQ_SHMQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
/* Seen from C++ the functions are noexcept: nothing can unwind out of them. */
#define SHMQ_NOEXCEPT noexcept
extern "C" {
#else
#define SHMQ_NOEXCEPT
#endif

/* Status codes. -1..-11 are -(int)shmq::Errc, in the same order. New codes
 * are appended; none is ever renumbered. */
typedef enum shmq_status {
    SHMQ_OK = 0,
    SHMQ_ERR_TIMEOUT = -1,            /* nothing arrived / no room within the timeout */
    SHMQ_ERR_OVERLOADED = -2,         /* partition full and on_full=reject */
    SHMQ_ERR_MESSAGE_TOO_LARGE = -3,  /* payload larger than the queue's max_message */
    SHMQ_ERR_KEY_TOO_LARGE = -4,      /* key longer than 64 bytes */
    SHMQ_ERR_LEASE_LOST = -5,         /* the lease expired; the message went elsewhere */
    SHMQ_ERR_ALREADY_SETTLED = -6,    /* ack/nack on a message already settled */
    SHMQ_ERR_CLAIM_ABORTED = -7,
    SHMQ_ERR_QUEUE_DELETED = -8,      /* the queue was deleted while attached */
    SHMQ_ERR_REGION_CORRUPT = -9,
    SHMQ_ERR_INVALID_ARGUMENT = -10,  /* bad name, option, NULL handle */
    SHMQ_ERR_NO_RESOURCES = -11,      /* participant, group or DLQ table full; /dev/shm full */
    /* C API only: */
    SHMQ_ERR_NOT_FOUND = -100,        /* no queue (or exchange) with that name */
    SHMQ_ERR_EXISTS = -101,           /* shmq_queue_create, shmq_exchange_create: one with that name exists */
    SHMQ_ERR_NO_MEMORY = -102,        /* allocation failed in this process */
    SHMQ_ERR_INTERNAL = -103,         /* an unexpected C++ exception; see the detail message */
    SHMQ_ERR_PERMISSION_DENIED = -104, /* the region's owner or mode refuses this process (EACCES/EPERM) */
    SHMQ_ERR_WRITER_BUSY = -105,      /* the partition has an exclusive producer: close it first */
    SHMQ_ERR_UNROUTABLE = -106        /* shmq_publisher_publish: no binding matched, no alternate queue */
} shmq_status;

typedef enum shmq_group_kind {
    SHMQ_GROUP_EXCLUSIVE = 1, /* a partition belongs to one consumer of the group; offset order */
    SHMQ_GROUP_SHARED = 2,    /* consumers compete for every message; each delivery is a lease */
    SHMQ_GROUP_KEYED = 3      /* as shared, but one message of a key at a time, in order */
} shmq_group_kind;

/* A timeout in milliseconds: 0 polls once, SHMQ_FOREVER (any negative) waits without limit. */
#define SHMQ_FOREVER (-1)

/* Options of shmq_queue_create. A zero field takes the library default
 * (1 partition, 1024 slots, 1024-byte messages), so `{0}` means all defaults;
 * every other option takes its default from shmq::QueueOptions. */
typedef struct shmq_queue_options {
    uint32_t partitions;  /* 1..1024 */
    uint32_t capacity;    /* slots per partition, a power of two, 2..2^24 */
    uint32_t max_message; /* payload bytes, 1..16 MiB */
} shmq_queue_options;

typedef struct shmq_producer shmq_producer;
typedef struct shmq_consumer shmq_consumer;
typedef struct shmq_message shmq_message;

/* The fixed one-line meaning of a status code ("unknown shmq status" for others). Never NULL. */
const char* shmq_strerror(int code) SHMQ_NOEXCEPT;
/* The detail of this thread's last failed call; "" if none failed yet. Never NULL. */
const char* shmq_last_error_message(void) SHMQ_NOEXCEPT;

/* Creates queue `name` ([A-Za-z0-9._-]{1,64}); `options` may be NULL. Holds nothing open. */
int shmq_queue_create(const char* name, const shmq_queue_options* options) SHMQ_NOEXCEPT;
/* shmq_queue_create with a delay store of `delay_capacity` delayed messages
 * (QueueOptions::delay_capacity; 0: none, as shmq_queue_create). */
int shmq_queue_create_delayed(const char* name, const shmq_queue_options* options, uint32_t delay_capacity) SHMQ_NOEXCEPT;
/* Removes queue `name`; attached handles then see SHMQ_ERR_QUEUE_DELETED. */
int shmq_queue_remove(const char* name) SHMQ_NOEXCEPT;

/* The default producer (WriterMode::automatic): while it is the only producer
 * attached, it holds every partition's writer role and sends with plain
 * stores; it gives a partition back as soon as another writer sends to it. */
int shmq_producer_open(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT;
/* Always the multi-producer protocol (WriterMode::shared): one claim CAS per
 * message, never the writer role. */
int shmq_producer_open_shared(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT;
/* The queue's only writer (ProducerOptions::exclusive): plain stores, no
 * atomic read-modify-write per message. SHMQ_ERR_WRITER_BUSY if another
 * exclusive producer holds a partition; while it lives, other producers'
 * sends fail with SHMQ_ERR_WRITER_BUSY. */
int shmq_producer_open_exclusive(const char* queue, shmq_producer** out) SHMQ_NOEXCEPT;
/* Copies `size` bytes of `data` into the queue. `key` may be NULL (or key_size
 * 0): no key; a key's bytes choose the partition, so per-key order holds.
 * `timeout_ms` bounds the wait for room when the partition is full. */
int shmq_producer_send(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                       int64_t timeout_ms) SHMQ_NOEXCEPT;
/* The same with a dedup id (SendOptions::dedup_id, up to 128 bytes; `dedup_id`
 * may be NULL with size 0: none). On a queue created with a dedup window
 * (`shmq create --dedup-window-ms`), an id published within the window is
 * not enqueued again: SHMQ_OK with *duplicate = 1 (`duplicate` may be NULL). */
int shmq_producer_send_dedup(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                             const char* dedup_id, size_t dedup_id_size, int64_t timeout_ms,
                             int* duplicate) SHMQ_NOEXCEPT;
/* The same with the message's own TTL (SendOptions::ttl, 1..2^32-1 ms): the
 * lower of it and the queue's message TTL applies. Not delivered in time, it
 * goes to the DLQ with reason ttl (or is dropped: `shmq create --ttl-action`). */
int shmq_producer_send_ttl(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                           uint32_t ttl_ms, int64_t timeout_ms) SHMQ_NOEXCEPT;
/* Delayed delivery (SendOptions::delay): the message waits in the queue's
 * delay store and enters its partition `delay_ms` ms from now, never
 * earlier, taking its offset then (per key: the order they became due).
 * `delay_ms` 0 is a plain send. SHMQ_ERR_OVERLOADED when the store is full;
 * SHMQ_ERR_INVALID_ARGUMENT on a queue created without a delay capacity
 * (shmq_queue_create_delayed, `shmq create --delay-capacity N`). */
int shmq_producer_send_delayed(shmq_producer* producer, const void* data, size_t size, const char* key, size_t key_size,
                               int64_t delay_ms) SHMQ_NOEXCEPT;
int shmq_producer_close(shmq_producer* producer) SHMQ_NOEXCEPT;

/* Joins `group` of `queue` (created on first use, with this kind). */
int shmq_consumer_open(const char* queue, const char* group, shmq_group_kind kind, shmq_consumer** out) SHMQ_NOEXCEPT;
/* Waits up to `timeout_ms` for a message: SHMQ_ERR_TIMEOUT when none came. */
int shmq_consumer_receive(shmq_consumer* consumer, int64_t timeout_ms, shmq_message** out) SHMQ_NOEXCEPT;
int shmq_consumer_close(shmq_consumer* consumer) SHMQ_NOEXCEPT;

/* Accessors of a received message; they cannot fail (NULL gives 0 / NULL).
 * data and key: see the lifetime rules above. key is not NUL-terminated;
 * it is NULL with *key_size 0 when the message has no key. */
const void* shmq_message_data(const shmq_message* message) SHMQ_NOEXCEPT;
size_t shmq_message_size(const shmq_message* message) SHMQ_NOEXCEPT;
const char* shmq_message_key(const shmq_message* message, size_t* key_size) SHMQ_NOEXCEPT;
/* The message's dedup id (not NUL-terminated); NULL with *size 0 when none. */
const char* shmq_message_dedup_id(const shmq_message* message, size_t* size) SHMQ_NOEXCEPT;
/* The routing key and headers it was published with through an exchange
 * (shmq_publisher_publish; Message::routing_key/header in C++). Not
 * NUL-terminated, pointing into shared memory like data. routing_key: NULL
 * with *size 0 when none. header: 1 and the value of the first header named
 * key (key_size bytes), or 0 (value NULL, *value_size 0) when none.
 * header_at: the i-th header (i < header_count), 0; SHMQ_ERR_INVALID_ARGUMENT
 * beyond. attributes_malformed: 1 when the slot's attribute block did not
 * check out (a damaged region): nothing is shown and data is the whole
 * stored payload. */
const char* shmq_message_routing_key(const shmq_message* message, size_t* size) SHMQ_NOEXCEPT;
int shmq_message_header(const shmq_message* message, const char* key, size_t key_size, const char** value,
                        size_t* value_size) SHMQ_NOEXCEPT;
size_t shmq_message_header_count(const shmq_message* message) SHMQ_NOEXCEPT;
int shmq_message_header_at(const shmq_message* message, size_t i, const char** key, size_t* key_size,
                           const char** value, size_t* value_size) SHMQ_NOEXCEPT;
int shmq_message_attributes_malformed(const shmq_message* message) SHMQ_NOEXCEPT;
uint32_t shmq_message_partition(const shmq_message* message) SHMQ_NOEXCEPT;
uint64_t shmq_message_offset(const shmq_message* message) SHMQ_NOEXCEPT;
uint32_t shmq_message_deliveries(const shmq_message* message) SHMQ_NOEXCEPT; /* 1 on first delivery */

int shmq_message_ack(shmq_message* message) SHMQ_NOEXCEPT;
/* Returns the message for redelivery after `delay_ms` (0: at once; negative: SHMQ_ERR_INVALID_ARGUMENT). */
int shmq_message_nack(shmq_message* message, int64_t delay_ms) SHMQ_NOEXCEPT;
int shmq_message_close(shmq_message* message) SHMQ_NOEXCEPT;

/* Exchanges (docs/ARCHITECTURE.md, "Exchanges"; `shmq exchange`, `shmq bind`):
 * a named routing table in /dev/shm: its administration, a dry-run route,
 * and publishers (shmq_publisher_*) that send through it. Strings are
 * NUL-terminated; a NULL key or alternate means none. `version`, when not
 * NULL, receives the table's version after the call (a bind or unbind takes
 * effect for every route that starts after it returns). */
typedef enum shmq_exchange_type {
    SHMQ_EXCHANGE_DIRECT = 1,  /* the binding key equals the routing key */
    SHMQ_EXCHANGE_TOPIC = 2,   /* dot-separated words: `*` one word, `#` zero or more */
    SHMQ_EXCHANGE_FANOUT = 3,  /* every binding */
    SHMQ_EXCHANGE_HEADERS = 4  /* a binding's headers, all or any of them */
} shmq_exchange_type;

typedef enum shmq_header_match { SHMQ_MATCH_ALL = 1, SHMQ_MATCH_ANY = 2 } shmq_header_match;

/* A header: key 1..32 bytes, value up to 64; at most 8 per binding or message. */
typedef struct shmq_header {
    const char* key;
    const char* value;
} shmq_header;

/* What a message would reach (shmq_exchange_route). */
typedef struct shmq_route_info {
    uint64_t version;  /* of the exchange's table */
    size_t queues;     /* live queues it would reach, each once (the alternate included) */
    size_t matched;    /* live queues matched by bindings (0 when unroutable) */
    size_t skipped;    /* matched destinations that are deleted */
    int unroutable;    /* 1: no live queue matched */
    int to_alternate;  /* 1: unroutable, and the exchange's alternate takes it */
} shmq_route_info;

/* SHMQ_ERR_EXISTS if an exchange of that name exists. */
int shmq_exchange_create(const char* name, shmq_exchange_type type, const char* alternate) SHMQ_NOEXCEPT;
/* SHMQ_ERR_NOT_FOUND if there is none. */
int shmq_exchange_remove(const char* name) SHMQ_NOEXCEPT;
/* Binds queue `queue` (which must exist) with binding key `key` (NULL: ""). */
int shmq_exchange_bind(const char* exchange, const char* queue, const char* key, uint64_t* version) SHMQ_NOEXCEPT;
/* A headers exchange's binding: `count` (1..8) headers matched all or any. */
int shmq_exchange_bind_headers(const char* exchange, const char* queue, shmq_header_match match,
                               const shmq_header* headers, size_t count, uint64_t* version) SHMQ_NOEXCEPT;
/* Exchange to exchange; SHMQ_ERR_INVALID_ARGUMENT if it would close a cycle. */
int shmq_exchange_bind_exchange(const char* exchange, const char* destination, const char* key,
                                uint64_t* version) SHMQ_NOEXCEPT;
int shmq_exchange_unbind(const char* exchange, const char* queue, const char* key, uint64_t* version) SHMQ_NOEXCEPT;
int shmq_exchange_unbind_exchange(const char* exchange, const char* destination, const char* key,
                                  uint64_t* version) SHMQ_NOEXCEPT;
/* Where a message with `routing_key` (NULL: "") and `headers` would go; nothing
 * is sent. With `queue_names` (capacity `names_size` bytes), also the queues'
 * names, each NUL-terminated, one after the other; SHMQ_ERR_NO_RESOURCES
 * (and nothing written there) if they do not fit. Lock-free. */
int shmq_exchange_route(const char* exchange, const char* routing_key, const shmq_header* headers, size_t count,
                        shmq_route_info* out, char* queue_names, size_t names_size) SHMQ_NOEXCEPT;

/* A publisher sends through an exchange (shmq::Publisher): to every live
 * queue its bindings match, each once, all or nothing; with nothing matched,
 * to the exchange's alternate queue, or SHMQ_ERR_UNROUTABLE and nothing is
 * sent. It keeps a producer per target queue; used by one thread at a time. */
typedef struct shmq_publisher shmq_publisher;

/* What a publish did (shmq_publisher_publish). */
typedef struct shmq_publish_outcome {
    size_t queues;           /* queues the message went to (0 when the publish failed) */
    uint64_t table_version;  /* version of the exchange's table the publish used */
    int to_alternate;        /* 1: unroutable, went to the exchange's alternate queue */
} shmq_publish_outcome;

/* SHMQ_ERR_NOT_FOUND if there is no such exchange. */
int shmq_publisher_open(const char* exchange, shmq_publisher** out) SHMQ_NOEXCEPT;
int shmq_publisher_close(shmq_publisher* publisher) SHMQ_NOEXCEPT;
/* Publishes `size` bytes with `routing_key` (NULL: ""), partition key `key`
 * (NULL: none) in every target queue, and `count` headers (for headers
 * exchanges). timeout_ms < 0 waits forever for room in on_full=block queues.
 * The errors of shmq_producer_send, and SHMQ_ERR_UNROUTABLE, SHMQ_ERR_NOT_FOUND
 * (the exchange was deleted). `outcome` may be NULL. */
int shmq_publisher_publish(shmq_publisher* publisher, const void* data, size_t size, const char* routing_key,
                           const char* key, const shmq_header* headers, size_t count, int64_t timeout_ms,
                           shmq_publish_outcome* outcome) SHMQ_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMQ_SHMQ_H */
