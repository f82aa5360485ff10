// A message's routing key and headers (layout.hpp, "Attribute block"), as a
// consumer in another process sees them: through direct, topic and headers
// exchanges, the all-or-nothing path into several queues and the alternate
// queue; a plain send has none; the block counts against max_message; a
// malformed block written into a slot is reported, never read out of bounds.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include "shmq/internal/attributes.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/shmq.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using test::TempExchange;
using test::TempQueue;
using xlayout::ExchangeType;
using Lines = std::vector<std::string>;

QueueOptions roomy_queue() {
    QueueOptions o;
    o.capacity = 16;
    o.max_message = 2048;  // eight headers of 32 + 64 bytes and a 255-byte routing key fit
    o.max_participants = 8;
    return o;
}

// One line per message: routing key | key=value;... | payload [| malformed].
// Also checks header(k) finds each header's first value.
std::string describe(const Message& m) {
    std::string s = std::string(m.routing_key()) + "|";
    for (std::size_t i = 0; i < m.header_count(); ++i) {
        const auto [k, v] = m.header_at(i);
        s += std::string(k) + "=" + std::string(v) + ";";
        const auto found = m.header(k);
        if (!found) s += "(header() misses it)";
    }
    if (m.header_at(m.header_count()) != std::pair<std::string_view, std::string_view>{}) s += "(header_at beyond)";
    s += "|" + std::string(m.text());
    if (m.attributes_malformed()) s += "|malformed";
    return s;
}

