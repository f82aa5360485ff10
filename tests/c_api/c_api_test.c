/* The C API from a C11 program: a forked producer process sends keyed
 * messages; this process consumes them with an exclusive group and checks
 * that every payload is acked exactly once, in per-key order, that a NACKed
 * message comes back, and that errors carry the right codes and messages;
 * then the exchanges' administration and dry-run routing, and publishing
 * through one.
 * Exit status 0 on success; on failure one line naming the check, and 1. */
#define _POSIX_C_SOURCE 200809L

#include <shmq/shmq.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kKeys = 8, kPerKey = 250, kMessages = kKeys * kPerKey, kReceiveTimeoutMs = 10000 };

static char queue_name[64];
static char exchange_name[64], exchange_name2[64], alternate_name[64]; /* check_exchanges */
static char publish_exchange[64], publish_queue[64];                      /* check_publisher */
static pid_t producer_pid = -1;

/* Reports a failed check, cleans up (child, queue) and exits 1. */
static void fail(int line, const char* what, int code) {
    fprintf(stderr, "c_api_test.c:%d: %s (code %d: %s; detail: %s)\n", line, what, code, shmq_strerror(code),
            shmq_last_error_message());
    if (producer_pid > 0) kill(producer_pid, SIGKILL);
    if (queue_name[0]) (void)shmq_queue_remove(queue_name);
    if (exchange_name[0]) (void)shmq_exchange_remove(exchange_name);
    if (exchange_name2[0]) (void)shmq_exchange_remove(exchange_name2);
    if (alternate_name[0]) (void)shmq_queue_remove(alternate_name);
    if (publish_exchange[0]) (void)shmq_exchange_remove(publish_exchange);
    if (publish_queue[0]) (void)shmq_queue_remove(publish_queue);
    exit(1);
}
#define CHECK(cond, code)                           \
    do {                                            \
        if (!(cond)) fail(__LINE__, #cond, (code)); \
    } while (0)
#define CHECK_OK(expr)                                  \
    do {                                                \
        int rc_ = (expr);                               \
        if (rc_ != SHMQ_OK) fail(__LINE__, #expr, rc_); \
    } while (0)

/* The child: sends message i with key "key-(i % kKeys)" and payload
 * "key-(i % kKeys):(i / kKeys)", so each key's sequence numbers count up. */
static void run_producer(void) {
    shmq_producer* p = NULL;
    int rc = shmq_producer_open(queue_name, &p);
    if (rc != SHMQ_OK) {
        fprintf(stderr, "producer: open: %s\n", shmq_last_error_message());
        _exit(1);
    }
    for (int i = 0; i < kMessages; ++i) {
        char key[16], payload[32];
        int key_len = snprintf(key, sizeof key, "key-%d", i % kKeys);
        int len = snprintf(payload, sizeof payload, "key-%d:%d", i % kKeys, i / kKeys);
        rc = shmq_producer_send(p, payload, (size_t)len, key, (size_t)key_len, kReceiveTimeoutMs);
        if (rc != SHMQ_OK) {
            fprintf(stderr, "producer: send %d: %s\n", i, shmq_last_error_message());
            _exit(1);
        }
    }
    (void)shmq_producer_close(p);
    _exit(0);
}

/* Error paths that need no producer: codes, strerror, the detail line. */
static void check_errors(void) {
    char missing[80];
    snprintf(missing, sizeof missing, "%s-missing", queue_name);
    shmq_producer* p = (shmq_producer*)&missing; /* must be overwritten with NULL */
    int rc = shmq_producer_open(missing, &p);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    CHECK(p == NULL, rc);
    CHECK(strcmp(shmq_strerror(rc), "no such queue") == 0, rc);
    CHECK(strstr(shmq_last_error_message(), missing) != NULL, rc); /* the detail names the queue */

    shmq_consumer* c = NULL;
    rc = shmq_consumer_open(missing, "g", SHMQ_GROUP_SHARED, &c);
    CHECK(rc == SHMQ_ERR_NOT_FOUND && c == NULL, rc);
    rc = shmq_queue_remove(missing);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    rc = shmq_queue_create(queue_name, NULL);
    CHECK(rc == SHMQ_ERR_EXISTS, rc);
    CHECK(strcmp(shmq_strerror(rc), "queue already exists") == 0, rc);
    CHECK(strstr(shmq_last_error_message(), "already exists") != NULL, rc);
    rc = shmq_queue_create("bad/name", NULL);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    shmq_queue_options bad = {0};
    bad.capacity = 3; /* not a power of two */
    rc = shmq_queue_create("t-capi-never", &bad);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    rc = shmq_producer_send(NULL, "x", 1, NULL, 0, 0);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    CHECK(strcmp(shmq_strerror(12345), "unknown shmq status") == 0, 0);
    CHECK(strcmp(shmq_strerror(SHMQ_ERR_TIMEOUT), "timed out") == 0, 0);

    /* Send-side limits, checked before anything is published. */
    CHECK_OK(shmq_producer_open(queue_name, &p));
    char big[129];
    memset(big, 'x', sizeof big);
    rc = shmq_producer_send(p, big, sizeof big, NULL, 0, 0); /* max_message is 128 */
    CHECK(rc == SHMQ_ERR_MESSAGE_TOO_LARGE, rc);
    rc = shmq_producer_send(p, "x", 1, big, 65, 0); /* keys are at most 64 bytes */
    CHECK(rc == SHMQ_ERR_KEY_TOO_LARGE, rc);
    CHECK_OK(shmq_producer_close(p));
    CHECK_OK(shmq_producer_close(NULL));

    /* An exclusive producer is the only writer until it closes. */
    shmq_producer* only = NULL;
    CHECK_OK(shmq_producer_open_exclusive(queue_name, &only));
    shmq_producer* other = (shmq_producer*)&missing;
    rc = shmq_producer_open_exclusive(queue_name, &other);
    CHECK(rc == SHMQ_ERR_WRITER_BUSY && other == NULL, rc);
    CHECK(strcmp(shmq_strerror(rc), "the partition has an exclusive producer") == 0, rc);
    CHECK_OK(shmq_producer_open(queue_name, &other));
    rc = shmq_producer_send(other, "x", 1, NULL, 0, 0);
    CHECK(rc == SHMQ_ERR_WRITER_BUSY, rc);
    CHECK_OK(shmq_producer_close(only));
    CHECK_OK(shmq_producer_close(other));

    /* The opt-out of the automatic writer role: always the shared protocol. */
    CHECK_OK(shmq_producer_open_shared(queue_name, &other));
    CHECK_OK(shmq_producer_close(other));
}

/* Another user (uid 65534, as root) or, when not root, a region made mode
 * 0000: open and remove answer SHMQ_ERR_PERMISSION_DENIED and change nothing.
 * Skipped (with a line) where the uid cannot be switched. */
static void check_permission_denied(void) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/shmq.%s", queue_name);
    const int root = geteuid() == 0;
    if (!root) CHECK(chmod(path, 0) == 0, 0);
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0, 0);
    if (child == 0) {
        if (root && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        shmq_producer* p = NULL;
        int rc = shmq_producer_open(queue_name, &p);
        if (rc != SHMQ_ERR_PERMISSION_DENIED || p != NULL) {
            fprintf(stderr, "open as another user: code %d (%s)\n", rc, shmq_last_error_message());
            _exit(1);
        }
        if (strcmp(shmq_strerror(rc), "permission denied") != 0 ||
            strstr(shmq_last_error_message(), "permission denied: ") != shmq_last_error_message()) {
            fprintf(stderr, "open as another user: detail '%s'\n", shmq_last_error_message());
            _exit(1);
        }
        rc = root ? shmq_queue_remove(queue_name) : SHMQ_ERR_PERMISSION_DENIED; /* the owner may remove its own */
        if (rc != SHMQ_ERR_PERMISSION_DENIED) {
            fprintf(stderr, "remove as another user: code %d (%s)\n", rc, shmq_last_error_message());
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child, 0);
    if (!root) CHECK(chmod(path, 0600) == 0, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        fprintf(stderr, "c_api_test: skipped the permission check: cannot switch to uid 65534\n");
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, status);
    shmq_producer* p = NULL;
    CHECK_OK(shmq_producer_open(queue_name, &p)); /* still there, still ours */
    CHECK_OK(shmq_producer_close(p));
}

/* Exchanges: create, bind (key, headers, exchange to exchange), route with
 * its names, the alternate, a cycle refused, unbind, remove. */
static void check_exchanges(void) {
    snprintf(exchange_name, sizeof exchange_name, "t-capi-x-%d", (int)getpid());
    snprintf(exchange_name2, sizeof exchange_name2, "t-capi-h-%d", (int)getpid());
    snprintf(alternate_name, sizeof alternate_name, "t-capi-alt-%d", (int)getpid());
    CHECK_OK(shmq_queue_create(alternate_name, NULL));
    CHECK_OK(shmq_exchange_create(exchange_name, SHMQ_EXCHANGE_TOPIC, alternate_name));
    int rc = shmq_exchange_create(exchange_name, SHMQ_EXCHANGE_TOPIC, NULL);
    CHECK(rc == SHMQ_ERR_EXISTS, rc);
    rc = shmq_exchange_create("t-capi-bad", (shmq_exchange_type)9, NULL);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    uint64_t v = 0;
    CHECK_OK(shmq_exchange_bind(exchange_name, queue_name, "eu.*.orders", &v));
    CHECK(v == 2, (int)v);
    rc = shmq_exchange_bind(exchange_name, "t-capi-no-such-queue", "a", NULL);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);

    shmq_route_info info;
    char names[256];
    CHECK_OK(shmq_exchange_route(exchange_name, "eu.de.orders", NULL, 0, &info, names, sizeof names));
    CHECK(info.version == 2 && info.queues == 1 && info.matched == 1 && !info.unroutable, (int)info.queues);
    CHECK(strcmp(names, queue_name) == 0, 0);
    CHECK_OK(shmq_exchange_route(exchange_name, "us.orders", NULL, 0, &info, names, sizeof names));
    CHECK(info.unroutable && info.to_alternate && info.queues == 1 && strcmp(names, alternate_name) == 0, 0);
    rc = shmq_exchange_route(exchange_name, "eu.de.orders", NULL, 0, &info, names, 3);
    CHECK(rc == SHMQ_ERR_NO_RESOURCES, rc); /* the names do not fit */

    CHECK_OK(shmq_exchange_create(exchange_name2, SHMQ_EXCHANGE_HEADERS, NULL));
    const shmq_header want[2] = {{"format", "pdf"}, {"type", "report"}};
    CHECK_OK(shmq_exchange_bind_headers(exchange_name2, queue_name, SHMQ_MATCH_ALL, want, 2, NULL));
    CHECK_OK(shmq_exchange_route(exchange_name2, NULL, want, 1, &info, NULL, 0));
    CHECK(info.unroutable && !info.to_alternate && info.queues == 0, 0); /* all: one of two is not enough */
    CHECK_OK(shmq_exchange_route(exchange_name2, NULL, want, 2, &info, NULL, 0));
    CHECK(info.queues == 1 && info.matched == 1, (int)info.queues);

    /* Both paths lead to the queue: it is reached once. The way back is a cycle. */
    CHECK_OK(shmq_exchange_bind_exchange(exchange_name, exchange_name2, "#", NULL));
    CHECK_OK(shmq_exchange_route(exchange_name, "eu.de.orders", want, 2, &info, names, sizeof names));
    CHECK(info.queues == 1 && strcmp(names, queue_name) == 0, (int)info.queues);
    rc = shmq_exchange_bind_exchange(exchange_name2, exchange_name, NULL, NULL);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);

    CHECK_OK(shmq_exchange_unbind_exchange(exchange_name, exchange_name2, "#", NULL));
    CHECK_OK(shmq_exchange_unbind(exchange_name, queue_name, "eu.*.orders", &v));
    CHECK(v == 5, (int)v);
    CHECK_OK(shmq_exchange_route(exchange_name, "eu.de.orders", NULL, 0, &info, NULL, 0));
    CHECK(info.unroutable && info.to_alternate, 0);
    CHECK_OK(shmq_exchange_remove(exchange_name2));
    CHECK_OK(shmq_exchange_remove(exchange_name));
    rc = shmq_exchange_remove(exchange_name);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    rc = shmq_exchange_route(exchange_name, "a", NULL, 0, &info, NULL, 0);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    CHECK_OK(shmq_queue_remove(alternate_name));
}

