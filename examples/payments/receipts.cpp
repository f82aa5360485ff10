// payments receipts --prefix P --dir D --index I
//
// A competing consumer of P.charged (group "receipts"): turns each
// "charged pay-<i> ..." event into "receipt pay-<i> ..." on P.receipts, in
// one shmq::Transaction per batch of up to kReceiptBatch events (the
// receipts and the ACKs of the events they came from happen together). No
// effect outside shmq, so no inbox: the transaction alone makes each event
// yield exactly one receipt, whenever this process is SIGKILLed.
#include <array>
#include <span>
#include <stdexcept>
#include <string>

#include <shmq/shmq.hpp>

#include "args.hpp"
#include "payments.hpp"
#include "roles.hpp"
#include "status.hpp"
#include "stop_flag.hpp"

namespace payments {

int run_receipts(int argc, char** argv, int first) {
    const Args args(argc, argv, first, {"--prefix", "--dir", "--index"}, {});
    const QueueNames names = queue_names(args.required("--prefix"));
    const std::string dir = args.required("--dir");
    const auto index = static_cast<uint32_t>(args.number("--index", 0, 0, 1000));
    stop_on_sigterm();

    StatusPage status(status_file(dir, "receipts", index), false);
    auto charged = shmq::Queue::open(names.charged);
    auto receipts = shmq::Queue::open(names.receipts);
    auto consumer = charged.consumer(kReceiptGroup, {.kind = shmq::GroupKind::shared, .max_in_flight = kReceiptBatch});
    auto producer = receipts.producer();
    shmq::Transaction tx(consumer);
    status.add(&StageStatus::ready);

    std::array<shmq::Message, kReceiptBatch> batch;
    while (!stopping()) {
        const shmq::BatchResult got = consumer.receive_batch(batch, shmq::Millis(50));
        if (!got.ok()) {
            if (got.code() == shmq::Errc::timeout) continue;
            if (got.code() == shmq::Errc::queue_deleted) break;
            throw std::runtime_error("receive from " + names.charged + " failed: " + got.status.message());
        }
        status.set(&StageStatus::phase, Phase::holding);
        bool lost = false;
        for (auto& m : std::span(batch).first(got.count)) {
            const std::string text(m.text());
            if (!m.lease_held()) {
                lost = true;
                break;
            }
            const auto p = decode(text, "charged");
            if (!p) throw std::runtime_error("malformed event '" + text + "' in " + names.charged);
            if (auto st = tx.send(producer, encode(*p, "receipt"), {.key = p->account, .timeout = kSendTimeout}); !st) {
                if (st.code() != shmq::Errc::lease_lost)
                    throw std::runtime_error("transactional send to " + names.receipts + " failed: " + st.message());
                lost = true;
                break;
            }
            if (auto st = tx.ack(m); !st) {
                if (st.code() != shmq::Errc::lease_lost)
                    throw std::runtime_error("transactional ack failed: " + std::string(st.message()));
                lost = true;
                break;
            }
        }
        const std::size_t sent = tx.sends();
        shmq::Status st = shmq::Errc::lease_lost;
        if (lost) {  // a lease went elsewhere: give the whole batch back
            tx.abort();
        } else {
            status.set(&StageStatus::phase, Phase::committing);
            st = tx.commit();  // lease_lost: aborted, the inputs come back
        }
        if (st) {
            status.add(&StageStatus::commits);
            status.add(&StageStatus::applied, sent);
        } else if (st.code() == shmq::Errc::lease_lost) {
            status.add(&StageStatus::lease_lost);
        } else {
            throw std::runtime_error(std::string("commit failed: ") + st.message());
        }
        status.set(&StageStatus::phase, Phase::idle);
    }
    return 0;
}

}  // namespace payments
