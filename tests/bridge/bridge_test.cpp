// `shmq bridge out` and `bridge in` against a real 3-node JetStream cluster on loopback
// (support/nats_cluster.hpp): every message stored exactly once, in partition
// order, through bridge SIGKILLs, a node killed mid-run, and the whole
// cluster down for 10 s.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <atomic>
#include <charconv>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bridge/stream_reader.hpp"
#include "shmq/internal/carried_send.hpp"
#include "support/nats_cluster.hpp"
#include "support/processes.hpp"
#include "support/json_value.hpp"
#include "support/scale.hpp"
#include "support/shell.hpp"
#include "support/snapshot.hpp"
#include "support/temp_exchange.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using namespace std::chrono_literals;
using test::JsClient;
using test::NatsCluster;
using test::StreamMessage;

uint64_t parse_u64(std::string_view s, bool& ok) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    ok = ok && ec == std::errc() && p == s.data() + s.size() && !s.empty();
    return v;
}

// What the stream must hold: payloads 0..n-1 each exactly once; per subject
// (one per partition) rising offsets in the message ids and rising payloads
// (one producer thread, so a partition's order is the send order).
testing::AssertionResult holds_each_once_in_partition_order(const std::vector<StreamMessage>& msgs, uint64_t n,
                                                              const std::string& queue, uint64_t epoch) {
    if (msgs.size() != n)
        return testing::AssertionFailure() << "the stream holds " << msgs.size() << " messages, expected " << n;
    std::vector<uint8_t> seen(n, 0);
    struct Last {
        uint64_t offset = 0, payload = 0;
        bool any = false;
    };
    std::map<std::string, Last> last;
    const std::string id_prefix = queue + ":" + std::to_string(epoch) + ":";
    for (const auto& m : msgs) {
        bool ok = true;
        const uint64_t payload = parse_u64(m.payload, ok);
        if (!ok || payload >= n) return testing::AssertionFailure() << "unexpected payload '" << m.payload << "'";
        if (seen[payload]++) return testing::AssertionFailure() << "payload " << payload << " stored twice";
        if (m.msg_id.rfind(id_prefix, 0) != 0)
            return testing::AssertionFailure() << "message id '" << m.msg_id << "' does not start with " << id_prefix;
        const std::string rest = m.msg_id.substr(id_prefix.size());
        const auto colon = rest.find(':');
        if (colon == std::string::npos) return testing::AssertionFailure() << "message id '" << m.msg_id << "'";
        const uint64_t partition = parse_u64(std::string_view(rest).substr(0, colon), ok);
        const uint64_t offset = parse_u64(std::string_view(rest).substr(colon + 1), ok);
        if (!ok) return testing::AssertionFailure() << "message id '" << m.msg_id << "'";
        const std::string subject = "shmq." + queue + ".p" + std::to_string(partition);
        if (m.subject != subject)
            return testing::AssertionFailure() << "id " << m.msg_id << " on subject " << m.subject << ", expected " << subject;
        auto& l = last[m.subject];
        if (l.any && (offset <= l.offset || payload <= l.payload))
            return testing::AssertionFailure() << "out of order on " << m.subject << ": offset " << offset << " (payload "
                                               << payload << ") at stream seq " << m.seq << " after offset " << l.offset
                                               << " (payload " << l.payload << ")";
        l = {offset, payload, true};
    }
    return testing::AssertionSuccess();
}

class BridgeTest : public testing::Test {
protected:
    void SetUp() override {
        cluster_.start_all();
        ASSERT_TRUE(cluster_.wait_ready(30s)) << "the 3-node JetStream cluster did not come up\n" << cluster_.logs_tail();
    }
    void TearDown() override {
        test::kill_and_reap(bridge_);
        test::kill_and_reap(bridge_in_);
        if (HasFailure()) {
            dir_.keep();
            std::cerr << "kept " << dir_.path() << "\n--- bridge.log ---\n"
                      << test::file_tail(dir_.file("bridge.log")) << "\n--- bridge-in.log ---\n"
                      << test::file_tail(dir_.file("bridge-in.log")) << "\n" << cluster_.logs_tail();
        }
    }