/* A publisher: to the bound queue (checked by consuming it), unroutable
 * without an alternate (nothing sent), not found once the exchange is gone. */
static void check_publisher(void) {
    snprintf(publish_exchange, sizeof publish_exchange, "t-capi-px-%d", (int)getpid());
    snprintf(publish_queue, sizeof publish_queue, "t-capi-pq-%d", (int)getpid());
    CHECK_OK(shmq_queue_create(publish_queue, NULL));
    CHECK_OK(shmq_exchange_create(publish_exchange, SHMQ_EXCHANGE_DIRECT, NULL));
    uint64_t v = 0;
    CHECK_OK(shmq_exchange_bind(publish_exchange, publish_queue, "orders", &v));
    shmq_publisher* pub = NULL;
    int rc = shmq_publisher_open("t-capi-no-such-exchange", &pub);
    CHECK(rc == SHMQ_ERR_NOT_FOUND && pub == NULL, rc);
    CHECK_OK(shmq_publisher_open(publish_exchange, &pub));
    shmq_publish_outcome out;
    const shmq_header two[2] = {{"lang", "en"}, {"empty", ""}};
    CHECK_OK(shmq_publisher_publish(pub, "hello", 5, "orders", "k1", two, 2, SHMQ_FOREVER, &out));
    CHECK(out.queues == 1 && out.table_version == v && !out.to_alternate, (int)out.queues);
    rc = shmq_publisher_publish(pub, "lost", 4, "nowhere", NULL, NULL, 0, 0, &out);
    CHECK(rc == SHMQ_ERR_UNROUTABLE && out.queues == 0, rc);
    CHECK(strcmp(shmq_strerror(rc), "no binding matched and the exchange has no alternate queue") == 0, rc);
    const shmq_header bad[1] = {{"format", NULL}};
    rc = shmq_publisher_publish(pub, "x", 1, "orders", NULL, bad, 1, 0, NULL);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    rc = shmq_publisher_publish(NULL, "x", 1, "orders", NULL, NULL, 0, 0, NULL);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);

    shmq_consumer* c = NULL;
    shmq_message* m = NULL;
    CHECK_OK(shmq_consumer_open(publish_queue, "check", SHMQ_GROUP_SHARED, &c));
    CHECK_OK(shmq_consumer_receive(c, 1000, &m));
    CHECK(shmq_message_size(m) == 5 && memcmp(shmq_message_data(m), "hello", 5) == 0, (int)shmq_message_size(m));
    /* Its routing key and headers (the attribute block before the payload). */
    size_t n = 0;
    const char* rk = shmq_message_routing_key(m, &n);
    CHECK(rk != NULL && n == 6 && memcmp(rk, "orders", 6) == 0, (int)n);
    CHECK(shmq_message_header_count(m) == 2, (int)shmq_message_header_count(m));
    const char* value = NULL;
    CHECK(shmq_message_header(m, "lang", 4, &value, &n) == 1 && n == 2 && memcmp(value, "en", 2) == 0, (int)n);
    CHECK(shmq_message_header(m, "empty", 5, &value, &n) == 1 && n == 0, (int)n);
    CHECK(shmq_message_header(m, "none", 4, &value, &n) == 0 && value == NULL && n == 0, (int)n);
    const char* key = NULL;
    size_t key_size = 0;
    CHECK_OK(shmq_message_header_at(m, 1, &key, &key_size, &value, &n));
    CHECK(key_size == 5 && memcmp(key, "empty", 5) == 0 && n == 0, (int)key_size);
    rc = shmq_message_header_at(m, 2, &key, &key_size, &value, &n);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    CHECK(shmq_message_attributes_malformed(m) == 0, 0);
    CHECK_OK(shmq_message_ack(m));
    CHECK_OK(shmq_message_close(m));
    rc = shmq_consumer_receive(c, 0, &m);
    CHECK(rc == SHMQ_ERR_TIMEOUT, rc); /* the unroutable one went nowhere */
    CHECK_OK(shmq_consumer_close(c));

    CHECK_OK(shmq_exchange_remove(publish_exchange));
    rc = shmq_publisher_publish(pub, "late", 4, "orders", NULL, NULL, 0, 0, NULL);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    CHECK_OK(shmq_publisher_close(pub));
    CHECK_OK(shmq_publisher_close(NULL));
    CHECK_OK(shmq_queue_remove(publish_queue));
    publish_exchange[0] = publish_queue[0] = 0;
}

