/* main QUEUE: the C API through pkg-config, linked by the C compiler alone.
 * Creates QUEUE, sends one keyed message, receives and acks it, removes QUEUE.
 * Exit 0 when the message came back intact; else one line on stderr and 1. */
#include <shmq/shmq.h>

#include <stdio.h>
#include <string.h>

static int report(const char* what, int rc) {
    fprintf(stderr, "pkgconfig user: %s: %s (%s)\n", what, shmq_strerror(rc), shmq_last_error_message());
    return 1;
}

static int run(const char* name) {
    static const char text[] = "hello from pkg-config";
    shmq_producer* p = NULL;
    shmq_consumer* c = NULL;
    shmq_message* m = NULL;
    int rc, failed = 0;
    if ((rc = shmq_producer_open(name, &p)) != SHMQ_OK) return report("open producer", rc);
    if ((rc = shmq_consumer_open(name, "installed", SHMQ_GROUP_EXCLUSIVE, &c)) != SHMQ_OK) {
        failed = report("open consumer", rc);
    } else if ((rc = shmq_producer_send(p, text, strlen(text), "k", 1, 10000)) != SHMQ_OK) {
        failed = report("send", rc);
    } else if ((rc = shmq_consumer_receive(c, 10000, &m)) != SHMQ_OK) {
        failed = report("receive", rc);
    } else {
        size_t key_size = 0;
        const char* key = shmq_message_key(m, &key_size);
        if (shmq_message_size(m) != strlen(text) || memcmp(shmq_message_data(m), text, strlen(text)) != 0 ||
            key_size != 1 || key[0] != 'k') {
            fprintf(stderr, "pkgconfig user: the message came back altered\n");
            failed = 1;
        }
        if ((rc = shmq_message_ack(m)) != SHMQ_OK) failed = report("ack", rc);
    }
    shmq_message_close(m);
    shmq_consumer_close(c);
    shmq_producer_close(p);
    return failed;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: main QUEUE\n");
        return 2;
    }
    int rc = shmq_queue_create(argv[1], NULL);
    if (rc != SHMQ_OK) return report("create", rc);
    int failed = run(argv[1]);
    if ((rc = shmq_queue_remove(argv[1])) != SHMQ_OK) failed = report("remove", rc);
    return failed;
}