    void start_bridge(const std::string& queue, const std::string& stream) {
        bridge_ = test::spawn_logged({SHMQ_TOOL, "bridge", "out", queue, "--group", "to-nats", "--nats", cluster_.urls(),
                                      "--stream", stream, "--replicas", "3", "--ack-wait-ms", "2000"},
                                     dir_.file("bridge.log"));
    }
    void start_bridge_in(const std::string& queue, const std::string& stream) {
        bridge_in_ = test::spawn_logged({SHMQ_TOOL, "bridge", "in", queue, "--nats", cluster_.urls(), "--stream", stream,
                                         "--durable", "back-in", "--ack-wait-ms", "3000"},
                                        dir_.file("bridge-in.log"));
    }
    // SIGTERM: the bridge finishes what is in flight and exits 0.
    static int stop(pid_t& pid) {
        ::kill(pid, SIGTERM);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    int stop_bridge() { return stop(bridge_); }
    bool bridge_alive() const {
        int status = 0;
        return bridge_ > 0 && ::waitpid(bridge_, &status, WNOHANG) == 0;
    }
    std::string bridge_log() const { return test::file_tail(dir_.file("bridge.log"), 100000); }

    // Nothing of the group is left unACKed in the queue.
    static void expect_group_done(const std::string& queue) {
        const auto snap = test::snapshot_of(queue);
        bool found = false;
        for (const auto& g : snap.groups)
            if (g.name == "to-nats") {
                found = true;
                EXPECT_EQ(g.total.lag, 0u) << "the bridge left messages unACKed";
                EXPECT_EQ(g.total.in_flight, 0u);
            }
        EXPECT_TRUE(found);
    }

    test::TempDir dir_{"bridge"};
    NatsCluster cluster_{dir_.path()};
    pid_t bridge_ = -1;
    pid_t bridge_in_ = -1;
};

// Messages "0".."n-1" into `queue` from a thread of their own, keyed
// "k<i % 32>"; joined when it goes (or by join()).
class KeyedProducer {
public:
    KeyedProducer(Queue& queue, uint64_t n)
        : thread_([this, &queue, n] {
              auto p = queue.producer();
              for (uint64_t i = 0; i < n; ++i)
                  if (!p.send(std::to_string(i), {.key = "k" + std::to_string(i % 32)})) {
                      ok_ = false;
                      return;
                  }
          }) {}
    ~KeyedProducer() { join(); }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    bool ok() const { return ok_.load(); }

private:
    std::atomic<bool> ok_{true};  // before thread_: set up before the thread starts
    std::thread thread_;
};

// The 200k-message tests' queues: 4 partitions, small messages, 2 s leases.
QueueOptions four_partitions() {
    QueueOptions qo;
    qo.partitions = 4;
    qo.capacity = 8192;
    qo.max_message = 64;
    qo.lease_ms = 2000;
    return qo;
}

TEST_F(BridgeTest, storesEachMessageOnceInPartitionOrderThroughBridgeKillsAndANodeLoss) {
    const uint64_t n = test::scaled(200000, 20000);
    test::TempQueue q("bridge-out", four_partitions());
    const uint64_t epoch = test::snapshot_of(q.name).epoch;
    const std::string stream = "OUT_KILLS";
    start_bridge(q.name, stream);

    KeyedProducer producer(q.queue, n);

    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    // SIGKILL the bridge at 1/4, a NATS node at 1/2, the bridge again at 3/4.
    ASSERT_GE(client.wait_count(stream, n / 4, 60s), n / 4) << "the bridge did not get going";
    test::kill_and_reap(bridge_);
    start_bridge(q.name, stream);
    ASSERT_GE(client.wait_count(stream, n / 2, 60s), n / 2) << "no progress after the first restart";
    cluster_.kill(1);
    ASSERT_GE(client.wait_count(stream, 3 * n / 4, 60s), 3 * n / 4) << "no progress after a node was killed";
    test::kill_and_reap(bridge_);
    start_bridge(q.name, stream);
    EXPECT_GE(client.wait_count(stream, n, 90s), n);
    producer.join();
    ASSERT_TRUE(producer.ok());

    std::this_thread::sleep_for(500ms);  // anything extra (a missed duplicate) would show up by now
    EXPECT_EQ(stop_bridge(), 0) << bridge_log();
    expect_group_done(q.name);
    const auto msgs = client.read_all(stream, "shmq.>", n + 10);
    EXPECT_TRUE(holds_each_once_in_partition_order(msgs, n, q.name, epoch));
    EXPECT_NE(bridge_log().find("0 order violations"), std::string::npos) << bridge_log();
}

// Each node is SIGKILLed in turn under a bridge publishing at full speed, so
// the node it is connected to dies at least once (with messages on the dead
// connection) and the stream leader most likely too. Messages lost with a
// connection must not be overtaken by later ones sent on the next: one
// bridge process throughout, so its own order check covers the whole run.
TEST_F(BridgeTest, keepsPartitionOrderWhenEachNodeDiesInTurnUnderIt) {
    const uint64_t n = test::scaled(160000, 16000);
    test::TempQueue q("bridge-nodes", four_partitions());
    const uint64_t epoch = test::snapshot_of(q.name).epoch;
    const std::string stream = "OUT_NODES";
    start_bridge(q.name, stream);

    KeyedProducer producer(q.queue, n);

    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    for (int node = 0; node < NatsCluster::kNodes; ++node) {
        const uint64_t before = (node + 1) * n / 5;
        ASSERT_GE(client.wait_count(stream, before, 60s), before) << "no progress before node " << node + 1 << " died";
        cluster_.kill(node);
        const uint64_t after = before + n / 20;
        ASSERT_GE(client.wait_count(stream, after, 60s), after) << "no progress after node " << node + 1 << " died";
        cluster_.start(node);
        ASSERT_TRUE(cluster_.wait_ready(30s)) << "node " << node + 1 << " did not come back\n" << cluster_.logs_tail();
        std::this_thread::sleep_for(2s);  // its stream replica catches up before the next node dies
    }
    EXPECT_GE(client.wait_count(stream, n, 90s), n);
    producer.join();
    ASSERT_TRUE(producer.ok());

    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(stop_bridge(), 0) << bridge_log();
    expect_group_done(q.name);
    const auto msgs = client.read_all(stream, "shmq.>", n + 10);
    EXPECT_TRUE(holds_each_once_in_partition_order(msgs, n, q.name, epoch));
    EXPECT_NE(bridge_log().find("0 order violations"), std::string::npos) << bridge_log();
}

TEST_F(BridgeTest, holdsMessagesWhileTheClusterIsDownAndDeliversThemAfter) {
    const uint64_t n = test::scaled(20000, 2000);
    QueueOptions qo;
    qo.partitions = 2;
    qo.capacity = 16384;
    qo.max_message = 64;
    qo.lease_ms = 2000;  // far shorter than the outage: the bridge must extend its leases
    test::TempQueue q("bridge-down", qo);
    const uint64_t epoch = test::snapshot_of(q.name).epoch;
    const std::string stream = "OUT_DOWN";
    start_bridge(q.name, stream);
    auto p = q->producer();
    auto send_range = [&](uint64_t from, uint64_t to) {
        for (uint64_t i = from; i < to; ++i)
            ASSERT_TRUE(p.send(std::to_string(i), {.key = "k" + std::to_string(i % 8)}));
    };
    send_range(0, n / 2);
    {
        JsClient client(cluster_.urls());
        ASSERT_GE(client.wait_count(stream, n / 2, 60s), n / 2);
    }

    cluster_.kill_all();
    send_range(n / 2, n);
    std::this_thread::sleep_for(10s);
    ASSERT_TRUE(bridge_alive()) << bridge_log();
    const auto held = test::snapshot_of(q.name);
    for (const auto& g : held.groups)
        if (g.name == "to-nats") {
            EXPECT_EQ(g.total.lag, n - n / 2) << "the bridge ACKed messages while the cluster was down";
            EXPECT_EQ(g.total.expired, 0u) << "leases expired: the bridge did not extend them";
        }
    EXPECT_NE(bridge_log().find("lost the NATS connection"), std::string::npos) << bridge_log();
    // Its figures, as `shmq stat` and /metrics show them (the bridge table).
    ASSERT_EQ(held.bridges.size(), 1u);
    const auto& b = held.bridges.at(0);
    EXPECT_EQ(b.direction, "out");
    EXPECT_EQ(b.group, "to-nats");
    EXPECT_EQ(b.stream, stream);
    EXPECT_FALSE(b.connected);
    EXPECT_GT(b.held, 0u);
    EXPECT_LE(b.held, 1024u) << "more than --window held";
    EXPECT_EQ(b.lag, n - n / 2);
    EXPECT_GE(b.messages, n / 2);
    EXPECT_LT(b.updated_age_ms, 2000u) << "the bridge stopped updating its figures while the cluster was down";

    cluster_.start_all();
    ASSERT_TRUE(cluster_.wait_ready(30s)) << "the cluster did not come back\n" << cluster_.logs_tail();
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    EXPECT_GE(client.wait_count(stream, n, 60s), n);
    std::this_thread::sleep_for(500ms);
    const auto after = test::snapshot_of(q.name);
    ASSERT_EQ(after.bridges.size(), 1u);
    EXPECT_TRUE(after.bridges.at(0).connected);
    EXPECT_EQ(after.bridges.at(0).lag, 0u);
    EXPECT_EQ(after.bridges.at(0).held, 0u);
    // A PubAck per send the stream answered; a message whose first answer was lost counts once, as a duplicate.
    EXPECT_GE(after.bridges.at(0).messages, n);
    EXPECT_LE(after.bridges.at(0).messages - after.bridges.at(0).duplicates, n);
    EXPECT_GT(after.bridges.at(0).errors, 0u) << "the outage counted no publish error";
    EXPECT_EQ(stop_bridge(), 0) << bridge_log();
    EXPECT_TRUE(test::snapshot_of(q.name).bridges.empty()) << "a stopped bridge left its entry";
    expect_group_done(q.name);
    const auto msgs = client.read_all(stream, "shmq.>", n + 10);
    EXPECT_TRUE(holds_each_once_in_partition_order(msgs, n, q.name, epoch));
}

TEST_F(BridgeTest, refusesAStreamThatDoesNotTakeItsSubjects) {
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {"other.>"};
    cfg.Name = "OTHER";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Replicas = 3;
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_AddStream(&si, client.js(), &cfg, nullptr, nullptr), NATS_OK);
    jsStreamInfo_Destroy(si);
    test::TempQueue q("bridge-refuse");
    start_bridge(q.name, "OTHER");
    int status = 0;
    ASSERT_EQ(::waitpid(bridge_, &status, 0), bridge_);
    bridge_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(bridge_log().find("shmq: stream 'OTHER' exists with subjects [other.>], which do not include 'shmq.>'"),
              std::string::npos)
        << bridge_log();
}