// Receives `n` messages of `queue` in a child process (group "check") and
// returns what it saw, one describe() line each.
Lines consume_in_child(const std::string& queue, std::size_t n) {
    int fds[2];
    if (::pipe(fds) != 0) return {"pipe failed"};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        int rc = 0;
        try {
            auto q = Queue::open(queue);
            auto c = q.consumer("check");
            for (std::size_t i = 0; i < n; ++i) {
                auto m = c.receive(Millis(5000));
                if (!m) {
                    rc = 2;
                    break;
                }
                const std::string line = describe(*m) + "\n";
                if (::write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) rc = 3;
                (void)m->ack();
            }
        } catch (...) {
            rc = 4;
        }
        ::_exit(rc);
    }
    ::close(fds[1]);
    std::string all;
    char buf[4096];
    for (ssize_t got; (got = ::read(fds[0], buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(got));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "consumer of " << queue << " exited " << status;
    Lines out;
    for (std::size_t at = 0, nl; (nl = all.find('\n', at)) != std::string::npos; at = nl + 1)
        out.push_back(all.substr(at, nl - at));
    return out;
}

// Eight headers at their limits (keys of 1..32 bytes, values of 0..64).
std::vector<MessageHeader> eight_headers(const std::string& tag) {
    std::vector<MessageHeader> h;
    for (int i = 0; i < 8; ++i)
        h.push_back({i == 7 ? std::string(32, 'k') : "h" + std::to_string(i) + tag,
                     i == 0 ? std::string() : i == 7 ? std::string(64, 'v') : "value-" + std::to_string(i)});
    return h;
}

std::string line_of(const std::string& rk, const std::vector<MessageHeader>& headers, const std::string& payload) {
    std::string s = rk + "|";
    for (const auto& h : headers) s += h.key + "=" + h.value + ";";
    return s + "|" + payload;
}

TEST(PublishAttributesTest, aConsumerProcessSeesThemThroughDirectTopicAndHeadersExchanges) {
    TempQueue qd("attr-d", roomy_queue()), qt("attr-t", roomy_queue()), qh("attr-h", roomy_queue());
    TempExchange d("attr-xd", ExchangeType::direct), t("attr-xt", ExchangeType::topic),
        h("attr-xh", ExchangeType::headers);
    d->bind(test::to_queue(qd.name, "red"));
    t->bind(test::to_queue(qt.name, "eu.*"));
    detail::Binding hb = test::to_queue(qh.name);
    hb.match = xlayout::HeaderMatch::all;
    hb.headers = {{"format", "pdf"}};
    h->bind(hb);
    const auto eight = eight_headers("");
    const std::vector<MessageHeader> pdf{{"format", "pdf"}, {"lang", "en"}}, none{};
    const std::string long_key = "eu." + std::string(252, 'x');  // 255 bytes
    auto pd = Publisher::open(d.name), pt = Publisher::open(t.name), ph = Publisher::open(h.name);
    // The second publish of each pair reuses the first's cached plan (and block).
    ASSERT_TRUE(pd.publish("d1", {.routing_key = "red", .headers = eight}).ok());
    ASSERT_TRUE(pd.publish("d2", {.routing_key = "red", .headers = eight}).ok());
    ASSERT_TRUE(pd.publish("d3", {.routing_key = "red", .key = "k"}).ok());
    ASSERT_TRUE(pt.publish("t1", {.routing_key = "eu.de", .headers = pdf}).ok());
    ASSERT_TRUE(pt.publish("t2", {.routing_key = long_key, .headers = eight}).ok());
    ASSERT_TRUE(ph.publish("h1", {.headers = pdf}).ok());
    ASSERT_TRUE(ph.publish("h2", {.routing_key = "ignored.by.headers", .headers = pdf}).ok());
    EXPECT_EQ(consume_in_child(qd.name, 3),
              (Lines{line_of("red", eight, "d1"), line_of("red", eight, "d2"), line_of("red", none, "d3")}));
    EXPECT_EQ(consume_in_child(qt.name, 2), (Lines{line_of("eu.de", pdf, "t1"), line_of(long_key, eight, "t2")}));
    EXPECT_EQ(consume_in_child(qh.name, 2), (Lines{line_of("", pdf, "h1"), line_of("ignored.by.headers", pdf, "h2")}));
}

TEST(PublishAttributesTest, theAllOrNothingPathAndTheAlternateQueueCarryThem) {
    TempQueue a("attr-a", roomy_queue()), b("attr-b", roomy_queue()), alt("attr-alt", roomy_queue());
    TempExchange x("attr-xm", ExchangeType::topic, alt.name);
    x->bind(test::to_queue(a.name, "a.*"));
    x->bind(test::to_queue(b.name, "#"));
    auto pub = Publisher::open(x.name);
    const auto eight = eight_headers("m");
    PublishOutcome out;
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("both", 4)), {.routing_key = "a.b", .key = "k", .headers = eight}, out).ok());
    EXPECT_EQ(out.queues, 2u) << "through publish_atomically";
    ASSERT_TRUE(pub.publish("both2", {.routing_key = "a.c"}).ok());
    x->unbind(xlayout::DestKind::queue, b.name, "#");
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span("alt", 3)), {.routing_key = "z", .headers = eight}, out).ok());
    EXPECT_TRUE(out.to_alternate);
    const Lines both{line_of("a.b", eight, "both"), line_of("a.c", {}, "both2")};
    EXPECT_EQ(consume_in_child(a.name, 2), both);
    EXPECT_EQ(consume_in_child(b.name, 2), both);
    EXPECT_EQ(consume_in_child(alt.name, 1), (Lines{line_of("z", eight, "alt")}));
}

TEST(PublishAttributesTest, aPlainSendHasNoneAndTheBlockCountsAgainstMaxMessage) {
    QueueOptions o = roomy_queue();
    o.max_message = 16;
    TempQueue q("attr-size", o);
    TempExchange x("attr-xs", ExchangeType::direct);
    x->bind(test::to_queue(q.name, "red"));
    auto p = q->producer();
    ASSERT_TRUE(p.send(std::string(16, 'p')).ok());
    auto pub = Publisher::open(x.name);
    // "red" takes an 8-byte block: 8 bytes of payload fit, 9 do not.
    EXPECT_EQ(pub.publish(std::string(9, 'x'), {.routing_key = "red"}).code(), Errc::message_too_large);
    ASSERT_TRUE(pub.publish(std::string(8, 'y'), {.routing_key = "red"}).ok());
    EXPECT_EQ(consume_in_child(q.name, 2), (Lines{"||" + std::string(16, 'p'), "red||" + std::string(8, 'y')}));
}

