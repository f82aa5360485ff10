#include "bench_bridge.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "../bench/harness.hpp"
#include "../command.hpp"
#include "shmq/internal/groups.hpp"
#include "nats_session.hpp"
#include "shmq/shmq.hpp"

namespace shmq::cli::bridge {

namespace {

using bench::BenchError;
using bench::now_ns;

// A `shmq bridge` child of this process: /proc/self/exe with its stderr in a
// log file; SIGTERMed and reaped by the destructor.
class BridgeChild {
public:
    BridgeChild(std::vector<std::string> args, std::string log) : log_(std::move(log)) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
        if (pid_ == 0) {
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) ::dup2(fd, 2);
            const int null = ::open("/dev/null", O_RDWR);
            if (null >= 0) ::dup2(null, 1);
            ::execv("/proc/self/exe", argv.data());
            ::_exit(127);
        }
    }
    ~BridgeChild() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        ::unlink(log_.c_str());
    }
    BridgeChild(const BridgeChild&) = delete;
    BridgeChild& operator=(const BridgeChild&) = delete;
    bool running() const {
        int status = 0;
        return ::waitpid(pid_, &status, WNOHANG) == 0;
    }
    std::string last_line() const {
        std::ifstream in(log_);
        std::string line, last;
        while (std::getline(in, line))
            if (!line.empty()) last = line;
        return last;
    }

private:
    std::string log_;
    pid_t pid_ = -1;
};

struct Stamp {
    uint64_t seq, intended_ns;
};