TEST_F(BridgeTest, bringsEveryMessageBackInAtLeastOnceThroughBridgeKillsAndANodeLoss) {
    const uint64_t n = test::scaled(200000, 20000);
    QueueOptions qo = four_partitions();
    test::TempQueue out_q("bridge-from", qo);
    qo.capacity = 16384;
    test::TempQueue in_q("bridge-into", qo);
    const std::string stream = "ROUND_TRIP";
    start_bridge(out_q.name, stream);
    {
        JsClient client(cluster_.urls());
        const auto until = std::chrono::steady_clock::now() + 30s;
        while (!client.count(stream) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
        ASSERT_TRUE(client.count(stream)) << "bridge out did not create the stream";
    }
    std::thread producer([&] {
        auto p = out_q->producer();
        for (uint64_t i = 0; i < n; ++i)
            if (!p.send(std::to_string(i), {.key = "k" + std::to_string(i % 32)})) return;
    });
    // The local consumer of the second queue: counts every arrival and the distinct ones.
    std::vector<uint8_t> seen(n, 0);
    std::atomic<uint64_t> distinct{0}, arrivals{0}, strangers{0};
    std::atomic<bool> done{false};
    std::thread consumer([&] {
        auto c = in_q->consumer("check", {.kind = GroupKind::shared});
        std::vector<Message> batch(256);
        while (!done.load()) {
            const std::size_t got = c.receive_batch(batch, Millis(100)).count;
            for (std::size_t i = 0; i < got; ++i) {
                bool ok = true;
                const uint64_t v = parse_u64(batch[i].text(), ok);
                if (!ok || v >= n) {
                    ++strangers;
                } else {
                    if (seen[v]++ == 0) ++distinct;
                    ++arrivals;
                }
            }
            (void)ack_all(std::span(batch.data(), got));
        }
    });
    struct Joins {
        std::thread &a, &b;
        std::atomic<bool>& done;
        ~Joins() {
            done = true;
            if (a.joinable()) a.join();
            if (b.joinable()) b.join();
        }
    } joins{producer, consumer, done};
    auto wait_distinct = [&](uint64_t want, std::chrono::seconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (distinct.load() < want && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
        return distinct.load();
    };

    start_bridge_in(in_q.name, stream);
    // SIGKILL bridge in at 1/3, a NATS node at 1/2, bridge in again at 2/3.
    ASSERT_GE(wait_distinct(n / 3, 60s), n / 3) << "bridge in did not get going";
    test::kill_and_reap(bridge_in_);
    start_bridge_in(in_q.name, stream);
    ASSERT_GE(wait_distinct(n / 2, 60s), n / 2) << "no progress after the first restart";
    cluster_.kill(1);
    ASSERT_GE(wait_distinct(2 * n / 3, 60s), 2 * n / 3) << "no progress after a node was killed";
    test::kill_and_reap(bridge_in_);
    start_bridge_in(in_q.name, stream);
    EXPECT_EQ(wait_distinct(n, 90s), n) << "not every message came back";
    // The last bridge in's figures (since its start), as stat and /metrics show them.
    const auto into = test::snapshot_of(in_q.name);
    ASSERT_EQ(into.bridges.size(), 1u);
    EXPECT_EQ(into.bridges.at(0).direction, "in");
    EXPECT_EQ(into.bridges.at(0).stream, stream);
    EXPECT_FALSE(into.bridges.at(0).consumer.empty());
    EXPECT_GT(into.bridges.at(0).messages, 0u);
    EXPECT_LE(into.bridges.at(0).messages, n);
    EXPECT_EQ(stop(bridge_in_), 0);
    EXPECT_EQ(stop_bridge(), 0);
    done = true;
    producer.join();
    consumer.join();
    EXPECT_EQ(strangers.load(), 0u);
    EXPECT_GE(arrivals.load(), n);
    std::cout << "round trip: " << n << " messages, " << arrivals.load() << " arrivals ("
              << arrivals.load() - distinct.load() << " duplicates from the killed bridge in)\n";
}

// Everything `queue` holds for a new group, (dedup id, payload) in offset order
// (one partition); waits up to `timeout` for `n` of them.
std::vector<std::pair<std::string, std::string>> drain(Queue& queue, std::size_t n, std::chrono::seconds timeout) {
    std::vector<std::pair<std::string, std::string>> out;
    auto c = queue.consumer("check", {.kind = GroupKind::shared});
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
        auto m = c.receive(Millis(100));
        if (!m) continue;
        out.emplace_back(std::string(m->dedup_id()), std::string(m->text()));
        (void)m->ack();
    }
    // Anything more (a duplicate let through) shows up by now.
    for (auto m = c.receive(Millis(1000)); m; m = c.receive(Millis(200))) {
        out.emplace_back(std::string(m->dedup_id()), std::string(m->text()));
        (void)m->ack();
    }
    return out;
}

QueueOptions one_partition_dedup() {
    QueueOptions qo;
    qo.partitions = 1;
    qo.capacity = 64;
    qo.max_message = 64;
    qo.dedup_window_ms = 600'000;
    return qo;
}

// bridge out publishes a message with its dedup id as the Nats-Msg-Id (binary
// ids in hex, a redriven copy with its redrive count appended), its position
// in Shmq-Position; a copy JetStream already has counts as stored. bridge in
// takes the ids back as dedup ids: the second queue holds what the first did,
// with the same ids.
TEST_F(BridgeTest, publishesDedupIdsAsNatsMsgIdsAndBringsThemBackIn) {
    test::TempQueue q("bridge-dedup-out", one_partition_dedup());
    const uint64_t epoch = test::snapshot_of(q.name).epoch;
    const std::string binary("\x01\x02 \xff", 4);
    {
        auto p = q->producer();
        SendOutcome o;
        ASSERT_TRUE(p.send("m0", {.dedup_id = "order-1"}, o));
        ASSERT_TRUE(p.send("m1", {.dedup_id = "order-2"}, o));
        ASSERT_TRUE(p.send("m2", {.dedup_id = binary}, o));
        ASSERT_TRUE(p.send("dup", {.dedup_id = "order-1"}, o));
        ASSERT_TRUE(o.duplicate) << "the queue's own window";
        ASSERT_TRUE(p.send("m3", {}, o));  // no id: published with its position
        auto carry = [&](std::string_view payload, std::string_view id, uint16_t redrives) {
            return detail::send_carrying_id(p, std::as_bytes(std::span(payload.data(), payload.size())), {}, id,
                                            redrives);
        };
        ASSERT_TRUE(carry("m4", "order-1", 1));  // as `shmq dlq redrive` re-publishes it
        ASSERT_TRUE(carry("m5", binary, 2));
        ASSERT_TRUE(carry("copy", "order-2", 0));  // an id the stream has: JetStream drops it
    }
    const std::string stream = "OUT_DEDUP";
    start_bridge(q.name, stream);
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    EXPECT_GE(client.wait_count(stream, 6, 30s), 6u);
    // Every message settled, the copy too (as a duplicate), and the figures say so.
    const auto until = std::chrono::steady_clock::now() + 20s;
    for (;;) {
        const auto snap = test::snapshot_of(q.name);
        bool done = snap.bridges.size() == 1 && snap.bridges.at(0).messages >= 7;
        for (const auto& g : snap.groups)
            if (g.name == "to-nats") done = done && g.total.lag == 0 && g.total.in_flight == 0;
        if (done || std::chrono::steady_clock::now() > until) break;
        std::this_thread::sleep_for(50ms);
    }
    {
        const auto snap = test::snapshot_of(q.name);
        ASSERT_EQ(snap.bridges.size(), 1u);
        EXPECT_EQ(snap.bridges.at(0).duplicates, 1u);
        EXPECT_EQ(snap.bridges.at(0).messages, 7u);
    }
    EXPECT_EQ(stop_bridge(), 0) << bridge_log();
    expect_group_done(q.name);
    EXPECT_NE(bridge_log().find("0 order violations"), std::string::npos) << bridge_log();

    EXPECT_EQ(client.count(stream), std::optional<uint64_t>(6)) << "the copy JetStream had was stored again";
    const auto msgs = client.read_all(stream, "shmq.>", 6);
    ASSERT_EQ(msgs.size(), 6u);
    const std::string pos = q.name + ":" + std::to_string(epoch) + ":0:";
    const std::vector<std::tuple<std::string, std::string, std::string>> want = {
        {"m0", "order-1", pos + "0"},
        {"m1", "order-2", pos + "1"},
        {"m2", "hex:010220ff", pos + "2"},
        {"m3", pos + "3", ""},
        {"m4", "order-1#redrive-1", pos + "4"},
        {"m5", "hex:010220ff#redrive-2", pos + "5"},
    };
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(msgs[i].payload, std::get<0>(want[i])) << i;
        EXPECT_EQ(msgs[i].msg_id, std::get<1>(want[i])) << i;
        EXPECT_EQ(msgs[i].position, std::get<2>(want[i])) << i;
        EXPECT_EQ(msgs[i].subject, "shmq." + q.name + ".p0") << i;
    }

    // Back in, into a queue with a dedup window.
    test::TempQueue back("bridge-dedup-back", one_partition_dedup());
    start_bridge_in(back.name, stream);
    const auto got = drain(back.queue, 6, 30s);
    const std::vector<std::pair<std::string, std::string>> want_back = {
        {"order-1", "m0"}, {"order-2", "m1"}, {binary, "m2"}, {pos + "3", "m3"},
        {"order-1#redrive-1", "m4"}, {"hex:010220ff#redrive-2", "m5"},
    };
    EXPECT_EQ(got, want_back);
    EXPECT_EQ(stop(bridge_in_), 0);
}

