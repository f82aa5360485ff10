// shmq_test_worker: a producer or consumer process for the multi-process tests.
//
//   shmq_test_worker produce QUEUE --id K --count N [--keys M] [--timeout-ms MS] [--shared]
//       Sends N messages with payload "K:i" (i = 0..N-1); with --keys M, key
//       "key-(i % M)". --timeout-ms bounds each send's wait for room (default:
//       wait forever).
//   shmq_test_worker consume QUEUE --group G --kind shared|exclusive --out FILE
//                    [--count N] [--idle-ms MS] [--batch B] [--nack-first]
//                    [--ack-delay-ms MS] [--lossy] [--hold-us US]
//       Receives messages; for each ACKed one appends the line
//       "payload partition offset deliveries key received_ns\n" to FILE ("-" for
//       an empty key; received_ns: CLOCK_MONOTONIC when it was received). The lines of a batch reach the file with one write(2) BEFORE the
//       batch is ACKed, so a SIGKILL never loses the record of an ACKed
//       message. A batch is up to B messages (default 64): one receive that may
//       wait, then polls (0 ms). Exits after N ACKed messages, or when nothing
//       arrived for --idle-ms (default 2000). --nack-first NACKs (delay 0) every
//       message on its first delivery and records only the later ACK.
//       --ack-delay-ms sleeps between writing a batch's records and ACKing it
//       (a slow consumer; a crash test kills it while it holds a batch).
//       --lossy (on_full=drop_oldest): a message whose lease is gone once its
//       text was copied is not recorded (the copy may be torn), and an ACK
//       answered lease_lost is not an error (the message was dropped after
//       it was recorded intact).
//       --hold-us (keyed groups): holds each batch unACKed for a random 0..US
//       microseconds, then appends " acking_ns" (CLOCK_MONOTONIC after the
//       hold, before the ACKs) to each of its records.
//       In an exclusive group an ACK answered lease_lost is not an error
//       either: the partition was handed over meanwhile and its new owner
//       receives the message again (DESIGN.md promise 3). The record is then
//       taken back with a line "retract partition offset\n", written after
//       the batch's ACKs (read_records drops the record it names).
//   shmq_test_worker hold QUEUE --group G --out FILE --control FILE
//                    [--hold-every K] [--expect N] [--max-in-flight M]
//       A slow exclusive member (the handoff tests): receives and ACKs at
//       once, except messages "P:i" with i % K == 1 (default K 5), which it
//       holds unACKed while it keeps polling (10 ms receives). Writes
//       "recv partition offset seq deliveries" per delivery and
//       "ready N" once it has received N messages in all (--expect). Runs
//       the commands it finds in the control file (the test renames a new
//       one into place; each is run once, in order of its first word):
//         "ack P"   ACK what it holds of partition P ("ack P O ok|lease_lost")
//         "leave"   drop the Consumer, keep the held messages ("left")
//         "exit"    ACK nothing more, exit 0
//       and writes "did COMMAND" after each.
//
// Exit status: 0 on success (nothing printed), 2 with one line on stderr on any
// error (bad usage, queue errors, I/O errors).
#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <random>
#include <thread>
#include <vector>

#include "shmq/shmq.hpp"
#include "support/record_retract.hpp"
#include "support/worker_failure.hpp"

