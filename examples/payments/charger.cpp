// payments charger --prefix P --dir D --index I
//
// A competing consumer of P.requests (group "chargers"). For each request of
// a batch of up to kChargeBatch:
//   1. the effect, in ONE SQLite transaction (Ledger::charge): insert the
//      request's dedup id (Message::dedup_id(), "pay-<i>") into the inbox;
//      already there -> change nothing; else add the charge to the balance;
//   2. into the batch's shmq::Transaction: send "charged pay-<i> ..." to
//      P.charged (key = account) and ack the request.
// Then commit the shmq transaction: the events appear and the requests are
// ACKed together, or (SIGKILL, lease_lost) neither: the requests come back,
// to this charger's successor or its peer, the events are discarded.
//
// A charger killed after step 1 of a request and before its commit leaves
// the charge in SQLite and the request in the queue: the next delivery finds
// the id in the inbox (no second charge) and sends the event again, in a new
// transaction; the killed one's output was never visible. So every request is
// charged once and has exactly one "charged" event.
#include <array>
#include <span>
#include <stdexcept>
#include <string>

#include <shmq/shmq.hpp>

#include "args.hpp"
#include "ledger.hpp"
#include "payments.hpp"
#include "roles.hpp"
#include "status.hpp"
#include "stop_flag.hpp"

namespace payments {

int run_charger(int argc, char** argv, int first) {
    const Args args(argc, argv, first, {"--prefix", "--dir", "--index"}, {});
    const QueueNames names = queue_names(args.required("--prefix"));
    const std::string dir = args.required("--dir");
    const auto index = static_cast<uint32_t>(args.number("--index", 0, 0, 1000));
    stop_on_sigterm();

    StatusPage status(status_file(dir, "charger", index), false);
    Ledger ledger(ledger_file(dir));
    auto requests = shmq::Queue::open(names.requests);
    auto charged = shmq::Queue::open(names.charged);
    auto consumer = requests.consumer(kChargerGroup, {.kind = shmq::GroupKind::shared, .max_in_flight = kChargeBatch});
    auto producer = charged.producer();
    shmq::Transaction tx(consumer);
    status.add(&StageStatus::ready);

    std::array<shmq::Message, kChargeBatch> batch;
    while (!stopping()) {
        const shmq::BatchResult got = consumer.receive_batch(batch, shmq::Millis(50));
        if (!got.ok()) {
            if (got.code() == shmq::Errc::timeout) continue;
            if (got.code() == shmq::Errc::queue_deleted) break;
            throw std::runtime_error("receive from " + names.requests + " failed: " + got.status.message());
        }
        status.set(&StageStatus::phase, Phase::holding);
        bool lost = false;
        for (auto& m : std::span(batch).first(got.count)) {
            // Copy what we use, then check the lease: the bytes were intact iff it is still held.
            const std::string text(m.text());
            const std::string id(m.dedup_id());
            if (!m.lease_held()) {
                lost = true;
                break;
            }
            const auto p = decode(text);
            if (!p || id != pay_id(p->id))
                throw std::runtime_error("malformed request '" + text + "' (dedup id '" + id + "') in " +
                                         names.requests);
            if (ledger.charge(id, p->account, p->cents) == Ledger::Outcome::charged)
                status.add(&StageStatus::applied);
            else
                status.add(&StageStatus::already);
            status.set(&StageStatus::phase, Phase::charged);
            if (auto st = tx.send(producer, encode(*p, "charged"), {.key = p->account, .timeout = kSendTimeout}); !st) {
                if (st.code() != shmq::Errc::lease_lost)
                    throw std::runtime_error("transactional send to " + names.charged + " failed: " + st.message());
                lost = true;
                break;
            }
            if (auto st = tx.ack(m); !st) {
                if (st.code() != shmq::Errc::lease_lost)
                    throw std::runtime_error(std::string("transactional ack of ") + id + " failed: " + st.message());
                lost = true;
                break;
            }
        }
        shmq::Status st = shmq::Errc::lease_lost;
        if (lost) {  // a lease went elsewhere: give the whole batch back; the inbox makes the retry harmless
            tx.abort();
        } else {
            status.set(&StageStatus::phase, Phase::committing);
            st = tx.commit();  // lease_lost: aborted, the inputs come back
        }
        if (st) {
            status.add(&StageStatus::commits);
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
