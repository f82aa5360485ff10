// payments checkout --queue REQUESTS --payments N --rate R --status FILE
//
// The producer: sends payment request 1..N to REQUESTS, each with
// dedup_id = "pay-<i>" (key = the account). It keeps no state: every time it
// is started (the orchestrator SIGKILLs and restarts it) it sends everything
// again from payment 1. The queue's dedup window makes that harmless: a
// resend of an id already published answers ok with SendOutcome::duplicate
// and enqueues nothing. New requests are paced at R/s (0: flat out);
// duplicates are not paced, so a restarted checkout catches up at once.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <shmq/shmq.hpp>

#include "args.hpp"
#include "payments.hpp"
#include "roles.hpp"
#include "status.hpp"

namespace payments {

namespace {
constexpr uint64_t kBurst = 20;  // new requests between two pauses of the pacing
}

int run_checkout(int argc, char** argv, int first) {
    const Args args(argc, argv, first, {"--queue", "--payments", "--rate", "--status"}, {});
    const std::string queue_name = args.required("--queue");
    const uint64_t n = args.number("--payments", 0, 1);
    const uint64_t rate = args.number("--rate", 0);
    StatusPage status(args.required("--status"), false);

    auto queue = shmq::Queue::open(queue_name);
    auto producer = queue.producer();
    status.add(&StageStatus::ready);

    uint64_t fresh = 0;
    auto next = std::chrono::steady_clock::now();
    for (uint64_t i = 1; i <= n; ++i) {
        const Payment p = payment(i);
        const std::string id = pay_id(i);
        shmq::SendOutcome out;
        const shmq::Status st =
            producer.send(encode(p), {.key = p.account, .timeout = kSendTimeout, .dedup_id = id}, out);
        if (!st)
            throw std::runtime_error(id + ": send to " + queue_name + " failed: " + st.message() +
                                     "; are the chargers running?");
        if (out.duplicate) {
            status.add(&StageStatus::duplicates);
            continue;
        }
        status.add(&StageStatus::new_sends);
        if (rate != 0 && ++fresh % kBurst == 0) {
            next = std::max(next, std::chrono::steady_clock::now() - std::chrono::milliseconds(100)) +
                   std::chrono::nanoseconds(kBurst * 1'000'000'000ull / rate);
            std::this_thread::sleep_until(next);
        }
    }
    status.set(&StageStatus::finished, 1);
    return 0;
}

}  // namespace payments
