// `shmq bridge` usage and setup errors, no server needed: one line naming what
// was wrong, exit 2 for bad flags and 1 for what the flags point at.
#include <gtest/gtest.h>

#include "support/shell.hpp"
#include "support/snapshot.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(BridgeCliTest, refusesBadFlagsWithExitTwo) {
    auto r = sh("$SHMQ bridge");
    EXPECT_EQ(r.exit_code, 2);
    r = sh("$SHMQ bridge out q --group g --nats nats://127.0.0.1:1 --stream S --subject-prefix 'a b'");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "shmq: --subject-prefix 'a b' is not a NATS subject prefix (tokens separated by '.', no "
                     "spaces, '*' or '>')\n");
    r = sh("$SHMQ bridge out q --group g --nats 'nats://127.0.0.1:1,' --stream S");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("has an empty URL"), std::string::npos) << r.err;
    r = sh("$SHMQ bridge in q --nats nats://127.0.0.1:1 --stream S --durable a.b");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "shmq: --durable 'a.b' may not contain '.', ' ', '*' or '>'\n");
}

TEST(BridgeCliTest, namesAMissingQueueOrAnUnreachableServerAndLeavesNoGroup) {
    auto r = sh("$SHMQ bridge out no-such-queue-bridge --group g --nats nats://127.0.0.1:1 --stream S");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("no queue named 'no-such-queue-bridge'"), std::string::npos) << r.err;

    test::TempQueue q("bridge-cli");
    r = sh("$SHMQ bridge out " + q.name + " --group g --nats nats://127.0.0.1:1 --stream S");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("cannot connect to NATS at nats://127.0.0.1:1 (is nats-server running there? check --nats)"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(test::snapshot_of(q.name).groups.empty()) << "a bridge that never reached NATS joined its group";
    r = sh("$SHMQ bridge in " + q.name + " --nats nats://127.0.0.1:1 --stream S --durable d");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST(BridgeCliTest, refusesASharedGroup) {
    test::TempQueue q("bridge-shared");
    { auto c = q->consumer("workers", {.kind = GroupKind::shared}); }
    const auto r = sh("$SHMQ bridge out " + q.name + " --group workers --nats nats://127.0.0.1:1 --stream S");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "shmq: group 'workers' of queue '" + q.name +
                         "' is shared; bridge out keeps partition order only as an exclusive group: use another "
                         "--group\n");
}

}  // namespace
}  // namespace shmq
