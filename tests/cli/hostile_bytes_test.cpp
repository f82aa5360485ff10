// Keys, payloads and names are bytes written by any producer (or by a hostile
// region): every verb that shows them keeps the operator's terminal safe (text
// output escapes them as \xNN and \\) and its JSON valid (a byte string that is
// not UTF-8 is given as <field>_hex instead of <field>).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shmq/internal/bridge_table.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/participants.hpp"
#include "support/json_schema.hpp"
#include "support/shell.hpp"
#include "support/temp_queue.hpp"

namespace shmq {
namespace {

using test::sh;
using test::ShellRun;
using namespace std::string_literals;

// Each is a key and a payload (keys: at most 64 bytes; none holds '\n', the
// line separator of consume and peek).
const std::vector<std::string> kHostile = {
    "nul\0byte"s,
    "esc\x1b[31mred\x07"s,
    "ff\xff"s,
    "quote\"back\\slash"s,
    "bad\xc3\x28"s,          // a 2-byte sequence with a bad continuation byte
    "lone\xfe"s,
    "trunc\xe2\x82"s,        // a 3-byte sequence cut short
    "k\"\x01\xfe"s,          // the key of the report
    "caf\xc3\xa9 ok"s,       // valid UTF-8, not ASCII
    "smile\xf0\x9f\x98\x80"s,  // valid 4-byte UTF-8
    "over\xc0\xaf"s,         // an overlong '/'
    "surr\xed\xa0\x80"s,     // a UTF-16 surrogate
    "big\xf4\x90\x80\x80"s,  // past U+10FFFF
    "tab\there\x7f"s,
};

// What the tool must show for `bytes` in text: printable ASCII as is, '\' as
// "\\", any other byte as \xNN (written here independently of the tool).
std::string escaped(const std::string& bytes) {
    std::string out;
    char buf[8];
    for (unsigned char c : bytes) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::string hex(const std::string& bytes) {
    std::string out;
    char buf[4];
    for (unsigned char c : bytes) {
        std::snprintf(buf, sizeof buf, "%02x", c);
        out += buf;
    }
    return out;
}

// nlohmann-json's own verdict: it refuses to dump a string that is not UTF-8.
bool valid_utf8(const std::string& bytes) {
    try {
        (void)test::Value(bytes).dump();
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

// Text for a terminal: no control byte but '\n' (and '\r' from a pty), no DEL, no byte >= 0x80.
void expect_terminal_safe(const std::string& text, const std::string& where) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool ok = c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f);
        if (!ok) {
            ADD_FAILURE() << where << ": raw byte 0x" << hex(std::string(1, text[i])) << " at " << i << " in: "
                          << escaped(text.substr(i > 60 ? i - 60 : 0, 120));
            return;
        }
    }
}

// `object` gives `bytes` as `field` (valid UTF-8) or as `field_hex`, never both.
void expect_bytes_field(const test::Value& object, const std::string& field, const std::string& bytes) {
    if (valid_utf8(bytes)) {
        ASSERT_TRUE(object.contains(field)) << field << " for " << escaped(bytes) << " in " << object.dump();
        EXPECT_EQ(object.at(field).get<std::string>(), bytes);
        EXPECT_FALSE(object.contains(field + "_hex")) << object.dump();
    } else {
        ASSERT_TRUE(object.contains(field + "_hex")) << field << "_hex for " << escaped(bytes) << " in " << object.dump();
        EXPECT_EQ(object.at(field + "_hex").get<std::string>(), hex(bytes));
        EXPECT_FALSE(object.contains(field)) << object.dump();
    }
}

test::Value parsed(const ShellRun& r) {
    EXPECT_EQ(r.exit_code, 0) << escaped(r.err);
    try {
        return test::parse_json_text(r.out);  // strict: invalid UTF-8 or a bad escape throws
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what() << " in: " << escaped(r.out.substr(0, 400));
        return test::Value::object();
    }
}

void expect_schema(const test::Value& v, const char* schema_file) {
    const auto checker = test::SchemaChecker::from_file(std::string(SHMQ_SOURCE_DIR "/docs/schema/") + schema_file);
    for (const auto& e : checker.check(v)) ADD_FAILURE() << schema_file << ": " << e;
}

std::string joined_lines(const std::vector<std::string>& items, std::string (*show)(const std::string&)) {
    std::string out;
    for (const auto& s : items) out += show(s) + "\n";
    return out;
}

std::string as_is(const std::string& s) { return s; }

// The schemas' rule for byte strings: exactly one of <field> and <field>_hex.
TEST(HostileBytesSchemaTest, schemasWantExactlyOneOfAFieldAndItsHex) {
    const auto checker = test::SchemaChecker::from_file(SHMQ_SOURCE_DIR "/docs/schema/groups.schema.json");
    auto errors = [&](const char* text) { return checker.check(test::parse_json_text(text)).size(); };
    EXPECT_EQ(errors(R"({"queue":"q","groups":[]})"), 0u);
    EXPECT_EQ(errors(R"({"queue_hex":"ff","groups":[]})"), 0u);
    EXPECT_EQ(errors(R"({"groups":[]})"), 1u);                                // neither
    EXPECT_EQ(errors(R"({"queue":"q","queue_hex":"71","groups":[]})"), 1u);  // both
    EXPECT_EQ(errors(R"({"queue_hex":"F","groups":[]})"), 1u);                // not lowercase hex
}

// One partition, max-deliveries 1: every hostile message, keyed by itself, is
// consumed once by a NACKing `shmq consume` and so lands in the DLQ in order.
class HostileBytesTest : public ::testing::Test {
protected:
    void SetUp() override {
        QueueOptions o;
        o.partitions = 1;
        o.max_deliveries = 1;
        q_.emplace("hostile", o);
        auto p = q_->queue.producer();
        for (const auto& s : kHostile) {
            SendOptions so;
            so.key = s;
            ASSERT_TRUE(p.send(s, so)) << escaped(s);
        }
    }
    const std::string& name() const { return q_->name; }
    ShellRun consume_and_nack() {
        return sh("$SHMQ consume " + name() + " --group g --nack --count " + std::to_string(kHostile.size()) +
                  " --timeout-ms 3000");
    }
    // Renames the queue's group `from` in the region to any bytes, as a hostile writer could.
    void rename_group(const std::string& from, const std::string& to) {
        auto region = detail::Region::open(name(), detail::Access::read_write);
        const auto g = detail::find_group(*region, from);
        ASSERT_TRUE(g);
        detail::store_group_name(region->group(*g), to);
    }
    std::optional<test::TempQueue> q_;
};

// consume writes each payload's bytes as they are, one per line: it is the
// data channel (for pipes), by design; it prints no metadata of its own.
TEST_F(HostileBytesTest, consumeWritesPayloadBytesAsTheyAre) {
    const ShellRun r = consume_and_nack();
    ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
    EXPECT_EQ(r.out, joined_lines(kHostile, as_is));
    EXPECT_EQ(r.err, "");
}

// An error line quoting bytes the user or a region gave is escaped too.
TEST_F(HostileBytesTest, errorLinesEscapeTheBytesTheyQuote) {
    const ShellRun r = sh("$SHMQ consume " + name() + " --group \"$(printf 'bad\\033[31m\\007\\377')\" --count 1");
    EXPECT_NE(r.exit_code, 0);
    expect_terminal_safe(r.err, "consume's error line");
    EXPECT_NE(r.err.find("bad\\x1b[31m\\x07\\xff"), std::string::npos) << escaped(r.err);
}

TEST_F(HostileBytesTest, dlqLsEscapesKeysInItsTable) {
    ASSERT_EQ(consume_and_nack().exit_code, 0);
    const ShellRun r = sh("$SHMQ dlq ls " + name());
    ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
    expect_terminal_safe(r.out, "dlq ls");
    for (const auto& s : kHostile) EXPECT_NE(r.out.find(escaped(s)), std::string::npos) << escaped(s);
}

TEST_F(HostileBytesTest, dlqLsJsonGivesKeysThatAreNotUtf8AsHex) {
    ASSERT_EQ(consume_and_nack().exit_code, 0);
    rename_group("g", "grp\xff\x1b");  // the DLQ shows the group's current name
    const test::Value v = parsed(sh("$SHMQ dlq ls " + name() + " --json"));
    const auto& messages = v.at("messages");
    ASSERT_EQ(messages.size(), kHostile.size());
    for (std::size_t i = 0; i < kHostile.size(); ++i) {
        SCOPED_TRACE(escaped(kHostile[i]));
        EXPECT_EQ(messages.at(i).at("offset").get<uint64_t>(), i);
        expect_bytes_field(messages.at(i), "key", kHostile[i]);
        expect_bytes_field(messages.at(i), "group", "grp\xff\x1b");
    }
}

// Piped, peek writes the payloads' bytes (today's behaviour); on a terminal it
// escapes them unless --raw.
TEST_F(HostileBytesTest, dlqPeekEscapesOnATerminalUnlessRaw) {
    ASSERT_EQ(consume_and_nack().exit_code, 0);
    ShellRun r = sh("$SHMQ dlq peek " + name());
    ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
    EXPECT_EQ(r.out, joined_lines(kHostile, as_is));

    // script(1) runs the tool on a pty (which turns "\n" into "\r\n").
    r = sh("script -qec \"$SHMQ dlq peek " + name() + "\" /dev/null");
    ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
    expect_terminal_safe(r.out, "dlq peek on a terminal");
    std::string want;
    for (const auto& s : kHostile) want += escaped(s) + "\r\n";
    EXPECT_EQ(r.out, want);

    r = sh("script -qec \"$SHMQ dlq peek " + name() + " --raw\" /dev/null");
    ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
    EXPECT_NE(r.out.find("esc\x1b[31mred\x07"), std::string::npos) << escaped(r.out);
    EXPECT_NE(r.out.find("lone\xfe"), std::string::npos) << escaped(r.out);
}

// Group names are validated when a group is made, but a region can hold any bytes
// (bridge names too, which the library already reads with '?' for them).
TEST_F(HostileBytesTest, groupsAndStatShowHostileGroupAndBridgeNamesSafely) {
    const std::vector<std::string> names = {"esc\x1b]0;title\x07", "bad\xc3\x28", "caf\xc3\xa9", "back\\slash"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string made = "g" + std::to_string(i);
        ASSERT_EQ(sh("$SHMQ consume " + name() + " --group " + made + " --count 1 --timeout-ms 10 >/dev/null").exit_code, 0);
        rename_group(made, names[i]);
    }
    auto region = detail::Region::open(name(), detail::Access::read_write);
    detail::ScopedParticipant me(*region, layout::Role::admin);
    auto bridge = detail::BridgeStatus::claim(*region, me.get().token(), layout::BridgeDirection::in,
                                              layout::kNoGroup, "stream\xff\x1b[2J", "consumer\xc3\x28");
    ASSERT_TRUE(bridge);

    for (const std::string& command : {"$SHMQ groups " + name(), "$SHMQ stat " + name() + " --sample-ms 0"}) {
        const ShellRun r = sh(command);
        ASSERT_EQ(r.exit_code, 0) << escaped(r.err);
        expect_terminal_safe(r.out, command);
        for (const auto& n : names) EXPECT_NE(r.out.find(escaped(n)), std::string::npos) << command << ": " << escaped(n);
    }

    const test::Value groups = parsed(sh("$SHMQ groups " + name() + " --json"));
    expect_schema(groups, "groups.schema.json");
    const test::Value stat = parsed(sh("$SHMQ stat " + name() + " --json --sample-ms 0"));
    expect_schema(stat, "stat.schema.json");
    for (const test::Value* v : {&groups, &stat}) {
        const auto& gs = v->at("groups");
        ASSERT_EQ(gs.size(), names.size());
        for (std::size_t i = 0; i < names.size(); ++i) expect_bytes_field(gs.at(i), "name", names[i]);
    }
    // The library reads bridge names with every byte outside printable ASCII as '?'.
    ASSERT_EQ(stat.at("bridges").size(), 1u);
    expect_bytes_field(stat.at("bridges").at(0), "stream", "stream??[2J");
    expect_bytes_field(stat.at("bridges").at(0), "consumer", "consumer?(");
}

// ls shows no keys or group names; its output stays safe, valid and documented with a hostile region.
TEST_F(HostileBytesTest, lsStaysSafeAndValidWithAHostileRegion) {
    ASSERT_EQ(consume_and_nack().exit_code, 0);
    rename_group("g", "grp\xff\x1b[2J");
    const ShellRun text = sh("$SHMQ ls");
    ASSERT_EQ(text.exit_code, 0) << escaped(text.err);
    expect_terminal_safe(text.out, "ls");
    const test::Value v = parsed(sh("$SHMQ ls --json"));
    expect_schema(v, "ls.schema.json");
    bool found = false;
    for (const auto& q : v.at("queues")) found = found || (q.contains("name") && q.at("name") == name());
    EXPECT_TRUE(found) << v.dump();
}

}  // namespace
}  // namespace shmq
