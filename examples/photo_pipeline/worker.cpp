// photo_pipeline worker --queue Q --group resize|moderation --index I --dir D
//
// One competing consumer of a shared group. Takes up to kBatch photos at a
// time; a photo whose checksum is wrong is NACKed (retried after kNackDelay,
// dead-lettered after kMaxDeliveries); the others get the group's fake work, a
// record line each (one write(2)), then one ack_all. Exits 0 on SIGTERM
// (after settling the batch in hand) or when the queue is deleted.
#include <fcntl.h>
#include <unistd.h>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

#include "args.hpp"
#include "clock.hpp"
#include "photo.hpp"
#include "pipeline.hpp"
#include "records.hpp"
#include "roles.hpp"
#include "status.hpp"

namespace photo_pipeline {

namespace {

std::atomic<bool> g_stop{false};  // set by SIGTERM; checked between batches
volatile uint64_t g_sink = 0;     // where the fake work's result goes, so it is not optimized away

extern "C" void on_sigterm(int) { g_stop.store(true, std::memory_order_relaxed); }

void write_all(int fd, const std::string& text, const std::string& path) {
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("cannot append to " + path + ": " + std::strerror(errno));
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

const GroupSpec& group_spec(const std::string& name) {
    for (const auto& g : kGroups)
        if (g.name == name) return g;
    throw std::runtime_error("--group must be resize or moderation, got '" + name + "'");
}

}  // namespace

int run_worker(int argc, char** argv, int first) {
    const Args args(argc, argv, first, {"--queue", "--group", "--index", "--dir"}, {});
    const std::string queue_name = args.required("--queue");
    const GroupSpec& group = group_spec(args.required("--group"));
    const auto index = static_cast<uint32_t>(args.number("--index", 0, 0, 1000));
    const std::string dir = args.required("--dir");
    const std::string records_path = worker_file(dir, group.name, index, ".records");

    struct sigaction sa {};
    sa.sa_handler = on_sigterm;
    ::sigaction(SIGTERM, &sa, nullptr);

    StatusPage status(worker_file(dir, group.name, index, ".status"), false);
    const int fd = ::open(records_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open " + records_path + ": " + std::strerror(errno));

    auto queue = shmq::Queue::open(queue_name);
    auto consumer = queue.consumer(group.name, {.kind = shmq::GroupKind::shared});
    status.set_ready();

    std::array<shmq::Message, kBatch> batch;
    std::vector<unsigned char> scratch;
    std::string lines;
    while (!g_stop.load(std::memory_order_relaxed)) {
        const shmq::BatchResult got = consumer.receive_batch(batch, shmq::Millis(50));
        if (!got.ok()) {
            if (got.code() == shmq::Errc::timeout) continue;
            if (got.code() == shmq::Errc::queue_deleted) break;
            throw std::runtime_error("receive from queue " + queue_name + " failed: " + got.status.message());
        }
        const std::size_t n = got.count;
        status.set_held(static_cast<uint32_t>(n));
        lines.clear();
        uint64_t good = 0;
        for (auto& m : std::span(batch).first(n)) {
            const auto photo = decode(m.text());
            if (!photo || !intact(*photo)) {  // corrupt: let it be retried, then dead-lettered
                if (auto st = m.nack(kNackDelay); !st && st.code() != shmq::Errc::lease_lost)
                    throw std::runtime_error("nack of photo " + std::string(m.key()) + " failed: " + st.message());
                continue;
            }
            g_sink = fake_work(photo->id, photo->bytes / group.work_divisor, scratch);
            append_record(lines, {photo->id, m.deliveries(), m.publish_unix_ns(), photo->sent_unix_ns, unix_ns()});
            ++good;
        }
        write_all(fd, lines, records_path);  // the records first, then the ACKs (records.hpp)
        shmq::ack_all(std::span(batch).first(n));  // one lost lease: that photo is redelivered (a duplicate line)
        status.add_processed(good);
        status.set_held(0);
    }
    ::close(fd);
    return 0;
}

}  // namespace photo_pipeline
