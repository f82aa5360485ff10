// shmqd's metrics end to end: a real shmqd serving /metrics on an ephemeral
// loopback port and refreshing a textfile, real producer and consumer
// processes, and a plain TCP client. The counters must equal what was sent
// and acked; bad requests get 4xx and the daemon keeps serving.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/processes.hpp"
#include "support/shmqd_process.hpp"
#include "support/record_checks.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::Worker;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// A TCP connection to the metrics port, closed at destruction.
class Client {
public:
    explicit Client(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Client() {
        if (fd_ >= 0) ::close(fd_);
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return connected_; }
    bool send(std::string_view bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()); }
    // Everything the server sends until it closes; nullopt if it did not close within `timeout`.
    std::optional<std::string> read_all(std::chrono::milliseconds timeout = 10s) {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char buf[65536];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return out;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_;
    bool connected_ = false;
};

struct Response {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
};

Response parse_response(const std::string& raw) {
    Response r;
    const auto end = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.1 ") || end == std::string::npos) return r;
    r.status = std::stoi(raw.substr(9, 3));
    r.head = raw.substr(0, end);
    r.body = raw.substr(end + 4);
    return r;
}

Response http_exchange(uint16_t port, std::string_view request) {
    Client c(port);
    if (!c.connected() || !c.send(request)) return {};
    return parse_response(c.read_all().value_or(""));
}

Response get(uint16_t port, std::string_view path) {
    return http_exchange(port, "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
}

// Sample lines of an exposition: series (name and labels) -> value.
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
    return out;
}

// The families an exposition declares: name -> type.
std::map<std::string, std::string> families(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("# TYPE ")) continue;
        std::istringstream f(line.substr(7));
        std::string name, type;
        f >> name >> type;
        out[name] = type;
    }
    return out;
}

// The sum of a family's samples for one queue (over partitions or groups).
double sum(const std::map<std::string, double>& s, const std::string& family, const std::string& queue,
           const std::string& more_labels = "") {
    const std::string prefix = family + "{queue=\"" + queue + "\"" + more_labels;
    double total = 0;
    for (auto it = s.lower_bound(prefix); it != s.end() && it->first.starts_with(prefix); ++it) total += it->second;
    return total;
}

class MetricsTest : public testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            dir.keep();
            std::cout << "[ shmq ] shmqd.log kept in " << dir.path().string() << std::endl;
        }
    }
    // shmqd with `args` after the test's lock file and data dir, stderr to `log` (not waited for).
    Worker& start_daemon(const std::string& args, const std::string& log = "shmqd.log") {
        return shmqd.start(args, "", log, /*wait_started=*/false);
    }
    bool wait_for_log(const std::string& needle, const std::string& log = "shmqd.log") {
        return shmqd.wait_for_log(needle, log);
    }
    // The port of "metrics listening on 127.0.0.1:PORT" in the log; 0 if it never came.
    uint16_t metrics_port() {
        if (!wait_for_log("started")) return 0;
        // (No std::regex: GCC 12 warns inside <regex> under ASan, and warnings are errors.)
        const std::string text = read_file(dir.file("shmqd.log"));
        const std::string needle = "metrics listening on 127.0.0.1:";
        const auto at = text.find(needle);
        return at == std::string::npos ? 0 : static_cast<uint16_t>(std::stoi(text.substr(at + needle.size())));
    }
    int wait_exit(Worker& w, std::chrono::milliseconds t = 5s) { return shmqd.wait_exit(w, t); }
    // Scrapes until `ok` holds for the samples (the daemon's view may trail
    // a consumer's last call by a moment); returns the last scrape's body.
    template <class Ok>
    std::string scrape_until(uint16_t port, Ok ok, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::string body;
        do {
            const Response r = get(port, "/metrics");
            body = r.body;
            auto s = samples(body);
            if (r.status == 200 && ok(s)) break;
            std::this_thread::sleep_for(20ms);
        } while (std::chrono::steady_clock::now() < deadline);
        return body;
    }

    test::TempDir dir{"metrics"};
    test::Workers workers;
    test::ShmqdProcess shmqd{dir, workers};
};