/* A message's own TTL: not received within it, it is never delivered. */
static void check_ttl(void) {
    char name[64];
    snprintf(name, sizeof name, "t-capi-ttl-%d", (int)getpid());
    CHECK_OK(shmq_queue_create(name, NULL));
    shmq_producer* p = NULL;
    CHECK_OK(shmq_producer_open(name, &p));
    int rc = shmq_producer_send_ttl(p, "x", 1, NULL, 0, 0, 0);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    shmq_consumer* c = NULL;
    CHECK_OK(shmq_consumer_open(name, "g", SHMQ_GROUP_SHARED, &c));
    CHECK_OK(shmq_producer_send_ttl(p, "stale", 5, NULL, 0, 1, 0));
    CHECK_OK(shmq_producer_send(p, "fresh", 5, NULL, 0, 0));
    const struct timespec wait = {0, 20 * 1000 * 1000};
    nanosleep(&wait, NULL);
    shmq_message* m = NULL;
    CHECK_OK(shmq_consumer_receive(c, 1000, &m));
    CHECK(shmq_message_size(m) == 5 && memcmp(shmq_message_data(m), "fresh", 5) == 0, 0);
    CHECK_OK(shmq_message_ack(m));
    shmq_message_close(m);
    m = NULL;
    rc = shmq_consumer_receive(c, 0, &m);
    CHECK(rc == SHMQ_ERR_TIMEOUT && m == NULL, rc);
    CHECK_OK(shmq_consumer_close(c));
    CHECK_OK(shmq_producer_close(p));
    CHECK_OK(shmq_queue_remove(name));
}

