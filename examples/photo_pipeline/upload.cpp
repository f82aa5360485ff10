// photo_pipeline upload --queue Q --photos N --corrupt K --rate R --out FILE
//
// The upload service: for each photo 1..N, one send (key = photo id) that
// returns as soon as the message is in shared memory; nobody waits for the
// workers. Photos arrive in bursts of kBurst at R photos/s on average (R = 0:
// as fast as possible). Writes one line to FILE:
//   sent=N elapsed_ns=E p50_ns=.. p90_ns=.. p99_ns=.. max_ns=..   (send latency)
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "args.hpp"
#include "clock.hpp"
#include "latency.hpp"
#include "photo.hpp"
#include "roles.hpp"

#include <shmq/shmq.hpp>

namespace photo_pipeline {

namespace {
constexpr uint64_t kBurst = 50;
constexpr shmq::Millis kSendTimeout{10000};  // a full queue for this long means the workers are gone
}  // namespace

int run_upload(int argc, char** argv, int first) {
    const Args args(argc, argv, first, {"--queue", "--photos", "--corrupt", "--rate", "--out"}, {});
    const std::string queue_name = args.required("--queue");
    const uint64_t photos = args.number("--photos", 0, 1);
    const uint64_t rate = args.number("--rate", 0);
    const std::string out_path = args.required("--out");
    const auto corrupt = corrupt_ids(photos, args.number("--corrupt", 0));

    auto queue = shmq::Queue::open(queue_name);
    auto producer = queue.producer();
    std::vector<uint64_t> latency_ns;
    latency_ns.reserve(photos);
    std::size_t next_corrupt = 0;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t id = 1; id <= photos; ++id) {
        if (rate != 0 && (id - 1) % kBurst == 0)
            std::this_thread::sleep_until(start + std::chrono::nanoseconds((id - 1) * 1'000'000'000ull / rate));
        const bool bad = next_corrupt < corrupt.size() && corrupt[next_corrupt] == id;
        next_corrupt += bad ? 1 : 0;
        Photo photo = make_photo(id, bad);
        photo.sent_unix_ns = unix_ns();
        const std::string payload = encode(photo);
        const std::string key = std::to_string(id);
        const auto t0 = std::chrono::steady_clock::now();
        const shmq::Status st = producer.send(payload, {.key = key, .timeout = kSendTimeout});
        const auto t1 = std::chrono::steady_clock::now();
        if (!st)
            throw std::runtime_error("photo " + key + ": send to queue " + queue_name + " failed: " + st.message() +
                                     " (" + std::to_string(id - 1) + " sent); are the workers running?");
        latency_ns.push_back(static_cast<uint64_t>(std::chrono::nanoseconds(t1 - t0).count()));
    }
    const auto elapsed = std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count();
    const Percentiles p = percentiles(std::move(latency_ns));
    std::ofstream out(out_path);
    out << "sent=" << p.count << " elapsed_ns=" << elapsed << " p50_ns=" << p.p50 << " p90_ns=" << p.p90
        << " p99_ns=" << p.p99 << " max_ns=" << p.max << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + out_path);
    return 0;
}

}  // namespace photo_pipeline
