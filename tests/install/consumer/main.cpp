// consumer QUEUE: creates QUEUE, sends one keyed message, receives and acks
// it, removes QUEUE. Exit 0 when the message came back intact; else one line
// on stderr and 1.
#include <shmq/shmq.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

namespace {

int run(const std::string& name) {
    auto q = shmq::Queue::create(name);
    auto p = q.producer();
    auto c = q.consumer("installed", {.kind = shmq::GroupKind::exclusive});
    if (auto s = p.send("hello from find_package", {.key = "k"}); !s) {
        std::fprintf(stderr, "consumer: send: %s\n", s.message());
        return 1;
    }
    auto m = c.receive(std::chrono::seconds(10));
    if (!m) {
        std::fprintf(stderr, "consumer: receive: %s\n", m.status().message());
        return 1;
    }
    const bool intact = m->text() == "hello from find_package" && m->key() == "k";
    if (auto s = m->ack(); !s || !intact) {
        std::fprintf(stderr, "consumer: got '%.*s' (ack: %s)\n", static_cast<int>(m->text().size()),
                     m->text().data(), s.message());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer QUEUE\n");
        return 2;
    }
    int rc = 1;
    try {
        rc = run(argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
    }
    try {
        shmq::Queue::remove(argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: remove: %s\n", e.what());
        rc = 1;
    }
    return rc;
}