// bridge out sends a message's routing key and headers as NATS headers
// (Shmq-Routing-Key, or -Hex; one Shmq-Header value per header, in order,
// "=hex=hex" where the text would not survive a header); bridge in gives
// them back to the messages it sends into a queue.
TEST_F(BridgeTest, carriesRoutingKeysAndHeadersOutAndBackIn) {
    QueueOptions qo;
    qo.partitions = 1;
    qo.capacity = 64;
    qo.max_message = 512;
    test::TempQueue q("bridge-attr-out", qo);
    const std::string binary_rk("\x01 rk", 4), binary_value("\xff\x00", 2);
    {
        test::TempExchange x("bridge-attr-x", xlayout::ExchangeType::direct);
        x->bind(test::to_queue(q.name, "orders"));
        x->bind(test::to_queue(q.name, binary_rk));
        auto pub = Publisher::open(x.name);
        const std::vector<MessageHeader> h{{"lang", "en"}, {"k=1", "v"}, {"pad", " x "}, {"bin", binary_value}, {"e", ""}};
        ASSERT_TRUE(pub.publish("m0", {.routing_key = "orders", .headers = h}).ok());
        ASSERT_TRUE(pub.publish("m1", {.routing_key = binary_rk}).ok());
        auto p = q->producer();
        ASSERT_TRUE(p.send("m2").ok());  // none
    }
    const std::string stream = "OUT_ATTRS";
    start_bridge(q.name, stream);
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    ASSERT_EQ(client.wait_count(stream, 3, 30s), 3u);
    const auto msgs = client.read_all(stream, "shmq.>", 3);
    ASSERT_EQ(msgs.size(), 3u);
    EXPECT_EQ(msgs[0].routing_key, "orders");
    EXPECT_EQ(msgs[0].headers, (std::vector<std::string>{"lang=en", "=6b3d31=76", "=706164=207820", "=62696e=ff00", "e="}));
    EXPECT_EQ(msgs[1].routing_key_hex, "0120726b");
    EXPECT_TRUE(msgs[1].routing_key.empty() && msgs[1].headers.empty());
    EXPECT_TRUE(msgs[2].routing_key.empty() && msgs[2].routing_key_hex.empty() && msgs[2].headers.empty());
    EXPECT_EQ(stop_bridge(), 0) << bridge_log();

    test::TempQueue back("bridge-attr-back", qo);
    start_bridge_in(back.name, stream);
    auto c = back->consumer("check");
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive(Millis(30000));
        ASSERT_TRUE(m.ok()) << i;
        std::string line = std::string(m->text()) + "|" + std::string(m->routing_key()) + "|";
        for (std::size_t k = 0; k < m->header_count(); ++k)
            line += std::string(m->header_at(k).first) + "=" + std::string(m->header_at(k).second) + ";";
        got.push_back(line);
        EXPECT_TRUE(m->ack().ok());
    }
    EXPECT_EQ(got, (std::vector<std::string>{"m0|orders|lang=en;k=1=v;pad= x ;bin=" + binary_value + ";e=;",
                                             "m1|" + binary_rk + "|", "m2||"}));
    EXPECT_EQ(stop(bridge_in_), 0);
}

