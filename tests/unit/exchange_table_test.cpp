// The exchange table (exchange_table.hpp): bind/unbind and versions, routing
// through queues and exchanges, alternates, deleted queues, cycles, the
// capacity limit, scribbled tables, and a writer killed mid-update.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/region.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using detail::Binding;
using detail::ExchangeTable;
using detail::HeaderKV;
using detail::RouteResult;
using test::TempExchange;
using test::TempQueue;
using test::tiny_queue;
using test::to_exchange;
using test::to_queue;
using xlayout::ExchangeType;

RouteResult route(ExchangeTable& x, std::string_view key, std::vector<HeaderKV> headers = {}) {
    RouteResult r;
    std::string why;
    const Errc rc = detail::route(x, key, headers, detail::default_route_env(), r, &why);
    EXPECT_EQ(rc, Errc::ok) << why;
    return r;
}

Errc expect_error(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "no error";
    return Errc::ok;
}

TEST(ExchangeTableTest, isCreatedOwnerOnlyAndOpenedWithItsTypeAndAlternate) {
    TempQueue alt("x-alt", tiny_queue());
    TempExchange x("x-create", ExchangeType::topic, alt.name);
    struct stat st {};
    ASSERT_EQ(::stat(detail::exchange_object_path(x.name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), xlayout::kExchangeBytes);
    auto again = ExchangeTable::open(x.name, false);
    EXPECT_EQ(again->type(), ExchangeType::topic);
    EXPECT_EQ(again->alternate(), alt.name);
    EXPECT_EQ(again->version_guess(), 1u);
    const auto names = ExchangeTable::list_names();
    EXPECT_NE(std::find(names.begin(), names.end(), x.name), names.end());
    std::string msg;
    EXPECT_EQ(expect_error([&] { ExchangeTable::create(x.name, ExchangeType::direct); }, &msg), Errc::already_exists);
    EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
    EXPECT_EQ(expect_error([] { ExchangeTable::open("no-such-exchange-here"); }), Errc::not_found);
    EXPECT_EQ(expect_error([] { ExchangeTable::create("bad/name", ExchangeType::direct); }), Errc::invalid_argument);
}

TEST(ExchangeTableTest, bindAndUnbindPublishNewVersions) {
    TempQueue q1("x-q1", tiny_queue()), q2("x-q2", tiny_queue());
    TempExchange x("x-bind", ExchangeType::direct);
    EXPECT_EQ(x->bind(to_queue(q1.name, "red")).version, 2u);
    EXPECT_EQ(x->bind(to_queue(q2.name, "red")).version, 3u);
    const auto again = x->bind(to_queue(q1.name, "red"));  // idempotent
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(again.version, 3u);
    detail::TableSnapshot s;
    ASSERT_EQ(x->snapshot(s), Errc::ok);
    EXPECT_EQ(s.version, 3u);
    ASSERT_EQ(s.bindings.size(), 2u);
    EXPECT_EQ(s.bindings[0], to_queue(q1.name, "red"));

    auto r = route(*x.table, "red");
    EXPECT_EQ(r.queues, (std::vector<std::string>{q1.name, q2.name}));
    EXPECT_EQ(r.matched, 2u);
    EXPECT_EQ(r.version, 3u);
    EXPECT_TRUE(route(*x.table, "blue").unroutable);

    EXPECT_EQ(x->unbind(xlayout::DestKind::queue, q1.name, "red"), 4u);
    r = route(*x.table, "red");
    EXPECT_EQ(r.queues, (std::vector<std::string>{q2.name}));
    EXPECT_EQ(r.version, 4u);
    std::string msg;
    EXPECT_EQ(expect_error([&] { x->unbind(xlayout::DestKind::queue, q1.name, "red"); }, &msg), Errc::not_found);
    EXPECT_NE(msg.find("has no binding"), std::string::npos) << msg;
    EXPECT_EQ(expect_error([&] { x->bind(to_queue("no-such-queue-here", "red")); }, &msg), Errc::not_found);
    EXPECT_NE(msg.find("shmq create no-such-queue-here"), std::string::npos) << msg;
    EXPECT_EQ(x->version_guess(), 4u);  // failed calls publish nothing
}

TEST(ExchangeTableTest, eachTypeRoutesByItsOwnRule) {
    TempQueue a("x-a", tiny_queue()), b("x-b", tiny_queue());
    TempExchange fan("x-fan", ExchangeType::fanout), topic("x-topic", ExchangeType::topic),
        hdr("x-hdr", ExchangeType::headers);
    fan->bind(to_queue(a.name));
    fan->bind(to_queue(b.name, "ignored"));
    EXPECT_EQ(route(*fan.table, "anything").queues, (std::vector<std::string>{a.name, b.name}));

    topic->bind(to_queue(a.name, "eu.*.orders"));
    topic->bind(to_queue(b.name, "#.refunds"));
    EXPECT_EQ(route(*topic.table, "eu.de.orders").queues, (std::vector<std::string>{a.name}));
    EXPECT_EQ(route(*topic.table, "refunds").queues, (std::vector<std::string>{b.name}));
    EXPECT_TRUE(route(*topic.table, "eu.orders").unroutable);

    Binding all{xlayout::DestKind::queue, a.name, "", xlayout::HeaderMatch::all, {{"format", "pdf"}, {"type", "report"}}};
    Binding any{xlayout::DestKind::queue, b.name, "", xlayout::HeaderMatch::any, {{"format", "pdf"}, {"type", "report"}}};
    hdr->bind(all);
    hdr->bind(any);
    EXPECT_EQ(route(*hdr.table, "", {{"format", "pdf"}}).queues, (std::vector<std::string>{b.name}));
    EXPECT_EQ(route(*hdr.table, "", {{"type", "report"}, {"format", "pdf"}}).queues,
              (std::vector<std::string>{a.name, b.name}));
    EXPECT_TRUE(route(*hdr.table, "", {{"format", "png"}}).unroutable);

    std::string msg;
    EXPECT_EQ(expect_error([&] { topic->bind(all); }, &msg), Errc::invalid_argument);
    EXPECT_NE(msg.find("headers exchanges only"), std::string::npos) << msg;
    EXPECT_EQ(expect_error([&] { hdr->bind(to_queue(a.name)); }, &msg), Errc::invalid_argument);
    EXPECT_NE(msg.find("--match"), std::string::npos) << msg;
    EXPECT_EQ(expect_error([&] { topic->bind(to_queue(a.name, std::string(256, 'k'))); }, &msg), Errc::invalid_argument);
    RouteResult r;
    EXPECT_EQ(detail::route(*topic.table, std::string(256, 'k'), {}, detail::default_route_env(), r), Errc::invalid_argument);
}

TEST(ExchangeTableTest, aQueueReachedByManyPathsAppearsOnce) {
    TempQueue q("x-once", tiny_queue()), other("x-other", tiny_queue());
    TempExchange x("x-src", ExchangeType::topic), y("x-mid", ExchangeType::fanout), z("x-mid2", ExchangeType::direct);
    x->bind(to_queue(q.name, "a.*"));
    x->bind(to_queue(q.name, "#"));
    x->bind(to_exchange(y.name, "a.b"));
    x->bind(to_exchange(z.name, "#"));
    y->bind(to_queue(q.name));
    y->bind(to_queue(other.name));
    y->bind(to_exchange(z.name));  // z reached twice: consulted once
    z->bind(to_queue(q.name, "a.b"));
    const auto r = route(*x.table, "a.b");
    EXPECT_EQ(r.queues, (std::vector<std::string>{q.name, other.name}));
    EXPECT_EQ(r.matched, 2u);
    EXPECT_EQ(r.version, 5u);
    ASSERT_EQ(r.tables.size(), 3u);
    EXPECT_EQ(r.tables[0], (detail::TableVersion{x.name, 5}));
    EXPECT_EQ(r.tables[1], (detail::TableVersion{y.name, 4}));
    EXPECT_EQ(r.tables[2], (detail::TableVersion{z.name, 2}));
}

TEST(ExchangeTableTest, unroutableMessagesGoToTheAlternate) {
    TempQueue q("x-q", tiny_queue()), alt("x-alt", tiny_queue());
    TempExchange x("x-with-alt", ExchangeType::direct, alt.name);
    x->bind(to_queue(q.name, "known"));
    auto r = route(*x.table, "known");
    EXPECT_FALSE(r.unroutable);
    EXPECT_FALSE(r.to_alternate);
    EXPECT_EQ(r.queues, (std::vector<std::string>{q.name}));
    r = route(*x.table, "unknown");
    EXPECT_TRUE(r.unroutable);
    EXPECT_TRUE(r.to_alternate);
    EXPECT_EQ(r.matched, 0u);
    EXPECT_EQ(r.queues, (std::vector<std::string>{alt.name}));
}

TEST(ExchangeTableTest, aDeletedQueueIsSkippedAndReported) {
    TempQueue alt("x-alt", tiny_queue());
    auto q1 = std::make_unique<TempQueue>("x-gone", tiny_queue());
    auto q2 = std::make_unique<TempQueue>("x-stays", tiny_queue());
    const std::string n1 = q1->name, n2 = q2->name;
    TempExchange x("x-del", ExchangeType::fanout, alt.name);
    x->bind(to_queue(n1));
    x->bind(to_queue(n2));
    q1.reset();  // deleted: its region is gone
    auto r = route(*x.table, "k");
    EXPECT_EQ(r.queues, (std::vector<std::string>{n2}));
    EXPECT_EQ(r.skipped, (std::vector<std::string>{n1}));
    EXPECT_FALSE(r.unroutable);
    // Marked deleted, its region still there (a peer is detaching): skipped as well.
    detail::Region::open(n2)->header().lifecycle.store(static_cast<uint32_t>(layout::Lifecycle::deleted));
    r = route(*x.table, "k");
    EXPECT_TRUE(r.unroutable);
    EXPECT_TRUE(r.to_alternate);
    EXPECT_EQ(r.queues, (std::vector<std::string>{alt.name}));
    EXPECT_EQ(r.skipped, (std::vector<std::string>{n1, n2}));
}

TEST(ExchangeTableTest, bindingsThatCloseACycleAreRefused) {
    TempQueue q("x-q", tiny_queue());
    TempExchange a("x-a", ExchangeType::fanout), b("x-b", ExchangeType::fanout), c("x-c", ExchangeType::fanout);
    a->bind(to_exchange(b.name));
    b->bind(to_exchange(c.name));
    c->bind(to_queue(q.name));
    std::string msg;
    EXPECT_EQ(expect_error([&] { c->bind(to_exchange(a.name)); }, &msg), Errc::invalid_argument);
    EXPECT_NE(msg.find("would create a cycle (" + c.name + " -> " + a.name + " -> " + b.name + " -> " + c.name + ")"),
              std::string::npos)
        << msg;
    EXPECT_EQ(expect_error([&] { a->bind(to_exchange(a.name)); }, &msg), Errc::invalid_argument);
    EXPECT_NE(msg.find("itself"), std::string::npos) << msg;
    EXPECT_EQ(c->version_guess(), 2u);
    a->bind(to_exchange(c.name));  // a diamond is no cycle
    EXPECT_EQ(route(*a.table, "k").queues, (std::vector<std::string>{q.name}));
    EXPECT_EQ(expect_error([&] { a->bind(to_exchange("no-such-exchange-here")); }), Errc::not_found);
}

TEST(ExchangeTableTest, bindBeyondTheCapacityFailsClearly) {
    TempQueue q("x-q", tiny_queue());
    TempExchange x("x-full", ExchangeType::direct);
    for (uint32_t i = 0; i < xlayout::kMaxBindings; ++i) x->bind(to_queue(q.name, "k" + std::to_string(i)));
    std::string msg;
    EXPECT_EQ(expect_error([&] { x->bind(to_queue(q.name, "one-more")); }, &msg), Errc::no_resources);
    EXPECT_NE(msg.find("already has 256 bindings"), std::string::npos) << msg;
    detail::TableSnapshot s;
    ASSERT_EQ(x->snapshot(s), Errc::ok);
    EXPECT_EQ(s.bindings.size(), xlayout::kMaxBindings);
    EXPECT_EQ(route(*x.table, "k255").queues, (std::vector<std::string>{q.name}));
    x->unbind(xlayout::DestKind::queue, q.name, "k0");
    x->bind(to_queue(q.name, "one-more"));
}

// Scribbles on the live buffer of a table: every read refuses it, none crashes.
class ScribbledTableTest : public ::testing::Test {
protected:
    TempQueue q{"x-q", tiny_queue()};
    TempExchange x{"x-scribble", ExchangeType::topic};
    void SetUp() override {
        x->bind(to_queue(q.name, "a.#"));
        x->bind(to_queue(q.name, "b.*"));
    }
    xlayout::ExchangeHeader& header() { return *reinterpret_cast<xlayout::ExchangeHeader*>(x->raw_for_tests()); }
    xlayout::TableBuffer& live() {
        return *reinterpret_cast<xlayout::TableBuffer*>(
            x->raw_for_tests() + xlayout::kBufferOffset[header().current.load() & 1]);
    }
    // Writes `value` into the live image at byte `offset` (within one word).
    template <class T>
    void poke(std::size_t offset, T value) {
        uint64_t w = live().words[offset / 8].load();
        std::memcpy(reinterpret_cast<char*>(&w) + offset % 8, &value, sizeof value);
        live().words[offset / 8].store(w);
    }
    void expect_refused(const std::string& needle) {
        detail::TableSnapshot s;
        std::string why;
        EXPECT_EQ(x->snapshot(s, &why), Errc::region_corrupt);
        EXPECT_NE(why.find(needle), std::string::npos) << why;
        RouteResult r;
        EXPECT_EQ(detail::route(*x.table, "a.b", {}, detail::default_route_env(), r, &why), Errc::region_corrupt);
        EXPECT_EQ(expect_error([&] { x->bind(to_queue(q.name, "c")); }), Errc::region_corrupt);
    }
    static constexpr std::size_t entry(std::size_t i) { return offsetof(xlayout::TableImage, bindings) + i * sizeof(xlayout::BindingEntry); }
};

TEST_F(ScribbledTableTest, aBindingCountBeyondTheTableIsRefused) {
    poke<uint32_t>(offsetof(xlayout::TableImage, binding_count), 100000);
    expect_refused("claims 100000 bindings");
}

TEST_F(ScribbledTableTest, aKeyLengthBeyondItsFieldIsRefused) {
    poke<uint16_t>(entry(1) + offsetof(xlayout::BindingEntry, key_len), 300);
    expect_refused("binding 1 is bad (key length 300)");
}

TEST_F(ScribbledTableTest, badDestinationsAndHeadersAreRefused) {
    poke<uint8_t>(entry(0) + offsetof(xlayout::BindingEntry, dest_len), 200);
    expect_refused("destination length 200");
    poke<uint8_t>(entry(0) + offsetof(xlayout::BindingEntry, dest_len), 3);
    poke<uint8_t>(entry(0) + offsetof(xlayout::BindingEntry, dest), '/');
    expect_refused("character '/'");
}

TEST_F(ScribbledTableTest, headerCountBeyondEightIsRefused) {
    poke<uint8_t>(entry(0) + offsetof(xlayout::BindingEntry, header_count), 200);
    expect_refused("header count 200");
}

TEST_F(ScribbledTableTest, aStampThatDoesNotMatchIsRefusedNotWaitedFor) {
    live().stamp.store(12345);
    expect_refused("holds stamp 12345");
}

TEST_F(ScribbledTableTest, anImpossibleVersionIsRefused) {
    header().current.store(0);
    expect_refused("current version 0");
    header().current.store(~uint64_t{0});
    expect_refused("is impossible");
}

TEST_F(ScribbledTableTest, aScribbledHeaderIsRefusedAtOpen) {
    header().type = 9;
    std::string msg;
    EXPECT_EQ(expect_error([&] { ExchangeTable::open(x.name, false); }, &msg), Errc::region_corrupt);
    EXPECT_NE(msg.find("unknown type 9"), std::string::npos) << msg;
    header().type = static_cast<uint8_t>(ExchangeType::topic);
    header().alternate_len = 200;
    EXPECT_EQ(expect_error([&] { ExchangeTable::open(x.name, false); }, &msg), Errc::region_corrupt);
    header().alternate_len = 0;
    header().magic.store(1);
    EXPECT_EQ(expect_error([&] { ExchangeTable::open(x.name, false); }, &msg), Errc::region_corrupt);
    EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;
}

TEST(ExchangeTableTest, aWriterKilledMidUpdateLeavesTheOldVersionReadable) {
    TempQueue q1("x-q1", tiny_queue()), q2("x-q2", tiny_queue());
    TempExchange x("x-crash", ExchangeType::direct);
    x->bind(to_queue(q1.name, "k"));
    x->bind(to_queue(q1.name, "j"));  // version 3 in buffer 1; the next write goes to buffer 0
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        detail::crash_hook = [](detail::CrashPoint at) {
            if (at == detail::CrashPoint::after_exchange_half_write) ::raise(SIGKILL);
        };
        auto t = ExchangeTable::open(x.name);
        t->bind(to_queue(q2.name, "k"));
        ::_exit(0);  // not reached
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    // The half-written buffer is odd and unpublished; readers use version 3.
    auto r = route(*x.table, "k");
    EXPECT_EQ(r.version, 3u);
    EXPECT_EQ(r.queues, (std::vector<std::string>{q1.name}));
    // The kernel dropped the dead writer's lock: the next bind goes through.
    EXPECT_EQ(x->bind(to_queue(q2.name, "k")).version, 4u);
    r = route(*x.table, "k");
    EXPECT_EQ(r.version, 4u);
    EXPECT_EQ(r.queues, (std::vector<std::string>{q1.name, q2.name}));
}

TEST(ExchangeTableTest, aWriterStoppedMidUpdateNeitherBlocksNorMisleadsRouters) {
    TempQueue q1("x-q1", tiny_queue()), q2("x-q2", tiny_queue());
    TempExchange x("x-stop", ExchangeType::fanout);
    x->bind(to_queue(q1.name));
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        detail::crash_hook = [](detail::CrashPoint at) {
            if (at == detail::CrashPoint::after_exchange_half_write) ::raise(SIGSTOP);
        };
        ExchangeTable::open(x.name)->bind(to_queue(q2.name));
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
    ASSERT_TRUE(WIFSTOPPED(status));
    // The writer holds the lock, its buffer half written: routers go on with version 2.
    for (int i = 0; i < 100; ++i) {
        const auto r = route(*x.table, "k");
        ASSERT_EQ(r.version, 2u);
        ASSERT_EQ(r.queues, (std::vector<std::string>{q1.name}));
    }
    // Resumed, it finishes: version 3 with both queues.
    ::kill(child, SIGCONT);
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const auto r = route(*x.table, "k");
    EXPECT_EQ(r.version, 3u);
    EXPECT_EQ(r.queues, (std::vector<std::string>{q1.name, q2.name}));
}

TEST(ExchangeTableTest, aDeletedExchangeRoutesNothing) {
    TempQueue q("x-q", tiny_queue());
    TempExchange x("x-gone", ExchangeType::fanout);
    TempExchange up("x-up", ExchangeType::fanout);
    x->bind(to_queue(q.name));
    up->bind(to_exchange(x.name));
    ExchangeTable::remove(x.name);
    EXPECT_FALSE(ExchangeTable::exists(x.name));
    RouteResult r;
    std::string why;
    EXPECT_EQ(detail::route(*x.table, "k", {}, detail::default_route_env(), r, &why), Errc::not_found);
    EXPECT_NE(why.find("was deleted"), std::string::npos) << why;
    EXPECT_EQ(expect_error([&] { x->bind(to_queue(q.name, "k")); }), Errc::not_found);
    r = route(*up.table, "k");
    EXPECT_TRUE(r.unroutable);
    EXPECT_EQ(r.skipped, (std::vector<std::string>{"exchange:" + x.name}));
    EXPECT_EQ(expect_error([&] { ExchangeTable::remove(x.name); }), Errc::not_found);
}

TEST(ExchangeTableTest, anUnfinishedExchangeIsNeverWaitedForByRouters) {
    TempQueue q("x-q", tiny_queue());
    TempExchange up("x-up", ExchangeType::fanout), down("x-unfinished", ExchangeType::fanout);
    up->bind(to_queue(q.name));
    up->bind(to_exchange(down.name));
    // As if its creator died before publishing the header.
    reinterpret_cast<xlayout::ExchangeHeader*>(down->raw_for_tests())->magic.store(0);
    EXPECT_EQ(ExchangeTable::open_if_finished(down.name), nullptr);
    const auto start = std::chrono::steady_clock::now();
    const auto r = route(*up.table, "k");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
    EXPECT_EQ(r.queues, (std::vector<std::string>{q.name}));
    EXPECT_EQ(r.skipped, (std::vector<std::string>{"exchange:" + down.name}));
    ExchangeTable::remove(down.name);  // not waited for either
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
    EXPECT_FALSE(ExchangeTable::exists(down.name));
}

TEST(RouteCacheTest, aResultIsReusedUntilATableItUsedChanges) {
    TempQueue q("x-q", tiny_queue());
    TempExchange x("x-cache", ExchangeType::topic), y("x-cache2", ExchangeType::fanout);
    x->bind(to_exchange(y.name, "a.*"));
    y->bind(to_queue(q.name));
    detail::RouteCache cache(2);
    auto version_of = [&](std::string_view name) -> uint64_t {
        if (name == x.name) return x->version_guess();
        if (name == y.name) return y->version_guess();
        return 0;
    };
    EXPECT_EQ(cache.find("a.b", {}, version_of), nullptr);
    cache.put("a.b", {}, route(*x.table, "a.b"));
    const RouteResult* hit = cache.find("a.b", {}, version_of);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(hit->queues, (std::vector<std::string>{q.name}));
    EXPECT_EQ(cache.find("a.c", {}, version_of), nullptr);
    const std::vector<HeaderKV> h{{"k", "v"}};
    EXPECT_EQ(cache.find("a.b", h, version_of), nullptr);  // headers are part of the key
    y->unbind(xlayout::DestKind::queue, q.name, "");  // a downstream table changed
    EXPECT_EQ(cache.find("a.b", {}, version_of), nullptr);
    cache.put("a.b", {}, route(*x.table, "a.b"));
    cache.put("a.c", {}, route(*x.table, "a.c"));
    cache.put("x.y", {}, route(*x.table, "x.y"));  // beyond max_entries: starts over
    EXPECT_LE(cache.size(), 2u);
}

}  // namespace
}  // namespace shmq
