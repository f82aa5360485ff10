#include "read_records.hpp"

#include "support/record_retract.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string_view>

namespace shmq::chaos {

namespace {

template <class T>
bool num(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

RecordFiles read_record_files(const std::vector<ConsumerRun>& consumers, const std::vector<ProducerRun>& producers,
                              const MessageSpace& space, uint64_t keys, uint32_t partitions) {
    RecordFiles rf;
    auto bad = [&](uint64_t& counter, std::string what) {
        ++counter;
        add_example(rf.examples, std::move(what));
    };
    for (uint32_t f = 0; f < consumers.size(); ++f) {
        std::ifstream in(consumers[f].file, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::string_view rest = text;
        auto& out = rf.by_group[consumers[f].group];
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            if (nl == std::string_view::npos) {  // killed during its write(2): never ACKed
                ++rf.torn;
                break;
            }
            std::string_view line = rest.substr(0, nl);
            rest.remove_prefix(nl + 1);
            if (line.starts_with(test::kRetractPrefix)) {  // an ACK that lost its lease to a handoff
                if (!test::retract_record(out, f, line.substr(test::kRetractPrefix.size())))
                    bad(rf.malformed, consumers[f].file.filename().string() + ": retracts no record: '" +
                                          std::string(line.substr(0, 80)) + "'");
                continue;
            }
            std::string_view fld[6];
            bool ok = true;
            for (int i = 0; i < 6 && ok; ++i) {
                const auto sp = line.find(' ');
                if (i < 5 && sp == std::string_view::npos) ok = false;
                fld[i] = i < 5 ? line.substr(0, sp) : line;
                if (i < 5 && ok) line.remove_prefix(sp + 1);
            }
            const auto colon = fld[0].find(':');
            uint32_t producer = 0, key_n = 0;
            uint64_t seq = 0;
            Rec r{};
            ok = ok && colon != std::string_view::npos && num(fld[0].substr(0, colon), producer) &&
                 num(fld[0].substr(colon + 1), seq) && num(fld[1], r.partition) && num(fld[2], r.offset) &&
                 num(fld[3], r.deliveries) && fld[4].starts_with("key-") && num(fld[4].substr(4), key_n) &&
                 num(fld[5], r.ns);
            if (!ok) {
                bad(rf.malformed, consumers[f].file.filename().string() + ": malformed '" + std::string(line.substr(0, 80)) + "'");
                continue;
            }
            if (producer >= producers.size() || seq > producers[producer].acked ||
                (seq == producers[producer].acked && !producers[producer].in_flight)) {
                bad(rf.unexpected, "message " + std::string(fld[0]) + " was never sent");
                continue;
            }
            if (key_n != seq % keys || r.partition != partition_for_key(fld[4], partitions)) {
                bad(rf.misrouted, "message " + std::string(fld[0]) + " with key " + std::string(fld[4]) + " in partition " +
                                      std::to_string(r.partition));
                continue;
            }
            r.msg = static_cast<uint32_t>(space.base[producer] + seq);
            r.file = f;
            out.push_back(r);
        }
    }
    return rf;
}

}  // namespace shmq::chaos
