// shmqd's exposition renderer (daemon/metrics_text): exact text for a known
// snapshot, label escaping, each family's HELP and TYPE once before its
// contiguous samples, and the histogram writer future families will use.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "metrics_text.hpp"

namespace shmq::daemon::metrics {
namespace {

inspect::QueueSnapshot orders() {
    inspect::QueueSnapshot q;
    q.delayed = 3;
    q.name = "orders";
    q.state = "live";
    q.options.partitions = 2;
    q.options.capacity = 64;
    q.options.on_full = OnFull::reject;
    q.consumers = 3;
    q.producers = 2;
    for (uint32_t p = 0; p < 2; ++p) {
        inspect::PartitionStats s;
        s.partition = p;
        s.published = 10 + p;
        s.acked = 7 + p;
        s.redelivered = p;
        s.depth = 3;
        s.spilled = 100 * p;
        s.spill_refused = p;
        s.dropped = 3 * p;
        s.duplicates = 2 * p;
        s.journal_lag = 7 * p;
        s.journal_bytes = 4096 * p;
        s.spill_backlog = 5 * p;
        s.spill_disk_bytes = 160 * p;
        q.partitions.push_back(s);
    }
    inspect::GroupStats g;
    g.name = "billing";
    g.total.in_flight = 2;
    for (uint32_t p = 0; p < 2; ++p) {
        inspect::GroupPartitionStats s;
        s.partition = p;
        s.acked = 7 + p;
        s.lag = 3;
        s.oldest_unacked_age_ms = 1500 * p;  // 0: nothing left; 1.5 s
        g.partitions.push_back(s);
    }
    g.ack_latency.bound_ns = {1024, 2048, UINT64_MAX};  // the last bucket is +Inf
    g.ack_latency.counts = {1, 2, 1};
    g.ack_latency.count = 4;
    g.ack_latency.sum_ns = 5'000'000'000;
    q.groups.push_back(g);
    q.dlq.depth = 4;
    q.dlq.dead_lettered = 5;
    inspect::BridgeStats out{.direction = "out", .group = "billing", .stream = "ORDERS", .consumer = "",
                             .connected = true, .updated_age_ms = 10, .messages = 100, .pending_acks = 3,
                             .held = 4, .errors = 1, .redeliveries = 2, .duplicates = 1, .lag = 6};
    inspect::BridgeStats in{.direction = "in", .group = "", .stream = "ORDERS", .consumer = "host-b",
                            .connected = false, .updated_age_ms = 10, .messages = 50, .pending_acks = 2,
                            .held = 0, .errors = 5, .redeliveries = 7, .duplicates = 0, .lag = 9};
    q.bridges = {out, in};
    return q;
}

TEST(MetricsTextTest, rendersEveryFamilyOfASnapshotExactly) {
    const std::vector<inspect::QueueSnapshot> queues{orders()};
    ScrapeInfo info;
    info.duration_seconds = 0.25;
    EXPECT_EQ(render(queues, info),
              "# HELP shmq_up 1: shmqd is running and answered this scrape.\n"
              "# TYPE shmq_up gauge\n"
              "shmq_up 1\n"
              "# HELP shmq_scrape_duration_seconds Time spent reading the queues' regions for this scrape.\n"
              "# TYPE shmq_scrape_duration_seconds gauge\n"
              "shmq_scrape_duration_seconds 0.25\n"
              "# HELP shmq_queue_info Always 1; the labels are the queue's state and creation parameters.\n"
              "# TYPE shmq_queue_info gauge\n"
              "shmq_queue_info{queue=\"orders\",state=\"live\",policy=\"reject\",partitions=\"2\",capacity=\"64\","
              "max_message=\"1024\",lease_ms=\"30000\",max_deliveries=\"5\"} 1\n"
              "# HELP shmq_messages_published_total Messages committed to the partition (claimed offsets minus "
              "aborted claims).\n"
              "# TYPE shmq_messages_published_total counter\n"
              "shmq_messages_published_total{queue=\"orders\",partition=\"0\"} 10\n"
              "shmq_messages_published_total{queue=\"orders\",partition=\"1\"} 11\n"
              "# HELP shmq_messages_acked_total Messages acknowledged, summed over the queue's groups (each group "
              "acks every message).\n"
              "# TYPE shmq_messages_acked_total counter\n"
              "shmq_messages_acked_total{queue=\"orders\",partition=\"0\"} 7\n"
              "shmq_messages_acked_total{queue=\"orders\",partition=\"1\"} 8\n"
              "# HELP shmq_group_messages_acked_total Messages acknowledged by one group.\n"
              "# TYPE shmq_group_messages_acked_total counter\n"
              "shmq_group_messages_acked_total{queue=\"orders\",group=\"billing\",partition=\"0\"} 7\n"
              "shmq_group_messages_acked_total{queue=\"orders\",group=\"billing\",partition=\"1\"} 8\n"
              "# HELP shmq_messages_redelivered_total Deliveries after the first (nack, expired lease, dead "
              "consumer), summed over groups.\n"
              "# TYPE shmq_messages_redelivered_total counter\n"
              "shmq_messages_redelivered_total{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_messages_redelivered_total{queue=\"orders\",partition=\"1\"} 1\n"
              "# HELP shmq_messages_dead_lettered_total Messages moved to the dead-letter queue after "
              "max_deliveries deliveries.\n"
              "# TYPE shmq_messages_dead_lettered_total counter\n"
              "shmq_messages_dead_lettered_total{queue=\"orders\"} 5\n"
              "# HELP shmq_messages_expired_ttl_total Messages whose TTL passed before some group had them (one "
              "DLQ entry each, reason ttl, unless dropped).\n"
              "# TYPE shmq_messages_expired_ttl_total counter\n"
              "shmq_messages_expired_ttl_total{queue=\"orders\"} 0\n"
              "# HELP shmq_messages_expired_ttl_dropped_total Expired messages that went nowhere: ttl_action drop, "
              "or the DLQ was full.\n"
              "# TYPE shmq_messages_expired_ttl_dropped_total counter\n"
              "shmq_messages_expired_ttl_dropped_total{queue=\"orders\"} 0\n"
              "# HELP shmq_messages_spilled_total Messages that overflowed a full partition into shmqd's spill "
              "(on_full=spill).\n"
              "# TYPE shmq_messages_spilled_total counter\n"
              "shmq_messages_spilled_total{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_messages_spilled_total{queue=\"orders\",partition=\"1\"} 100\n"
              "# HELP shmq_messages_dropped_total Messages overwritten by on_full=drop_oldest before every "
              "group had finished them.\n"
              "# TYPE shmq_messages_dropped_total counter\n"
              "shmq_messages_dropped_total{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_messages_dropped_total{queue=\"orders\",partition=\"1\"} 3\n"
              "# HELP shmq_duplicates_total Sends answered duplicate (their dedup id was published within the "
              "window; not enqueued again), counted in the partition of the id's original.\n"
              "# TYPE shmq_duplicates_total counter\n"
              "shmq_duplicates_total{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_duplicates_total{queue=\"orders\",partition=\"1\"} 2\n"
              "# HELP shmq_delayed_messages Delayed messages (SendOptions::delay) waiting in the queue's delay "
              "store for their due time.\n"
              "# TYPE shmq_delayed_messages gauge\n"
              "shmq_delayed_messages{queue=\"orders\"} 3\n"
              "# HELP shmq_journal_lag_messages Published messages not yet in shmqd's journal (journaled "
              "queues; 0 otherwise).\n"
              "# TYPE shmq_journal_lag_messages gauge\n"
              "shmq_journal_lag_messages{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_journal_lag_messages{queue=\"orders\",partition=\"1\"} 7\n"
              "# HELP shmq_journal_bytes Bytes of the partition's journal segments kept on disk.\n"
              "# TYPE shmq_journal_bytes gauge\n"
              "shmq_journal_bytes{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_journal_bytes{queue=\"orders\",partition=\"1\"} 4096\n"
              "# HELP shmq_spill_refused_total Sends answered overloaded because the spill staging area stayed "
              "full.\n"
              "# TYPE shmq_spill_refused_total counter\n"
              "shmq_spill_refused_total{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_spill_refused_total{queue=\"orders\",partition=\"1\"} 1\n"
              "# HELP shmq_spill_backlog_messages Spilled messages not yet back in the partition's ring (staging "
              "and disk).\n"
              "# TYPE shmq_spill_backlog_messages gauge\n"
              "shmq_spill_backlog_messages{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_spill_backlog_messages{queue=\"orders\",partition=\"1\"} 5\n"
              "# HELP shmq_spill_disk_bytes Bytes of spilled messages on disk waiting for the refill.\n"
              "# TYPE shmq_spill_disk_bytes gauge\n"
              "shmq_spill_disk_bytes{queue=\"orders\",partition=\"0\"} 0\n"
              "shmq_spill_disk_bytes{queue=\"orders\",partition=\"1\"} 160\n"
              "# HELP shmq_depth Messages in the partition not yet finished by the slowest group (approximate).\n"
              "# TYPE shmq_depth gauge\n"
              "shmq_depth{queue=\"orders\",partition=\"0\"} 3\n"
              "shmq_depth{queue=\"orders\",partition=\"1\"} 3\n"
              "# HELP shmq_in_flight Messages delivered to a group's consumers and not yet settled.\n"
              "# TYPE shmq_in_flight gauge\n"
              "shmq_in_flight{queue=\"orders\",group=\"billing\"} 2\n"
              "# HELP shmq_group_lag Messages published to the partition and not yet finished by the group.\n"
              "# TYPE shmq_group_lag gauge\n"
              "shmq_group_lag{queue=\"orders\",group=\"billing\",partition=\"0\"} 3\n"
              "shmq_group_lag{queue=\"orders\",group=\"billing\",partition=\"1\"} 3\n"
              "# HELP shmq_oldest_unacked_age_seconds Age of the oldest message the group has not finished in the "
              "partition (its publish time to this scrape); 0 when there is none.\n"
              "# TYPE shmq_oldest_unacked_age_seconds gauge\n"
              "shmq_oldest_unacked_age_seconds{queue=\"orders\",group=\"billing\",partition=\"0\"} 0\n"
              "shmq_oldest_unacked_age_seconds{queue=\"orders\",group=\"billing\",partition=\"1\"} 1.5\n"
              "# HELP shmq_keyed_blocked_keys Keyed groups: keys with a message waiting for an earlier message of "
              "the key to be finished.\n"
              "# TYPE shmq_keyed_blocked_keys gauge\n"
              "# HELP shmq_keyed_oldest_blocked_age_seconds Keyed groups: age (since publish) of the oldest message "
              "waiting for an earlier one of its key; 0 when none.\n"
              "# TYPE shmq_keyed_oldest_blocked_age_seconds gauge\n"
              "# HELP shmq_overloaded 1 when a partition is deeper than the queue's high watermark (% of "
              "capacity), else 0.\n"
              "# TYPE shmq_overloaded gauge\n"
              "shmq_overloaded{queue=\"orders\"} 0\n"
              "# HELP shmq_dlq_depth Messages in the dead-letter queue.\n"
              "# TYPE shmq_dlq_depth gauge\n"
              "shmq_dlq_depth{queue=\"orders\"} 4\n"
              "# HELP shmq_consumers Attached consumers (live or not yet reaped).\n"
              "# TYPE shmq_consumers gauge\n"
              "shmq_consumers{queue=\"orders\"} 3\n"
              "# HELP shmq_producers Attached producers (live or not yet reaped).\n"
              "# TYPE shmq_producers gauge\n"
              "shmq_producers{queue=\"orders\"} 2\n"
              "# HELP shmq_publish_to_ack_seconds Time from publish to ACK, sampled: every 64th offset of each "
              "partition.\n"
              "# TYPE shmq_publish_to_ack_seconds histogram\n"
              "shmq_publish_to_ack_seconds_bucket{queue=\"orders\",group=\"billing\",le=\"1.024e-06\"} 1\n"
              "shmq_publish_to_ack_seconds_bucket{queue=\"orders\",group=\"billing\",le=\"2.048e-06\"} 3\n"
              "shmq_publish_to_ack_seconds_bucket{queue=\"orders\",group=\"billing\",le=\"+Inf\"} 4\n"
              "shmq_publish_to_ack_seconds_sum{queue=\"orders\",group=\"billing\"} 5\n"
              "shmq_publish_to_ack_seconds_count{queue=\"orders\",group=\"billing\"} 4\n"
              "# HELP shmq_bridge_connected 1 while the bridge's NATS connection is up, else 0.\n"
              "# TYPE shmq_bridge_connected gauge\n"
              "shmq_bridge_connected{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 1\n"
              "shmq_bridge_connected{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 0\n"
              "# HELP shmq_bridge_messages_total out: PubAcks saying the stream holds a message (duplicates included); in: messages sent into the queue.\n"
              "# TYPE shmq_bridge_messages_total counter\n"
              "shmq_bridge_messages_total{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 100\n"
              "shmq_bridge_messages_total{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 50\n"
              "# HELP shmq_bridge_pending_acks out: publishes awaiting their PubAck; in: JetStream messages fetched, not yet sent and ACKed.\n"
              "# TYPE shmq_bridge_pending_acks gauge\n"
              "shmq_bridge_pending_acks{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 3\n"
              "shmq_bridge_pending_acks{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 2\n"
              "# HELP shmq_bridge_held_messages Messages the bridge holds leased, not yet stored in the stream (PubAck pending or retrying).\n"
              "# TYPE shmq_bridge_held_messages gauge\n"
              "shmq_bridge_held_messages{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 4\n"
              "# HELP shmq_bridge_publish_errors_total Publishes that failed (refused, timed out or answered with an error); each is retried.\n"
              "# TYPE shmq_bridge_publish_errors_total counter\n"
              "shmq_bridge_publish_errors_total{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 1\n"
              "# HELP shmq_bridge_fetch_errors_total Failed fetches from JetStream, and messages terminated because the queue can never take them.\n"
              "# TYPE shmq_bridge_fetch_errors_total counter\n"
              "shmq_bridge_fetch_errors_total{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 5\n"
              "# HELP shmq_bridge_redeliveries_total out: publishes sent again after a failure; in: messages JetStream delivered more than once.\n"
              "# TYPE shmq_bridge_redeliveries_total counter\n"
              "shmq_bridge_redeliveries_total{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 2\n"
              "shmq_bridge_redeliveries_total{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 7\n"
              "# HELP shmq_bridge_duplicates_total out: PubAcks saying the stream already had the message (a re-send deduplicated by Nats-Msg-Id); in: sends the queue's dedup window answered duplicate (their Nats-Msg-Id was in it).\n"
              "# TYPE shmq_bridge_duplicates_total counter\n"
              "shmq_bridge_duplicates_total{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 1\n"
              "shmq_bridge_duplicates_total{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 0\n"
              "# HELP shmq_bridge_lag_messages out: messages published to the queue, not yet stored in the stream; in: the stream's messages not yet delivered to the bridge's consumer.\n"
              "# TYPE shmq_bridge_lag_messages gauge\n"
              "shmq_bridge_lag_messages{queue=\"orders\",direction=\"out\",group=\"billing\",consumer=\"\",stream=\"ORDERS\"} 6\n"
              "shmq_bridge_lag_messages{queue=\"orders\",direction=\"in\",group=\"\",consumer=\"host-b\",stream=\"ORDERS\"} 9\n"
              "# HELP shmq_exchange_routed_total Publishes through the exchange that reached at least one bound queue.\n"
              "# TYPE shmq_exchange_routed_total counter\n"
              "# HELP shmq_exchange_unroutable_total Publishes through the exchange that no binding matched (sent to its alternate queue or not).\n"
              "# TYPE shmq_exchange_unroutable_total counter\n");
}

// The family a sample line belongs to, given the declared families
// (a histogram's _bucket, _sum and _count series belong to it).
std::string family_of(const std::string& series, const std::map<std::string, std::string>& types) {
    const std::string name = series.substr(0, series.find_first_of("{ "));
    if (types.count(name)) return name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (name.size() > s.size() && name.ends_with(s)) {
            const std::string base = name.substr(0, name.size() - s.size());
            auto it = types.find(base);
            if (it != types.end() && it->second == "histogram") return base;
        }
    }
    return name;
}

// Checks the format's structure: every family has one HELP and one TYPE
// line, both before its samples, which are contiguous; no sample without a family.
testing::AssertionResult well_formed(const std::string& text, std::set<std::string>* families = nullptr) {
    std::map<std::string, int> helps, types_seen;
    std::map<std::string, std::string> types;
    std::set<std::string> finished;
    std::string current;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.starts_with("# HELP ")) {
            const std::string name = line.substr(7, line.find(' ', 7) - 7);
            if (++helps[name] > 1) return testing::AssertionFailure() << "line " << n << ": second HELP of " << name;
            if (!current.empty() && current != name) finished.insert(current);
            current = name;
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            std::istringstream f(line.substr(7));
            std::string name, type;
            f >> name >> type;
            if (++types_seen[name] > 1) return testing::AssertionFailure() << "line " << n << ": second TYPE of " << name;
            if (name != current) return testing::AssertionFailure() << "line " << n << ": TYPE of " << name << " not after its HELP";
            types[name] = type;
            continue;
        }
        if (line.empty() || line[0] == '#') return testing::AssertionFailure() << "line " << n << ": unexpected '" << line << "'";
        const std::string family = family_of(line, types);
        if (!types.count(family) || !helps.count(family))
            return testing::AssertionFailure() << "line " << n << ": sample of undeclared family: " << line;
        if (family != current || finished.count(family))
            return testing::AssertionFailure() << "line " << n << ": sample of " << family << " outside its block";
    }
    for (const auto& [name, count] : helps)
        if (!types_seen.count(name)) return testing::AssertionFailure() << name << " has HELP but no TYPE";
    if (families)
        for (const auto& [name, type] : types) families->insert(name);
    return testing::AssertionSuccess();
}