// bridge in sends a message's Nats-Msg-Id as its dedup id: the same id twice
// in the stream (its duplicate window had passed) is one message in a queue
// with a dedup window; the second counts as a duplicate and is ACKed.
TEST_F(BridgeTest, bringsInAMsgIdSeenTwiceOnceIntoADedupQueue) {
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {"ext.>"};
    cfg.Name = "IN_DEDUP";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Replicas = 1;
    cfg.Duplicates = 100'000'000;  // 100 ms (ns): the stream takes an id again soon after
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_AddStream(&si, client.js(), &cfg, nullptr, nullptr), NATS_OK);
    jsStreamInfo_Destroy(si);
    const std::string long_id(300, 'L');
    auto publish = [&](const std::string& payload, const std::string& id) {
        natsMsg* m = nullptr;
        ASSERT_EQ(natsMsg_Create(&m, "ext.orders", nullptr, payload.data(), static_cast<int>(payload.size())), NATS_OK);
        jsPubOptions po;
        jsPubOptions_Init(&po);
        if (!id.empty()) po.MsgId = id.c_str();
        jsPubAck* pa = nullptr;
        EXPECT_EQ(js_PublishMsg(&pa, client.js(), m, &po, nullptr), NATS_OK) << payload;
        if (pa != nullptr) {
            EXPECT_FALSE(pa->Duplicate) << payload;
            jsPubAck_Destroy(pa);
        }
        natsMsg_Destroy(m);
    };
    publish("a1", "id-a");
    publish("long1", long_id);
    publish("none1", "");
    std::this_thread::sleep_for(400ms);  // past the stream's duplicate window
    publish("a2", "id-a");
    publish("long2", long_id);
    publish("none2", "");
    publish("b1", "id-b");
    ASSERT_EQ(client.wait_count("IN_DEDUP", 7, 10s), 7u);

    test::TempQueue in_q("bridge-dedup-in", one_partition_dedup());
    start_bridge_in(in_q.name, "IN_DEDUP");
    const auto got = drain(in_q.queue, 5, 30s);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0], (std::pair<std::string, std::string>("id-a", "a1")));
    EXPECT_EQ(got[1].second, "long1");
    EXPECT_EQ(got[1].first.rfind("fnv128:", 0), 0u) << "an id too long for the queue is hashed";
    EXPECT_EQ(got[2], (std::pair<std::string, std::string>("", "none1")));
    EXPECT_EQ(got[3], (std::pair<std::string, std::string>("", "none2")));
    EXPECT_EQ(got[4], (std::pair<std::string, std::string>("id-b", "b1")));
    // Both duplicates were ACKed in JetStream (nothing pending) and counted.
    const auto until = std::chrono::steady_clock::now() + 10s;
    inspect::BridgeStats b;
    while (std::chrono::steady_clock::now() < until) {
        const auto snap = test::snapshot_of(in_q.name);
        if (snap.bridges.size() == 1) {
            b = snap.bridges.at(0);
            if (b.messages == 7 && b.duplicates == 2) break;
        }
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(b.direction, "in");
    EXPECT_EQ(b.messages, 7u);
    EXPECT_EQ(b.duplicates, 2u);
    EXPECT_EQ(b.pending_acks, 0u);
    EXPECT_EQ(stop(bridge_in_), 0);
    jsConsumerInfo* ci = nullptr;
    ASSERT_EQ(js_GetConsumerInfo(&ci, client.js(), "IN_DEDUP", "back-in", nullptr, nullptr), NATS_OK);
    EXPECT_EQ(ci->NumAckPending, 0) << "a duplicate was not ACKed in JetStream";
    EXPECT_EQ(ci->NumPending, 0u);
    jsConsumerInfo_Destroy(ci);
}

