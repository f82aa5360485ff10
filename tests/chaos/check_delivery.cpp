#include "check_delivery.hpp"

namespace shmq::chaos {

DeliveryResult check_delivery(const std::vector<Rec>& records, const std::vector<ProducerRun>& producers,
                              const MessageSpace& space) {
    DeliveryResult dr;
    dr.records = records.size();
    std::vector<uint16_t> count(space.size(), 0);
    std::vector<uint8_t> redelivered(space.size(), 0);
    for (const Rec& r : records) {
        if (count[r.msg] < UINT16_MAX) ++count[r.msg];
        if (r.deliveries >= 2) redelivered[r.msg] = 1;
    }
    for (std::size_t k = 0; k < producers.size(); ++k) {
        for (uint64_t seq = 0; seq <= producers[k].acked; ++seq) {
            const uint64_t m = space.base[k] + seq;
            const bool was_sent = seq < producers[k].acked;
            if (count[m] == 0) {
                if (was_sent && ++dr.lost <= 8)
                    add_example(dr.examples, "lost: " + std::to_string(k) + ":" + std::to_string(seq));
                continue;
            }
            if (was_sent) ++dr.received;
            else ++dr.in_flight_received;
            if (count[m] > 1) {
                dr.duplicates += count[m] - 1u;
                ++dr.duplicated_messages;
                if (!redelivered[m] && ++dr.unexplained <= 8)
                    add_example(dr.examples, "recorded " + std::to_string(count[m]) + " times, never redelivered: " +
                                                 std::to_string(k) + ":" + std::to_string(seq));
            }
        }
    }
    return dr;
}

}  // namespace shmq::chaos