TEST_F(MetricsTest, countersEqualWhatProcessesSentAndAckedAndTheTextfileHasTheSameFamilies) {
    QueueOptions o;
    o.partitions = 2;
    o.max_deliveries = 2;
    test::TempQueue q("metrics", o);
    const std::string textfile = dir.file("shmq.prom").string();
    Worker& daemon = start_daemon("--queue " + q.name + " --metrics-listen 127.0.0.1:0 --metrics-textfile " +
                                  textfile + " --metrics-interval-ms 100");
    const uint16_t port = metrics_port();
    ASSERT_NE(port, 0) << read_file(dir.file("shmqd.log"));

    // 100 messages from a producer process, 40 acked by a consumer process.
    constexpr int kSent = 100, kAcked = 40, kKeys = 7;
    Worker& producer = workers.start("producer", {"produce", q.name, "--id", "1", "--count", std::to_string(kSent),
                                                  "--keys", std::to_string(kKeys)});
    ASSERT_TRUE(workers.wait({&producer}, 30s));
    const std::string records = dir.file("g.txt").string();
    Worker& consumer = workers.start("consumer", {"consume", q.name, "--group", "g", "--kind", "shared", "--out",
                                                  records, "--count", std::to_string(kAcked), "--batch", "8"});
    ASSERT_TRUE(workers.wait({&consumer}, 30s));

    // What each partition got and acked, from the keys and the consumer's records.
    double published[2] = {0, 0}, acked[2] = {0, 0};
    for (int i = 0; i < kSent; ++i) ++published[partition_for_key("key-" + std::to_string(i % kKeys), 2)];
    const auto acks = test::read_records({records});
    ASSERT_EQ(acks.records.size(), static_cast<std::size_t>(kAcked));
    for (const auto& r : acks.records) ++acked[r.partition];

    const std::string qs = "{queue=\"" + q.name + "\"";
    auto part = [&](const char* family, int p) { return std::string(family) + qs + ",partition=\"" + std::to_string(p) + "\"}"; };
    const Response first = get(port, "/metrics");
    ASSERT_EQ(first.status, 200) << first.head;
    EXPECT_NE(first.head.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(first.head.find("\r\nConnection: close"), std::string::npos);
    auto s = samples(first.body);
    for (int p = 0; p < 2; ++p) {
        EXPECT_EQ(s[part("shmq_messages_published_total", p)], published[p]) << "partition " << p;
        EXPECT_EQ(s[part("shmq_messages_acked_total", p)], acked[p]) << "partition " << p;
        EXPECT_EQ(s[part("shmq_depth", p)], published[p] - acked[p]) << "partition " << p;
        EXPECT_EQ(s[part("shmq_messages_spilled_total", p)], 0);
        EXPECT_EQ(s[part("shmq_messages_redelivered_total", p)], 0);
    }
    EXPECT_EQ(sum(s, "shmq_group_messages_acked_total", q.name, ",group=\"g\""), kAcked);
    EXPECT_EQ(sum(s, "shmq_group_lag", q.name, ",group=\"g\""), kSent - kAcked);
    // The group left kSent - kAcked behind, published before this scrape: an age, in seconds, below the test's run.
    for (int p = 0; p < 2; ++p) {
        const double age =
            s["shmq_oldest_unacked_age_seconds" + qs + ",group=\"g\",partition=\"" + std::to_string(p) + "\"}"];
        if (published[p] > acked[p]) {
            EXPECT_GT(age, 0) << "partition " << p;
        }
        EXPECT_LT(age, 600) << "partition " << p;
    }
    EXPECT_EQ(s["shmq_in_flight" + qs + ",group=\"g\"}"], 0);
    // Offset 0 of each partition the consumer acked is a sample of the histogram.
    const double samples_taken = s["shmq_publish_to_ack_seconds_count" + qs + ",group=\"g\"}"];
    EXPECT_GE(samples_taken, 1);
    EXPECT_EQ(s["shmq_publish_to_ack_seconds_bucket" + qs + ",group=\"g\",le=\"+Inf\"}"], samples_taken);
    EXPECT_GT(s["shmq_publish_to_ack_seconds_sum" + qs + ",group=\"g\"}"], 0);
    EXPECT_EQ(s["shmq_consumers" + qs + "}"], 0);  // both processes detached when they exited
    EXPECT_EQ(s["shmq_producers" + qs + "}"], 0);
    EXPECT_EQ(s["shmq_dlq_depth" + qs + "}"], 0);
    EXPECT_EQ(s["shmq_messages_dead_lettered_total" + qs + "}"], 0);
    EXPECT_EQ(s["shmq_up"], 1);
    EXPECT_EQ(s.count("shmq_scrape_duration_seconds"), 1u);
    EXPECT_NE(first.body.find("shmq_queue_info" + qs + ",state=\"live\",policy=\"block\",partitions=\"2\","), std::string::npos);

    // A consumer of another group holds three messages, then nacks one twice:
    // one redelivery, then the DLQ (max_deliveries 2); the other two acked.
    auto c = q->consumer("h");
    std::vector<Message> held;
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive(2000ms);
        ASSERT_TRUE(m) << to_string(m.code());
        held.push_back(std::move(m).value());
    }
    s = samples(scrape_until(port, [&](auto& x) { return x[("shmq_in_flight" + qs + ",group=\"h\"}")] == 3; }));
    EXPECT_EQ(s["shmq_in_flight" + qs + ",group=\"h\"}"], 3);
    EXPECT_EQ(s["shmq_consumers" + qs + "}"], 1);
    const uint32_t poison_partition = held[0].partition();
    const uint64_t poison_offset = held[0].offset();
    ASSERT_TRUE(held[0].nack().ok());
    auto again = c.receive(2000ms);
    ASSERT_TRUE(again) << to_string(again.code());
    ASSERT_EQ(again->partition(), poison_partition);
    ASSERT_EQ(again->offset(), poison_offset);
    ASSERT_EQ(again->deliveries(), 2u);
    ASSERT_TRUE(again->nack().ok());
    ASSERT_TRUE(held[1].ack().ok());
    ASSERT_TRUE(held[2].ack().ok());
    s = samples(scrape_until(port, [&](auto& x) { return x["shmq_dlq_depth" + qs + "}"] == 1; }));
    EXPECT_EQ(s["shmq_dlq_depth" + qs + "}"], 1);
    EXPECT_EQ(s["shmq_messages_dead_lettered_total" + qs + "}"], 1);
    EXPECT_EQ(sum(s, "shmq_messages_redelivered_total", q.name), 1);
    EXPECT_EQ(sum(s, "shmq_group_messages_acked_total", q.name, ",group=\"h\""), 2);
    EXPECT_EQ(sum(s, "shmq_messages_acked_total", q.name), kAcked + 2);
    EXPECT_EQ(s["shmq_in_flight" + qs + ",group=\"h\"}"], 0);

    // The textfile: the same families, and (refreshed every 100 ms) the same counters.
    const std::string scraped = get(port, "/metrics").body;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::string file;
    auto published_lines = [&](const std::string& text) {
        std::string lines;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("shmq_messages_")) lines += line + "\n";
        return lines;
    };
    do {
        file = read_file(textfile);
        if (!file.empty() && published_lines(file) == published_lines(scraped)) break;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(families(file), families(scraped));
    EXPECT_EQ(families(scraped).size(), 41u);  // docs/METRICS.md lists each
    EXPECT_EQ(published_lines(file), published_lines(scraped));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
        EXPECT_EQ(entry.path().filename().string().find("shmq.prom.tmp"), std::string::npos)
            << "a temporary file was left: " << entry.path();

    ::kill(daemon.pid, SIGTERM);
    EXPECT_EQ(wait_exit(daemon), 0);
}