// `shmq bench bridge`: the path through the cluster beside a local queue, in
// one run; it leaves no queue and no stream behind.
TEST_F(BridgeTest, benchBridgeMeasuresTheBridgeBesideALocalQueue) {
    const test::ShellRun r = test::sh("$SHMQ bench bridge --nats " + cluster_.urls() +
                                      " --count 300 --rate 2000 --rounds 2 --replicas 3 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const test::Value j = test::parse_json_text(r.out);
    EXPECT_EQ(j.at("bench").get<std::string>(), "bridge");
    EXPECT_EQ(j.at("params").at("count").get<double>(), 300);
    for (const auto* figures : {&j, &j.at("baselines").at("local")}) {
        EXPECT_GT(figures->at("p50_ns").get<double>(), 0);
        EXPECT_GE(figures->at("p99_ns").get<double>(), figures->at("p50_ns").get<double>());
        EXPECT_GE(figures->at("max_ns").get<double>(), figures->at("p99_ns").get<double>());
    }
    EXPECT_GT(j.at("ratios").at("local").at("p50").get<double>(), 0);
    // Its stream is deleted and its queues removed.
    JsClient client(cluster_.urls());
    ASSERT_TRUE(client.ok());
    for (const auto& name : client.stream_names()) EXPECT_EQ(name.rfind("SHMQ_BENCH_", 0), std::string::npos) << name;
    EXPECT_EQ(test::sh("ls /dev/shm | grep -c '^shmq\\.bench-bridge-'").out, "0\n");
}

}  // namespace
}  // namespace shmq
