#include "transform.hpp"

#include <algorithm>
#include <csignal>
#include <deque>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "../command.hpp"
#include "../format.hpp"
#include "coprocess.hpp"

namespace shmq::cli::transform {

namespace {

constexpr int kWaitSliceMs = 200;         // receive waits in slices, to see a stop or COMMAND's exit
constexpr Millis kSendSlice{200};         // a full OUT: send retried in slices until a stop
constexpr int kFinishWaitMs = 5000;       // at exit: how long COMMAND may take to exit after its EOF

struct Stats {
    uint64_t inputs = 0;   // committed input ACKs
    uint64_t outputs = 0;  // committed outputs
    uint64_t commits = 0;
    uint64_t aborted = 0;  // transactions aborted (lease_lost at commit, ack or send)
    uint64_t nacked = 0;   // inputs with a newline, NACKed outside the transactions

    std::string figures() const {
        return std::to_string(inputs) + " inputs, " + std::to_string(outputs) + " outputs, " +
               std::to_string(commits) + " commits, " + std::to_string(aborted) + " aborted commits, " +
               std::to_string(nacked) + " multi-line inputs NACKed";
    }
};

struct Pending {
    Message message;
    bool dropped = false;  // its batch was aborted: the reply is read and discarded
};

struct Failure {
    std::string line;
};

class Runner {
public:
    Runner(const Config& config, Coprocess& co, Consumer& consumer, Producer& producer)
        : config_(config), co_(co), consumer_(consumer), producer_(producer), tx_(consumer) {
        buf_.resize(config.batch);
    }

    void run() {
        while (!stop_requested()) {
            // The first input of a batch: wait in slices, watching COMMAND.
            BatchResult r = consumer_.receive_batch(std::span(buf_.data(), config_.batch), Millis(kWaitSliceMs));
            if (!r) {
                if (r.code() != Errc::timeout)
                    throw Failure{std::string("receiving from ") + config_.in + " failed: " + r.status.message() +
                                  "; the open transaction was aborted"};
                pump(0);
                continue;
            }
            uint32_t taken = take(r.count);
            // More while they come within idle_ms, up to --batch.
            while (taken < config_.batch && !stop_requested()) {
                pump(0);
                r = consumer_.receive_batch(std::span(buf_.data(), config_.batch - taken), Millis(config_.idle_ms));
                if (!r) {
                    if (r.code() == Errc::timeout) break;
                    throw Failure{std::string("receiving from ") + config_.in + " failed: " + r.status.message() +
                                  "; the open transaction was aborted"};
                }
                taken += take(r.count);
            }
            // Every reply of the batch, then its commit.
            while (!pending_.empty()) pump(-1);
            if (abort_on_stop_) break;
            if (tx_.acks() == 0 && tx_.sends() == 0) continue;
            const std::size_t acks = tx_.acks(), sends = tx_.sends();
            const Status st = tx_.commit();
            if (st) {
                ++stats_.commits;
                stats_.inputs += acks;
                stats_.outputs += sends;
            } else if (st.code() == Errc::lease_lost) {
                ++stats_.aborted;  // aborted: its inputs come back, COMMAND sees them again
            } else {
                throw Failure{std::string("commit failed: ") + st.message() +
                              "; the transaction was aborted (its inputs will be redelivered); see `shmq stat " +
                              config_.in + "` and `shmq stat " + config_.to + "`"};
            }
        }
    }

    void abort_open() {
        tx_.abort();
        pending_.clear();  // dropping an unsettled Message NACKs it
    }

    const Stats& stats() const { return stats_; }

private:
    // Takes buf_[0, n) into the batch: each line goes to COMMAND.
    uint32_t take(std::size_t n) {
        uint32_t kept = 0;
        for (std::size_t i = 0; i < n; ++i) {
            Message& m = buf_[i];
            const auto text = m.text();
            if (text.find('\n') != std::string_view::npos) {
                std::cerr << "shmq transform: the message at " << config_.in << " partition " << m.partition()
                          << " offset " << m.offset()
                          << " has a newline in its payload and cannot be one line; NACKed (it goes to the DLQ "
                             "after max_deliveries)\n";
                (void)m.nack();
                ++stats_.nacked;
                continue;
            }
            co_.queue_line(text);
            pending_.push_back(Pending{std::move(m), false});
            ++kept;
        }
        return kept;
    }

    // Moves bytes both ways (waiting up to timeout_ms), then settles the replies.
    void pump(int timeout_ms) {
        if (!co_.pump(timeout_ms)) throw Failure{};
        settle_replies();
    }