namespace {

using shmq::test::worker::fail;
using shmq::test::worker::Failure;
using shmq::test::worker::kExitError;
using shmq::test::worker::parse_u64;

// Flags of one subcommand: "--name value" pairs and bare switches.
class Args {
public:
    Args(int argc, char** argv, int first, std::vector<std::string_view> valued,
         std::vector<std::string_view> switches) {
        for (int i = first; i < argc; ++i) {
            std::string_view a = argv[i];
            if (a.starts_with("--")) {
                if (contains(switches, a)) {
                    switches_.emplace_back(a);
                    continue;
                }
                if (!contains(valued, a)) fail("unknown option '" + std::string(a) + "'");
                if (i + 1 >= argc) fail("option " + std::string(a) + " needs a value");
                values_.emplace_back(a, argv[++i]);
                continue;
            }
            positionals_.emplace_back(a);
        }
    }
    std::optional<std::string_view> get(std::string_view flag) const {
        std::optional<std::string_view> found;
        for (auto& [f, v] : values_)
            if (f == flag) found = v;  // the last one wins
        return found;
    }
    std::string_view required(std::string_view flag) const {
        auto v = get(flag);
        if (!v) fail("missing required option " + std::string(flag));
        return *v;
    }
    uint64_t number(std::string_view flag, uint64_t fallback) const {
        auto v = get(flag);
        return v ? parse_u64(flag, *v) : fallback;
    }
    bool has(std::string_view sw) const { return contains(switches_, sw); }
    const std::vector<std::string_view>& positionals() const { return positionals_; }

private:
    static bool contains(const std::vector<std::string_view>& v, std::string_view s) {
        for (auto x : v)
            if (x == s) return true;
        return false;
    }
    std::vector<std::pair<std::string_view, std::string_view>> values_;
    std::vector<std::string_view> switches_;
    std::vector<std::string_view> positionals_;
};

std::string_view queue_name(const Args& args) {
    if (args.positionals().size() != 1) fail("expected exactly one QUEUE argument");
    return args.positionals()[0];
}

int produce(int argc, char** argv) {
    Args args(argc, argv, 2, {"--id", "--count", "--keys", "--timeout-ms"}, {"--shared"});
    const std::string_view name = queue_name(args);
    const uint64_t id = parse_u64("--id", args.required("--id"));
    const uint64_t count = parse_u64("--count", args.required("--count"));
    const uint64_t keys = args.number("--keys", 0);
    const auto timeout_ms = args.get("--timeout-ms");
    shmq::SendOptions options;
    if (timeout_ms) options.timeout = shmq::Millis(static_cast<int64_t>(parse_u64("--timeout-ms", *timeout_ms)));

    shmq::Queue queue = shmq::Queue::open(name);
    // --shared: WriterMode::shared (never the writer role: every claim reads the slot's words).
    shmq::Producer producer =
        queue.producer({.writer = args.has("--shared") ? shmq::WriterMode::shared : shmq::WriterMode::automatic});
    char payload[48];
    char key[32];
    for (uint64_t i = 0; i < count; ++i) {
        const int n = std::snprintf(payload, sizeof payload, "%llu:%llu", static_cast<unsigned long long>(id),
                                    static_cast<unsigned long long>(i));
        if (keys != 0) {
            const int k = std::snprintf(key, sizeof key, "key-%llu", static_cast<unsigned long long>(i % keys));
            options.key = std::string_view(key, static_cast<std::size_t>(k));
        }
        const shmq::Status st = producer.send(std::string_view(payload, static_cast<std::size_t>(n)), options);
        if (!st)
            fail("produce " + std::string(name) + ": send of message " + std::to_string(i) + " of " +
                 std::to_string(count) + " failed: " + st.message());
    }
    return 0;
}

void write_all(int fd, const std::string& data, const std::string& path) {
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("consume: write to " + path + " failed: " + std::strerror(errno));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

template <class T>
void append_number(std::string& out, T v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;  // 24 chars hold any 64-bit value
    out.append(buf, end);
}

int consume(int argc, char** argv) {
    Args args(argc, argv, 2,
              {"--group", "--kind", "--out", "--count", "--idle-ms", "--batch", "--ack-delay-ms", "--hold-us"},
              {"--nack-first", "--lossy"});
    const std::string_view name = queue_name(args);
    const std::string_view group = args.required("--group");
    const std::string_view kind = args.required("--kind");
    const std::string out_path(args.required("--out"));
    const uint64_t count = args.number("--count", 0);  // 0: until idle
    const uint64_t idle_ms = args.number("--idle-ms", 2000);
    const uint64_t batch_max = args.number("--batch", 64);
    const bool nack_first = args.has("--nack-first");
    const bool lossy = args.has("--lossy");
    const uint64_t ack_delay_ms = args.number("--ack-delay-ms", 0);
    const uint64_t hold_us = args.number("--hold-us", 0);
    std::minstd_rand rng(static_cast<uint32_t>(::getpid()));
    if (batch_max == 0 || batch_max > 100000) fail("--batch must be 1..100000");

    shmq::ConsumerOptions options;
    if (kind == "shared")
        options.kind = shmq::GroupKind::shared;
    else if (kind == "exclusive")
        options.kind = shmq::GroupKind::exclusive;
    else if (kind == "keyed")
        options.kind = shmq::GroupKind::keyed;
    else
        fail("--kind must be shared, exclusive or keyed, got '" + std::string(kind) + "'");
    options.max_in_flight = static_cast<uint32_t>(std::max<uint64_t>(options.max_in_flight, batch_max));

    const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) fail("consume: cannot open " + out_path + ": " + std::strerror(errno));

    shmq::Queue queue = shmq::Queue::open(name);
    shmq::Consumer consumer = queue.consumer(group, options);

    std::vector<shmq::Message> batch;
    batch.reserve(batch_max);
    std::string lines;
    lines.reserve(batch_max * 64);
    uint64_t done = 0;
    auto describe = [](const shmq::Message& m) {
        return "partition " + std::to_string(m.partition()) + " offset " + std::to_string(m.offset());
    };
    // Records an ACK-bound message, or NACKs a first delivery (--nack-first).
    auto take = [&](shmq::Message m) {
        if (nack_first && m.deliveries() == 1) {
            if (auto st = m.nack(); !st) fail("consume: nack of " + describe(m) + " failed: " + st.message());
            return;
        }
        const std::size_t line_start = lines.size();
        lines.append(m.text());
        if (lossy && !m.lease_held()) {  // dropped while we copied it: the copy may be torn
            lines.resize(line_start);
            return;
        }
        lines.push_back(' ');
        append_number(lines, m.partition());
        lines.push_back(' ');
        append_number(lines, m.offset());
        lines.push_back(' ');
        append_number(lines, m.deliveries());
        lines.push_back(' ');
        if (m.key().empty())
            lines.push_back('-');
        else
            lines.append(m.key());
        lines.push_back(' ');
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);  // when it was received, for redelivery-latency figures
        append_number(lines, static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec));
        lines.push_back(hold_us == 0 ? '\n' : '\x1e');  // --hold-us: ended once the hold is over
        batch.push_back(std::move(m));
    };
    auto wanted = [&] { return count == 0 || done + batch.size() < count; };

    while (count == 0 || done < count) {
        auto first = consumer.receive(shmq::Millis(static_cast<int64_t>(idle_ms)));
        if (!first) {
            if (first.code() == shmq::Errc::timeout) break;  // idle: done
            fail("consume " + std::string(name) + ": receive failed: " + to_string(first.code()));
        }
        take(std::move(first).value());
        while (batch.size() < batch_max && wanted()) {
            auto more = consumer.receive(shmq::Millis(0));
            if (!more) {
                if (more.code() == shmq::Errc::timeout) break;
                fail("consume " + std::string(name) + ": receive failed: " + to_string(more.code()));
            }
            take(std::move(more).value());
        }
        if (batch.empty()) continue;     // only NACKs this round
        if (hold_us != 0) {  // each record ends with '\x1e' until the hold is over
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % (hold_us + 1)));
            timespec now{};
            ::clock_gettime(CLOCK_MONOTONIC, &now);
            std::string stamp = " ";
            append_number(stamp, static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec));
            stamp.push_back('\n');
            std::string held;
            held.swap(lines);
            for (char c : held) {
                if (c == '\x1e') lines.append(stamp);
                else lines.push_back(c);
            }
        }
        write_all(fd, lines, out_path);  // the records first ...
        if (ack_delay_ms != 0) std::this_thread::sleep_for(std::chrono::milliseconds(ack_delay_ms));
        lines.clear();
        uint64_t acked = 0;
        for (auto& m : batch) {  // ... then the ACKs
            const auto st = m.ack();
            if (st.ok() || (lossy && st.code() == shmq::Errc::lease_lost)) {
                ++acked;
                continue;
            }
            if (options.kind != shmq::GroupKind::exclusive || st.code() != shmq::Errc::lease_lost)
                fail("consume: ack of " + describe(m) + " failed: " + st.message());
            lines.append(shmq::test::kRetractPrefix);  // handed over: its new owner records it
            append_number(lines, m.partition());
            lines.push_back(' ');
            append_number(lines, m.offset());
            lines.push_back('\n');
        }
        if (!lines.empty()) write_all(fd, lines, out_path);
        done += acked;
        batch.clear();
        lines.clear();
    }
    if (::close(fd) != 0) fail("consume: closing " + out_path + " failed: " + std::strerror(errno));
    return 0;
}