TEST_F(MetricsTest, aNonLoopbackAddressIsRefusedUnlessAllowed) {
    for (const char* address : {"0.0.0.0:9464", "[::]:0", "10.1.2.3:0"}) {
        Worker& d = start_daemon(std::string("--metrics-listen ") + address, "refused.log");
        EXPECT_EQ(wait_exit(d), 2) << address;
    }
    std::istringstream lines(read_file(dir.file("refused.log")));
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
        EXPECT_TRUE(line.starts_with("shmqd: --metrics-listen: ")) << line;
        EXPECT_NE(line.find("not a loopback address"), std::string::npos) << line;
        EXPECT_NE(line.find("--metrics-allow-remote"), std::string::npos) << line;
    }
    EXPECT_EQ(n, 3) << "one line per refusal";

    // The same from a config file; and malformed addresses.
    {
        std::ofstream cfg(dir.file("remote.toml"));
        cfg << "metrics-listen = \"0.0.0.0:0\"\n";
    }
    Worker& from_file = start_daemon("--config " + dir.file("remote.toml").string(), "file.log");
    EXPECT_EQ(wait_exit(from_file), 2);
    EXPECT_NE(read_file(dir.file("file.log")).find("not a loopback address"), std::string::npos);
    for (const char* address : {"127.0.0.1", "127.0.0.1:65536", "example.com:80", ":80"}) {
        Worker& d = start_daemon(std::string("--metrics-listen ") + address, "malformed.log");
        EXPECT_EQ(wait_exit(d), 2) << address;
    }

    // Allowed: it binds every interface and says which port.
    Worker& allowed = start_daemon("--metrics-listen 0.0.0.0:0 --metrics-allow-remote");
    EXPECT_TRUE(wait_for_log("metrics listening on 0.0.0.0:")) << read_file(dir.file("shmqd.log"));
    ::kill(allowed.pid, SIGTERM);
    EXPECT_EQ(wait_exit(allowed), 0);
}