/* Delayed delivery: a delayed send waits in the delay store, then comes;
 * a queue without one refuses with a line naming what to do. */
static void check_delayed(void) {
    char name[64];
    snprintf(name, sizeof name, "t-capi-delay-%d", (int)getpid());
    CHECK_OK(shmq_queue_create_delayed(name, NULL, 4));
    shmq_producer* p = NULL;
    CHECK_OK(shmq_producer_open(name, &p));
    CHECK_OK(shmq_producer_send_delayed(p, "later", 5, "k", 1, 30));
    int rc = shmq_producer_send_delayed(p, "x", 1, NULL, 0, -1);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    shmq_consumer* c = NULL;
    CHECK_OK(shmq_consumer_open(name, "g", SHMQ_GROUP_SHARED, &c));
    shmq_message* m = NULL;
    CHECK_OK(shmq_consumer_receive(c, 5000, &m));
    CHECK(shmq_message_size(m) == 5 && memcmp(shmq_message_data(m), "later", 5) == 0, 0);
    CHECK_OK(shmq_message_ack(m));
    shmq_message_close(m);
    shmq_consumer_close(c);
    shmq_producer_close(p);
    CHECK_OK(shmq_queue_remove(name));

    CHECK_OK(shmq_queue_create(name, NULL));
    CHECK_OK(shmq_producer_open(name, &p));
    rc = shmq_producer_send_delayed(p, "x", 1, NULL, 0, 10);
    CHECK(rc == SHMQ_ERR_INVALID_ARGUMENT, rc);
    CHECK(strstr(shmq_last_error_message(), "delay capacity") != NULL, rc);
    shmq_producer_close(p);
    CHECK_OK(shmq_queue_remove(name));
}

