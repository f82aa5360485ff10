// shmq::Exchange, the public face of the exchange table.
#include <gtest/gtest.h>

#include "shmq/shmq.hpp"
#include "support/temp_exchange.hpp"

namespace shmq {
namespace {

using test::TempQueue;
using test::tiny_queue;

struct RemovedAtEnd {
    std::string name;
    ~RemovedAtEnd() {
        try {
            Exchange::remove(name);
        } catch (...) {
        }
    }
};

TEST(ExchangeApiTest, bindsRoutesAndUnbinds) {
    TempQueue a("xa", tiny_queue()), b("xb", tiny_queue()), alt("xalt", tiny_queue());
    RemovedAtEnd topic_name{test::unique_queue_name("xapi")}, hdr_name{test::unique_queue_name("xapi-h")};
    auto topic = Exchange::create(topic_name.name, ExchangeType::topic, alt.name);
    auto hdr = Exchange::create(hdr_name.name, ExchangeType::headers);
    EXPECT_TRUE(Exchange::exists(topic_name.name));
    EXPECT_EQ(topic.type(), ExchangeType::topic);
    EXPECT_EQ(topic.bind(a.name, "eu.#"), 2u);
    const std::vector<MessageHeader> pdf{{"format", "pdf"}};
    EXPECT_EQ(hdr.bind_headers(b.name, HeaderMatch::any, pdf), 2u);
    EXPECT_EQ(topic.bind_exchange(hdr_name.name, "#"), 3u);
    EXPECT_THROW(hdr.bind_exchange(topic_name.name), Error);  // a cycle

    RouteInfo r;
    ASSERT_TRUE(topic.route("eu.de", pdf, r).ok());
    EXPECT_EQ(r.queues, (std::vector<std::string>{a.name, b.name}));
    EXPECT_EQ(r.version, 3u);
    ASSERT_TRUE(topic.route("us", {}, r).ok());
    EXPECT_TRUE(r.to_alternate);
    EXPECT_EQ(r.queues, (std::vector<std::string>{alt.name}));
    EXPECT_EQ(topic.route(std::string(256, 'k'), {}, r).code(), Errc::invalid_argument);

    EXPECT_EQ(topic.unbind_exchange(hdr_name.name, "#"), 4u);
    EXPECT_EQ(topic.unbind(a.name, "eu.#"), 5u);
    auto reopened = Exchange::open(topic_name.name);
    ASSERT_TRUE(reopened.route("eu.de", pdf, r).ok());
    EXPECT_TRUE(r.unroutable);
    try {
        topic.unbind(a.name, "eu.#");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
    Exchange::remove(hdr_name.name);
    EXPECT_EQ(hdr.route("", pdf, r).code(), Errc::not_found);
}

}  // namespace
}  // namespace shmq