int hold(int argc, char** argv) {
    Args args(argc, argv, 2, {"--group", "--out", "--control", "--hold-every", "--expect", "--max-in-flight"}, {});
    const std::string_view name = queue_name(args);
    const std::string out_path(args.required("--out"));
    const std::string control_path(args.required("--control"));
    const uint64_t hold_every = args.number("--hold-every", 5);
    const uint64_t expect = args.number("--expect", 0);
    shmq::ConsumerOptions options;
    options.kind = shmq::GroupKind::exclusive;
    options.max_in_flight = static_cast<uint32_t>(args.number("--max-in-flight", 4096));
    if (hold_every == 0) fail("--hold-every must be at least 1");

    const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) fail("hold: cannot open " + out_path + ": " + std::strerror(errno));
    auto say = [&](std::string line) {
        line.push_back('\n');
        write_all(fd, line, out_path);
    };
    shmq::Queue queue = shmq::Queue::open(name);
    std::optional<shmq::Consumer> consumer = queue.consumer(args.required("--group"), options);
    std::vector<shmq::Message> held;
    uint64_t received = 0;
    std::string done_commands;  // each command runs once
    for (;;) {
        if (consumer) {
            auto m = consumer->receive(shmq::Millis(10));
            if (!m && m.code() != shmq::Errc::timeout) fail("hold: receive failed: " + std::string(to_string(m.code())));
            if (m) {
                const std::string_view text = m->text();
                const auto colon = text.find(':');
                const uint64_t seq = parse_u64("payload", colon == std::string_view::npos ? text : text.substr(colon + 1));
                say("recv " + std::to_string(m->partition()) + " " + std::to_string(m->offset()) + " " +
                    std::to_string(seq) + " " + std::to_string(m->deliveries()));
                if (seq % hold_every == 1) {
                    held.push_back(std::move(m).value());
                } else if (auto st = m->ack(); !st) {
                    fail("hold: ack of offset " + std::to_string(m->offset()) + " failed: " + st.message());
                }
                if (++received == expect) say("ready " + std::to_string(received));
                continue;
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::string command;
        if (FILE* f = std::fopen(control_path.c_str(), "r")) {
            char buf[64] = {};
            if (std::fgets(buf, sizeof buf, f) != nullptr) command = buf;
            std::fclose(f);
        }
        while (!command.empty() && (command.back() == '\n' || command.back() == ' ')) command.pop_back();
        if (command.empty() || done_commands.find("|" + command + "|") != std::string::npos) continue;
        done_commands += "|" + command + "|";
        if (command == "exit") break;
        if (command == "leave") {
            consumer.reset();
        } else if (command.starts_with("ack ")) {
            const uint64_t p = parse_u64("ack partition", std::string_view(command).substr(4));
            for (auto& m : held) {
                if (m.partition() != p) continue;
                const auto st = m.ack();
                say("ack " + std::to_string(m.partition()) + " " + std::to_string(m.offset()) + " " +
                    (st.ok() ? "ok" : st.code() == shmq::Errc::lease_lost ? "lease_lost" : "failed"));
            }
            std::erase_if(held, [&](const shmq::Message& m) { return m.partition() == p; });
        } else {
            fail("hold: unknown command '" + command + "'");
        }
        say("did " + command);
    }
    for (auto& m : held) (void)m.ack();  // exit: settle quietly (the test no longer looks)
    if (::close(fd) != 0) fail("hold: closing " + out_path + " failed: " + std::strerror(errno));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view cmd = argc > 1 ? std::string_view(argv[1]) : std::string_view();
    try {
        if (cmd == "produce") return produce(argc, argv);
        if (cmd == "consume") return consume(argc, argv);
        if (cmd == "hold") return hold(argc, argv);
        fail("usage: shmq_test_worker produce|consume|hold QUEUE ... (see tests/support/worker.cpp)");
    } catch (const Failure& f) {
        std::fprintf(stderr, "shmq_test_worker: %s\n", f.message.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shmq_test_worker %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(), e.what());
    }
    return kExitError;
}
