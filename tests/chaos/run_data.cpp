#include "run_data.hpp"

#include <algorithm>

namespace shmq::chaos {

MessageSpace message_space(const std::vector<ProducerRun>& producers) {
    MessageSpace s;
    s.base.assign(producers.size() + 1, 0);
    for (std::size_t k = 0; k < producers.size(); ++k) s.base[k + 1] = s.base[k] + producers[k].acked + 1;
    return s;
}

std::string MessageSpace::name_of(uint32_t msg) const {
    const auto k = static_cast<std::size_t>(std::upper_bound(base.begin(), base.end(), msg) - base.begin() - 1);
    return std::to_string(k) + ":" + std::to_string(msg - base[k]);
}

}  // namespace shmq::chaos