TEST(MetricsTextTest, everyFamilyHasHelpAndTypeOnceBeforeItsContiguousSamples) {
    auto second = orders();
    second.name = "photos";
    second.groups.push_back(second.groups[0]);
    second.groups[1].name = "thumbnails";
    const std::vector<inspect::QueueSnapshot> queues{orders(), second};
    std::set<std::string> families;
    EXPECT_TRUE(well_formed(render(queues, {}), &families));
    EXPECT_EQ(families.size(), 41u);

    // No queue at all: the same families, declared, with only the daemon's own samples.
    std::set<std::string> empty_families;
    const std::string empty = render({}, {});
    EXPECT_TRUE(well_formed(empty, &empty_families));
    EXPECT_EQ(empty_families, families);
    EXPECT_EQ(empty.find("queue="), std::string::npos);

    // The checker itself refuses what the format forbids.
    EXPECT_FALSE(well_formed("# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n# TYPE a gauge\n"));
    EXPECT_FALSE(well_formed("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na 1\n"));
    EXPECT_FALSE(well_formed("a 1\n"));
    EXPECT_FALSE(well_formed("# HELP a x\na 1\n"));
}

TEST(MetricsTextTest, escapesBackslashQuoteAndNewlineInLabelValuesAndHelp) {
    EXPECT_EQ(escape_label_value(R"(a\b"c)" "\nd"), R"(a\\b\"c\nd)");
    // Bytes a valid name never has (a corrupted region) cannot break the exposition's UTF-8.
    EXPECT_EQ(escape_label_value("x\x01y\xffz\r"), "x?y?z?");
    EXPECT_EQ(escape_help("one\\two\nthree \"quoted\""), "one\\\\two\\nthree \"quoted\"");

    auto q = orders();
    q.groups[0].name = "we\"ird\\group\nname";
    const std::vector<inspect::QueueSnapshot> queues{q};
    const std::string text = render(queues, {});
    EXPECT_NE(text.find("shmq_in_flight{queue=\"orders\",group=\"we\\\"ird\\\\group\\nname\"} 2\n"), std::string::npos)
        << text;
    EXPECT_TRUE(well_formed(text));
}

TEST(MetricsTextTest, formatsValuesAsTheFormatSpellsThem) {
    EXPECT_EQ(format_value(0.25), "0.25");
    EXPECT_EQ(format_value(3.0), "3");
    EXPECT_EQ(format_value(1e-7), "1e-07");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsTextTest, histogramsAreCumulativeBucketsEndingAtInfWithSumAndCount) {
    Exposition e;
    e.family("shmq_example_seconds", Type::histogram, "An example.");
    const double bounds[] = {0.001, 0.01};
    const uint64_t counts[] = {1, 2, 3};
    e.histogram("shmq_example_seconds", {{"queue", "q"}}, bounds, counts, 0.5);
    EXPECT_EQ(e.text(),
              "# HELP shmq_example_seconds An example.\n"
              "# TYPE shmq_example_seconds histogram\n"
              "shmq_example_seconds_bucket{queue=\"q\",le=\"0.001\"} 1\n"
              "shmq_example_seconds_bucket{queue=\"q\",le=\"0.01\"} 3\n"
              "shmq_example_seconds_bucket{queue=\"q\",le=\"+Inf\"} 6\n"
              "shmq_example_seconds_sum{queue=\"q\"} 0.5\n"
              "shmq_example_seconds_count{queue=\"q\"} 6\n");
    EXPECT_TRUE(well_formed(e.text()));
    const uint64_t too_few[] = {1, 2};
    EXPECT_THROW(e.histogram("shmq_example_seconds", {}, bounds, too_few, 0), std::invalid_argument);
}

TEST(MetricsTextTest, rendersAKeyedGroupsBlockedKeysAndOldestBlockedAge) {
    auto q = orders();
    inspect::GroupStats k;
    k.name = "payers";
    k.kind = GroupKind::keyed;
    k.total.blocked_keys = 3;
    k.total.oldest_blocked_age_ms = 2500;
    q.groups.push_back(k);
    const std::vector<inspect::QueueSnapshot> queues{q};
    const std::string text = render(queues, {});
    EXPECT_NE(text.find("shmq_keyed_blocked_keys{queue=\"orders\",group=\"payers\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("shmq_keyed_oldest_blocked_age_seconds{queue=\"orders\",group=\"payers\"} 2.5\n"),
              std::string::npos);
    EXPECT_EQ(text.find("shmq_keyed_blocked_keys{queue=\"orders\",group=\"billing\"}"), std::string::npos)
        << "a shared group has no keyed series";
    EXPECT_TRUE(well_formed(text));
}

TEST(MetricsTextTest, rendersEachExchangesRoutedAndUnroutableCounters) {
    const std::vector<ExchangeSample> exchanges{{"orders", 120, 3}, {"we\"ird", 0, 7}};
    const std::string text = render({}, {}, exchanges);
    const std::string tail = text.substr(text.find("# HELP shmq_exchange_routed_total"));
    EXPECT_EQ(tail,
              "# HELP shmq_exchange_routed_total Publishes through the exchange that reached at least one bound queue.\n"
              "# TYPE shmq_exchange_routed_total counter\n"
              "shmq_exchange_routed_total{exchange=\"orders\"} 120\n"
              "shmq_exchange_routed_total{exchange=\"we\\\"ird\"} 0\n"
              "# HELP shmq_exchange_unroutable_total Publishes through the exchange that no binding matched (sent to its alternate queue or not).\n"
              "# TYPE shmq_exchange_unroutable_total counter\n"
              "shmq_exchange_unroutable_total{exchange=\"orders\"} 3\n"
              "shmq_exchange_unroutable_total{exchange=\"we\\\"ird\"} 7\n");
    EXPECT_TRUE(well_formed(text));
}

}  // namespace
}  // namespace shmq::daemon::metrics
