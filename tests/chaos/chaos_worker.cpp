// shmq_chaos_worker: the producer of the long chaos run (tests/chaos/run).
//
//   shmq_chaos_worker produce QUEUE --id K --status FILE [--rate R] [--burst B]
//                     [--keys M] [--dwell-every N] [--dwell-max-us U] [--seed S]
//
// Sends "K:i" (i = 0, 1, ...) with key "key-(i % M)" until the driver asks it
// to stop, in bursts (mean B messages, one in ten up to 10 B, and one in
// twenty a flood of 20 B sent as fast as the queue takes them, which fills the
// ring and spill staging so shmqd spills to disk) paced to R messages per
// second on average. Outside floods one message in N goes through the
// zero-copy path and holds its claim open for 0..U microseconds before
// committing it (a slow producer: a SIGKILL then lands between claim and
// commit, which is what stalls a partition until the reaper aborts the claim).
//
// What it has been told is kept in the status FILE (4 KiB, mapped shared, so
// it survives a SIGKILL), one 64-bit word per field, each written with one
// store (see StatusWord). The driver reads it after the kill: messages
// 0..acked-1 were acknowledged (send or commit returned ok); when `phase` is
// not idle, message `acked` was in flight and may or may not exist.
//
// Exit status: 0 when stopped (the driver stores 1 in `stop`), 2 with one line
// on stderr on any error.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "chaos_status.hpp"
#include "shmq/shmq.hpp"
#include "support/worker_failure.hpp"