// Paced sends of `n` messages into `to` (each carrying its sequence and
// intended send time), received from `from` by a second thread that records
// now - intended into `hist`: latency without coordinated omission.
void measure(Queue& to, Queue& from, const BenchConfig& c, uint64_t first_seq, uint64_t n, bench::Histogram& hist,
             const std::function<void()>& check) {
    std::atomic<uint64_t> received{0};
    std::atomic<bool> stop{false};
    std::thread receiver([&] {
        auto consumer = from.consumer("bench", {.kind = GroupKind::shared});
        std::vector<Message> batch(64);
        while (!stop.load(std::memory_order_relaxed) && received.load(std::memory_order_relaxed) < n) {
            const std::size_t got = consumer.receive_batch(batch, Millis(50)).count;  // timeouts: keep going
            const uint64_t now = now_ns();
            for (std::size_t i = 0; i < got; ++i) {
                Stamp s{};
                if (batch[i].data().size() < sizeof s) continue;
                std::memcpy(&s, batch[i].data().data(), sizeof s);
                if (s.seq < first_seq || s.seq >= first_seq + n) continue;  // a late duplicate of an earlier round
                hist.record(now > s.intended_ns ? now - s.intended_ns : 0);
                received.fetch_add(1, std::memory_order_relaxed);
            }
            (void)ack_all(std::span(batch.data(), got));
        }
    });
    struct Join {
        std::thread& t;
        std::atomic<bool>& stop;
        ~Join() {
            stop = true;
            t.join();
        }
    } join{receiver, stop};
    auto producer = to.producer();
    std::string payload(c.size, 'x');
    const uint64_t gap = static_cast<uint64_t>(1e9 / c.rate);
    const uint64_t start = now_ns() + 1000000;
    for (uint64_t i = 0; i < n; ++i) {
        const Stamp s{first_seq + i, start + i * gap};
        while (now_ns() < s.intended_ns) {
        }
        std::memcpy(payload.data(), &s, sizeof s);
        const Status st = producer.send(payload, {.key = "k" + std::to_string(i % 16), .timeout = Millis(5000)});
        if (!st) throw BenchError(std::string("send failed: ") + st.message());
    }
    const uint64_t deadline = now_ns() + 30'000'000'000ull;
    while (received.load() < n) {
        if (now_ns() > deadline)
            throw BenchError(std::to_string(n - received.load()) + " of " + std::to_string(n) +
                             " messages did not arrive within 30 s");
        check();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace

std::vector<bench::LatencyOutcome> run_bench(const BenchConfig& c) {
    QueueOptions qo;
    qo.partitions = 1;
    qo.capacity = 16384;
    qo.max_message = static_cast<uint32_t>(std::max<std::size_t>(c.size, 16));
    qo.on_full = OnFull::block;
    const std::string out_name = bench::unique_name("bridge-out"), in_name = bench::unique_name("bridge-in"),
                      local_name = bench::unique_name("bridge-local");
    std::vector<Queue> queues;
    for (const auto& name : {out_name, in_name, local_name}) {
        queues.push_back(Queue::create(name, qo));
        bench::register_name(bench::NameKind::shmq_queue, name);
    }
    const std::string tag = std::to_string(::getpid());
    const std::string stream = "SHMQ_BENCH_" + tag, prefix = "shmqbench" + tag;
    const std::string logs = "/tmp/shmq-bench-bridge-" + tag;
    std::vector<bench::LatencyOutcome> out(2);
    out[0].name = "bridge";
    out[0].how = "queue -> bridge out -> JetStream (R" + std::to_string(c.replicas) + ") -> bridge in -> queue";
    out[1].name = "local";
    out[1].how = "one local queue, the same paced producer and consumer";
    {
        BridgeChild bridge_out({"shmq", "bridge", "out", out_name, "--group", "bench-bridge", "--nats", c.urls,
                                "--stream", stream, "--subject-prefix", prefix, "--replicas",
                                std::to_string(c.replicas)},
                               logs + "-out.log");
        // bridge in needs the stream: it is there once bridge out has joined its group.
        const auto region = open_region(out_name, detail::Access::read_only);
        auto joined = [&] { return detail::find_group(*region, "bench-bridge").has_value(); };
        const uint64_t ready_by = now_ns() + 30'000'000'000ull;
        while (!joined() && now_ns() < ready_by && bridge_out.running())
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!bridge_out.running() || !joined())
            throw BenchError("bridge out did not start: " + bridge_out.last_line());
        BridgeChild bridge_in({"shmq", "bridge", "in", in_name, "--nats", c.urls, "--stream", stream, "--durable",
                               "bench"},
                              logs + "-in.log");
        auto check = [&] {
            if (!bridge_out.running()) throw BenchError("bridge out exited: " + bridge_out.last_line());
            if (!bridge_in.running()) throw BenchError("bridge in exited: " + bridge_in.last_line());
        };
        // Warm-up: connections, the durable consumer, the first fetches.
        bench::Histogram warm;
        measure(queues[0], queues[1], c, 0, std::max<uint64_t>(c.count / 10, 100), warm, check);
        uint64_t seq = 1'000'000'000;
        for (int r = 0; r < c.rounds; ++r) {
            const uint64_t n = c.count / static_cast<uint64_t>(c.rounds) +
                               (static_cast<uint64_t>(r) < c.count % static_cast<uint64_t>(c.rounds) ? 1 : 0);
            for (int path = 0; path < 2; ++path) {
                bench::Histogram h;
                if (path == 0)
                    measure(queues[0], queues[1], c, seq, n, h, check);
                else
                    measure(queues[2], queues[2], c, seq, n, h, [] {});
                seq += n;
                out[static_cast<std::size_t>(path)].hist->merge(h);
                out[static_cast<std::size_t>(path)].round_p50.push_back(h.value_at(50));
            }
        }
    }
    // The bench's stream goes with it.
    try {
        SessionOptions so;
        so.urls = c.urls;
        so.client_name = "shmq bench bridge";
        NatsSession session(so);
        (void)js_DeleteStream(session.js(), stream.c_str(), nullptr, nullptr);
    } catch (...) {
        std::fprintf(stderr, "shmq bench bridge: could not delete stream %s; delete it by hand\n", stream.c_str());
    }
    return out;
}

}  // namespace shmq::cli::bridge