// A hostile writer sets kSlotAttributes over bytes that are no block (or a
// block whose lengths run past it): the consumer shows no attributes, says
// attributes_malformed, gives the stored bytes as data, reads nothing past them.
TEST(PublishAttributesTest, aMalformedBlockIsReportedNotRead) {
    QueueOptions o = roomy_queue();
    o.max_message = 64;
    TempQueue q("attr-bad", o);
    auto p = q->producer();
    attrs::Block good;
    const std::vector<MessageHeader> one{{"k", "v"}};
    ASSERT_TRUE(attrs::encode("rk", one, good));
    ASSERT_EQ(good.size, 16u);
    using Patch = std::function<void(std::byte*)>;
    auto u16 = [](std::byte* b, uint16_t v) { std::memcpy(b, &v, 2); };
    const std::vector<std::pair<std::string, Patch>> cases{
        {"block_len past payload_len", [&](std::byte* b) { u16(b, 0xfff8); }},
        {"block_len not a multiple of 8", [&](std::byte* b) { u16(b, 12); }},
        {"routing key past the block", [](std::byte* b) { b[2] = std::byte{200}; }},
        {"nine headers", [](std::byte* b) { b[3] = std::byte{9}; }},
        {"a header key of 0 bytes", [](std::byte* b) { b[6] = std::byte{0}; }},
        {"a header value past the block", [](std::byte* b) { b[7] = std::byte{60}; }},
        {"fields ending before the padding", [&](std::byte* b) { u16(b, 24); }},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        std::string stored(reinterpret_cast<const char*>(good.bytes.data()), good.size);
        stored += "payload-payload!";  // 16 bytes: a 24-byte block_len still lies within
        ASSERT_TRUE(p.send(stored).ok());
    }
    {
        auto r = detail::Region::open(q.name, detail::Access::read_write);
        for (uint64_t i = 0; i < cases.size(); ++i) {
            cases[i].second(r->slot_payload(0, i));
            r->slot(0, i).flags |= layout::kSlotAttributes;
        }
    }
    auto c = q->consumer("g");
    for (const auto& cs : cases) {
        auto m = c.receive(Millis(1000));
        ASSERT_TRUE(m.ok()) << cs.first;
        EXPECT_TRUE(m->attributes_malformed()) << cs.first;
        EXPECT_EQ(m->routing_key(), "") << cs.first;
        EXPECT_EQ(m->header_count(), 0u) << cs.first;
        EXPECT_FALSE(m->header("k")) << cs.first;
        EXPECT_EQ(m->data().size(), good.size + 16u) << cs.first << ": the stored bytes, as they are";
        EXPECT_TRUE(m->ack().ok());
    }
}

// parse() over every cut and random bytes, each in a buffer of exactly that
// size (ASan sees any read past it): never reads outside, accepts only what
// encode() makes.
TEST(PublishAttributesTest, parseStaysWithinTheBytesItIsGiven) {
    attrs::Block good;
    ASSERT_TRUE(attrs::encode("a.b", eight_headers("p"), good));
    for (std::size_t n = 0; n <= good.size; ++n) {
        std::vector<std::byte> cut(good.bytes.begin(), good.bytes.begin() + static_cast<std::ptrdiff_t>(n));
        attrs::View v;
        EXPECT_EQ(attrs::parse(cut, v), n == good.size) << n;
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::byte> junk(rng() % 1100);
        for (auto& b : junk) b = static_cast<std::byte>(rng());
        if (junk.size() >= 4 && i % 2 == 0) {  // plausible lengths, so the walk goes deep
            const auto len = static_cast<uint16_t>((rng() % (junk.size() / 8 + 1)) * 8);
            std::memcpy(junk.data(), &len, 2);
            junk[3] = static_cast<std::byte>(rng() % 10);
        }
        attrs::View v;
        if (!attrs::parse(junk, v)) continue;
        std::string_view k, val;
        for (std::size_t h = 0; h < v.header_count; ++h) EXPECT_TRUE(attrs::header_at(v, h, k, val));
        EXPECT_LE(v.block_len, junk.size());
    }
}

}  // namespace
}  // namespace shmq