namespace {

using shmq::test::worker::fail;
using shmq::test::worker::Failure;
using shmq::test::worker::kExitError;
using shmq::test::worker::parse_u64;

struct ProduceArgs {
    std::string queue;
    uint64_t id = 0;
    std::string status;
    uint64_t rate = 1000;
    uint64_t burst = 100;
    uint64_t keys = 16;
    uint64_t dwell_every = 8;
    uint64_t dwell_max_us = 3000;
    uint64_t seed = 1;
};

ProduceArgs parse(int argc, char** argv) {
    ProduceArgs a;
    bool have_id = false;
    for (int i = 2; i < argc; ++i) {
        const std::string_view f = argv[i];
        if (!f.starts_with("--")) {
            if (!a.queue.empty()) fail("expected exactly one QUEUE argument");
            a.queue = f;
            continue;
        }
        if (i + 1 >= argc) fail("option " + std::string(f) + " needs a value");
        const std::string_view v = argv[++i];
        if (f == "--id") a.id = parse_u64(f, v), have_id = true;
        else if (f == "--status") a.status = v;
        else if (f == "--rate") a.rate = parse_u64(f, v);
        else if (f == "--burst") a.burst = parse_u64(f, v);
        else if (f == "--keys") a.keys = parse_u64(f, v);
        else if (f == "--dwell-every") a.dwell_every = parse_u64(f, v);
        else if (f == "--dwell-max-us") a.dwell_max_us = parse_u64(f, v);
        else if (f == "--seed") a.seed = parse_u64(f, v);
        else fail("unknown option '" + std::string(f) + "'");
    }
    if (a.queue.empty()) fail("expected exactly one QUEUE argument");
    if (!have_id || a.status.empty()) fail("--id and --status are required");
    if (a.rate == 0 || a.burst == 0 || a.keys == 0) fail("--rate, --burst and --keys must be positive");
    return a;
}

// The status file, mapped shared.
shmq::chaos::StatusPage map_status(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fail("cannot open status file " + path + ": " + std::strerror(errno));
    void* p = ::mmap(nullptr, shmq::chaos::kStatusBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) fail("cannot map status file " + path + ": " + std::strerror(errno));
    return shmq::chaos::StatusPage(static_cast<uint64_t*>(p));
}

int produce(int argc, char** argv) {
    using shmq::chaos::Phase;
    using shmq::chaos::StatusWord;
    const ProduceArgs a = parse(argc, argv);
    shmq::chaos::StatusPage status = map_status(a.status);
    std::mt19937_64 rng(a.seed);

    shmq::Queue queue = shmq::Queue::open(a.queue);
    shmq::Producer producer = queue.producer();
    status.store(StatusWord::pid, static_cast<uint64_t>(::getpid()));

    using Clock = std::chrono::steady_clock;
    auto start = Clock::now();
    uint64_t paced_from = 0;  // messages sent before `start`
    char payload[48];
    char key[32];
    uint64_t seq = 0;
    while (status.load(StatusWord::stop) == 0) {
        // One burst, then sleep until the pace says the next one is due.
        const uint64_t shape = rng() % 20;
        const bool flood = shape == 0;
        const uint64_t burst = flood ? 20 * a.burst : shape < 3 ? 1 + rng() % (10 * a.burst) : 1 + rng() % (2 * a.burst);
        for (uint64_t b = 0; b < burst && status.load(StatusWord::stop) == 0; ++b, ++seq) {
            const int n = std::snprintf(payload, sizeof payload, "%llu:%llu", static_cast<unsigned long long>(a.id),
                                        static_cast<unsigned long long>(seq));
            const int k = std::snprintf(key, sizeof key, "key-%llu", static_cast<unsigned long long>(seq % a.keys));
            shmq::SendOptions options;
            options.key = std::string_view(key, static_cast<std::size_t>(k));
            const std::string_view text(payload, static_cast<std::size_t>(n));
            status.store(StatusWord::seq, seq);
            if (!flood && a.dwell_every != 0 && rng() % a.dwell_every == 0) {
                status.store(StatusWord::phase, static_cast<uint64_t>(Phase::claiming));
                auto claim = producer.claim(text.size(), options);
                if (!claim) fail("claim of message " + std::to_string(seq) + " failed: " + to_string(claim.code()));
                status.store(StatusWord::claim_partition, claim->partition());
                status.store(StatusWord::claim_offset, claim->offset());
                status.store(StatusWord::claim_staged, claim->staged() ? 1 : 0);
                status.store(StatusWord::phase, static_cast<uint64_t>(Phase::holding));
                if (a.dwell_max_us != 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (a.dwell_max_us + 1)));
                std::memcpy(claim->data().data(), text.data(), text.size());
                status.store(StatusWord::phase, static_cast<uint64_t>(Phase::committing));
                if (auto st = claim->commit(); !st)
                    fail("commit of message " + std::to_string(seq) + " failed: " + st.message());
                status.add(StatusWord::dwells, 1);
            } else {
                status.store(StatusWord::phase, static_cast<uint64_t>(Phase::sending));
                if (auto st = producer.send(text, options); !st)
                    fail("send of message " + std::to_string(seq) + " failed: " + st.message());
            }
            // Acknowledged: the count first, then idle (a kill in between
            // leaves phase != idle with seq == acked - 1: not in flight).
            status.store(StatusWord::acked, seq + 1);
            status.store(StatusWord::phase, static_cast<uint64_t>(Phase::idle));
        }
        const auto due = start + std::chrono::microseconds((seq - paced_from) * 1'000'000 / a.rate);
        const auto now = Clock::now();
        if (now > due + std::chrono::seconds(1)) {  // held back (spill staging full, shmqd down): no catch-up storm
            start = now;
            paced_from = seq;
        } else if (due > now) {
            std::this_thread::sleep_until(due);
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view cmd = argc > 1 ? std::string_view(argv[1]) : std::string_view();
    try {
        if (cmd == "produce") return produce(argc, argv);
        fail("usage: shmq_chaos_worker produce QUEUE --id K --status FILE ... (see tests/chaos/chaos_worker.cpp)");
    } catch (const Failure& f) {
        std::fprintf(stderr, "shmq_chaos_worker: %s\n", f.message.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shmq_chaos_worker %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(), e.what());
    }
    return kExitError;
}