    void settle_replies() {
        auto& replies = co_.replies();
        while (!replies.empty()) {
            if (pending_.empty())
                throw Failure{"COMMAND wrote a line with no input line waiting for an answer (it must answer "
                              "each input line with exactly one line, empty for none); the open transaction was "
                              "aborted"};
            std::string reply = std::move(replies.front());
            replies.pop_front();
            Pending p = std::move(pending_.front());
            pending_.pop_front();
            if (p.dropped) continue;
            Status st = tx_.ack(p.message);
            if (!st) {
                if (st.code() == Errc::lease_lost) {  // it went elsewhere: the whole batch goes back
                    abort_batch();
                    continue;
                }
                throw Failure{std::string("acking an input of ") + config_.in + " in the transaction failed: " +
                              st.message() + "; the open transaction was aborted"};
            }
            if (reply.empty()) continue;  // no output for this input
            st = send(reply, p.message.key());
            if (st) continue;
            if (st.code() == Errc::lease_lost || abort_on_stop_) {  // a peer aborted it, or stopping at a full OUT
                abort_batch();
                continue;
            }
            throw Failure{std::string("sending to ") + config_.to + " failed: " + st.message() +
                          send_hint(st.code(), reply.size()) + "; the open transaction was aborted"};
        }
    }

    Status send(std::string_view reply, std::string_view key) {
        SendOptions options;
        options.key = key;
        options.timeout = kSendSlice;
        for (;;) {
            const Status st = tx_.send(producer_, reply, options);
            if (st.code() != Errc::timeout) return st;
            if (stop_requested()) {  // OUT stays full: give the batch back rather than wait on
                abort_on_stop_ = true;
                return st;
            }
        }
    }

    std::string send_hint(Errc code, std::size_t size) const {
        switch (code) {
            case Errc::message_too_large:
                return " (a " + std::to_string(size) + "-byte line; create " + config_.to +
                       " with a larger --max-message)";
            case Errc::overloaded:
                return " (" + config_.to + " is full with --on-full reject, or its spill staging is: is shmqd running, with disk room?)";
            case Errc::invalid_argument:
                return " (is another transaction using this producer?)";
            default:
                return "";
        }
    }

    // lease_lost: everything of the batch goes back, in order; the replies
    // still due are read and discarded.
    void abort_batch() {
        tx_.abort();
        ++stats_.aborted;
        for (auto& p : pending_) {
            if (p.dropped) continue;
            (void)p.message.nack();
            p.dropped = true;
        }
    }

    const Config& config_;
    Coprocess& co_;
    Consumer& consumer_;
    Producer& producer_;
    Transaction tx_;
    std::vector<Message> buf_;
    std::deque<Pending> pending_;
    Stats stats_;
    bool abort_on_stop_ = false;
};

template <class F>
auto open_or_fail(F&& f) {
    try {
        return f();
    } catch (const Error& e) {
        throw CommandError(1, e.what());
    }
}

}  // namespace

void run(const Config& config) {
    install_stop_handlers();
    std::signal(SIGPIPE, SIG_IGN);  // a closed COMMAND stdin is a write error we report
    // COMMAND first: it must not inherit the queues' descriptors (their locks say who lives).
    std::optional<Coprocess> co;
    try {
        co.emplace(config.command);
    } catch (const std::runtime_error& e) {
        throw CommandError(1, std::string("transform: ") + e.what());
    }
    Queue in = open_or_fail([&] { return Queue::open(config.in); });
    Queue out = open_or_fail([&] { return Queue::open(config.to); });
    ConsumerOptions copts;
    copts.kind = config.kind;
    copts.max_in_flight = std::max<uint32_t>(256, config.batch);
    Consumer consumer = open_or_fail([&] { return in.consumer(config.group, copts); });
    Producer producer = open_or_fail([&] { return out.producer(); });
    std::optional<Runner> runner;
    try {
        runner.emplace(config, *co, consumer, producer);
    } catch (const Error& e) {
        throw CommandError(1, std::string("transform: ") + e.what());
    }
    try {
        runner->run();
    } catch (const Failure& f) {
        runner->abort_open();
        std::string line = f.line;
        if (co->failed()) {
            // Its stdout ended or its stdin closed: give it a moment to exit and say how it ended.
            bool terminated = false;
            const std::string phrase = co->finish(1000, &terminated);
            line = "COMMAND " + (terminated ? co->failure() + " and " + phrase : phrase) + " after " +
                   std::to_string(runner->stats().inputs) + " messages; the open transaction was aborted";
        } else {
            (void)co->finish(kFinishWaitMs);
        }
        std::cerr << "shmq transform: " << printable(line) << " (" << runner->stats().figures() << ")\n";
        throw CommandError(1, "");
    }
    // Stopped: the last batch was committed (or, with OUT full, aborted); end COMMAND's input.
    const std::string phrase = co->finish(kFinishWaitMs);
    std::cerr << "shmq transform: " << runner->stats().figures() << "\n";
    if (phrase != "exited (status 0)") std::cerr << "shmq transform: COMMAND " << phrase << " at the end of its input\n";
}

}  // namespace shmq::cli::transform