TEST_F(MetricsTest, badRequestsGet4xxSlowClientsAreCutOffAndTheDaemonKeepsServing) {
    // Options from the config file this time.
    {
        std::ofstream cfg(dir.file("shmqd.toml"));
        cfg << "metrics-listen = \"localhost:0\"\nmetrics-textfile = \"" << dir.file("shmq.prom").string()
            << "\"\nmetrics-interval-ms = 100\n";
    }
    Worker& daemon = start_daemon("--config " + dir.file("shmqd.toml").string());
    const uint16_t port = metrics_port();
    ASSERT_NE(port, 0) << read_file(dir.file("shmqd.log"));
    ASSERT_TRUE(wait_for_log("metrics textfile " + dir.file("shmq.prom").string()));

    // Slow clients: one silent, one that never finishes its header. They must not hold up others.
    Client silent(port), partial(port);
    ASSERT_TRUE(partial.send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));

    EXPECT_EQ(get(port, "/nope").status, 404);
    EXPECT_EQ(get(port, "/metricsx").status, 404);
    const Response post = http_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(post.status, 405);
    EXPECT_NE(post.head.find("\r\nAllow: GET"), std::string::npos);
    EXPECT_EQ(http_exchange(port, "DELETE / HTTP/1.1\r\n\r\n").status, 405);
    EXPECT_EQ(http_exchange(port, "HELLO\r\n\r\n").status, 400);
    EXPECT_EQ(http_exchange(port, "GET /metrics SMTP/2\r\n\r\n").status, 400);
    EXPECT_EQ(http_exchange(port, "GET /metrics HTTP/1.0\n\n").status, 200);  // bare line feeds, HTTP/1.0
    EXPECT_EQ(http_exchange(port, "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n").status, 431);
    const Response index = get(port, "/");
    EXPECT_EQ(index.status, 200);
    EXPECT_NE(index.body.find("/metrics"), std::string::npos);
    const Response metrics = get(port, "/metrics?x=1");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(samples(metrics.body)["shmq_up"], 1);

    // The slow ones are cut off at the deadline (5 s), with a 408 for the partial header.
    EXPECT_EQ(silent.read_all(10s), std::optional<std::string>(""));  // closed without a byte
    EXPECT_EQ(parse_response(partial.read_all(10s).value_or("")).status, 408);

    // More idle connections than allowed at once: the extra wait in the backlog
    // and are served once the idle ones time out, and a scrape still gets through.
    // Only a deadline (5 s after an accept, which follows t0) frees one of
    // the 16 slots: the scrape cannot be answered before one has passed.
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<Client>> idle;
    for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<Client>(port));
    EXPECT_EQ(get(port, "/metrics").status, 200);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::cout << "[ metrics ] a scrape behind 20 idle connections answered after " << waited.count() << " ms\n";
    EXPECT_GE(waited, 4900ms) << "more connections were open at once than the bound allows";
    idle.clear();

    EXPECT_TRUE(workers.running(daemon)) << read_file(dir.file("shmqd.log"));
    EXPECT_EQ(get(port, "/metrics").status, 200);
    EXPECT_NE(read_file(dir.file("shmq.prom")).find("# TYPE shmq_up gauge\n"), std::string::npos);
    ::kill(daemon.pid, SIGTERM);
    EXPECT_EQ(wait_exit(daemon), 0);
    EXPECT_EQ(read_file(dir.file("shmqd.log")).find(" error: "), std::string::npos) << read_file(dir.file("shmqd.log"));
}

}  // namespace
}  // namespace shmq