int main(void) {
    snprintf(queue_name, sizeof queue_name, "t-capi-%d", (int)getpid());
    shmq_queue_options options = {0};
    options.partitions = 4;
    options.capacity = 64; /* far fewer slots than messages: the producer meets backpressure */
    options.max_message = 128;
    CHECK_OK(shmq_queue_create(queue_name, &options));
    check_errors();
    check_permission_denied();
    check_exchanges();
    check_publisher();
    check_ttl();
    check_delayed();

    fflush(NULL); /* nothing buffered is written twice */
    producer_pid = fork();
    CHECK(producer_pid >= 0, 0);
    if (producer_pid == 0) run_producer();

    shmq_consumer* c = NULL;
    CHECK_OK(shmq_consumer_open(queue_name, "g", SHMQ_GROUP_EXCLUSIVE, &c));
    static unsigned char acked[kKeys][kPerKey];
    int next_seq[kKeys] = {0};       /* per key: the sequence number its next first delivery must carry */
    int partition_of[kKeys];         /* a key always lands in one partition */
    for (int k = 0; k < kKeys; ++k) partition_of[k] = -1;
    int total_acked = 0, redelivered = 0;
    uint64_t nacked_offset = 0;
    int nacked_partition = -1;

    while (total_acked < kMessages) {
        shmq_message* m = NULL;
        int rc = shmq_consumer_receive(c, kReceiveTimeoutMs, &m);
        CHECK(rc == SHMQ_OK, rc); /* a timeout here means messages were lost */
        char text[64] = {0};
        size_t size = shmq_message_size(m);
        CHECK(size > 0 && size < sizeof text, 0);
        memcpy(text, shmq_message_data(m), size); /* copy before settling: the bytes go with the lease */
        int k = -1, seq = -1;
        CHECK(sscanf(text, "key-%d:%d", &k, &seq) == 2 && k >= 0 && k < kKeys && seq >= 0 && seq < kPerKey, 0);
        size_t key_size = 0;
        const char* key = shmq_message_key(m, &key_size);
        char expected_key[16];
        int expected_len = snprintf(expected_key, sizeof expected_key, "key-%d", k);
        CHECK(key != NULL && key_size == (size_t)expected_len && memcmp(key, expected_key, key_size) == 0, 0);
        int partition = (int)shmq_message_partition(m);
        CHECK(partition >= 0 && partition < 4, 0);
        if (partition_of[k] < 0) partition_of[k] = partition;
        CHECK(partition_of[k] == partition, 0);

        uint32_t deliveries = shmq_message_deliveries(m);
        if (deliveries == 1) {
            CHECK(seq == next_seq[k], seq); /* per-key order, and no first delivery twice */
            ++next_seq[k];
        } else {
            /* Only the message NACKed below may come again, exactly once more. */
            CHECK(deliveries == 2 && nacked_partition == partition && nacked_offset == shmq_message_offset(m), 0);
            ++redelivered;
        }
        if (k == 3 && seq == 10 && deliveries == 1) {
            nacked_partition = partition;
            nacked_offset = shmq_message_offset(m);
            CHECK_OK(shmq_message_nack(m, 0));
            CHECK(shmq_message_ack(m) == SHMQ_ERR_ALREADY_SETTLED, 0);
        } else {
            CHECK(!acked[k][seq], seq);
            CHECK_OK(shmq_message_ack(m));
            acked[k][seq] = 1;
            ++total_acked;
            int rc2 = shmq_message_ack(m);
            CHECK(rc2 == SHMQ_ERR_ALREADY_SETTLED, rc2);
        }
        CHECK_OK(shmq_message_close(m));
    }
    CHECK(redelivered == 1, redelivered);
    for (int k = 0; k < kKeys; ++k) CHECK(next_seq[k] == kPerKey, k);

    /* Nothing more: exactly once. */
    shmq_message* extra = NULL;
    int rc = shmq_consumer_receive(c, 200, &extra);
    CHECK(rc == SHMQ_ERR_TIMEOUT && extra == NULL, rc);

    int status = 0;
    CHECK(waitpid(producer_pid, &status, 0) == producer_pid, 0);
    producer_pid = -1;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, status);

    CHECK_OK(shmq_consumer_close(c));
    CHECK_OK(shmq_queue_remove(queue_name));
    rc = shmq_queue_remove(queue_name);
    CHECK(rc == SHMQ_ERR_NOT_FOUND, rc);
    queue_name[0] = '\0';
    return 0;
}
