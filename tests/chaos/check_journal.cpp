#include "check_journal.hpp"

#include <algorithm>
#include <string_view>

#include "partition_dir.hpp"
#include "recovery.hpp"

namespace shmq::chaos {

JournalResult check_journal(const std::string& journal_root, const std::string& queue, uint32_t partitions,
                            const std::vector<std::vector<Rec>>& by_group, const MessageSpace& space) {
    JournalResult jc;
    auto bad = [&](uint64_t& counter, std::string what) {
        ++counter;
        add_example(jc.examples, std::move(what));
    };
    for (uint32_t p = 0; p < partitions; ++p) {
        std::vector<std::pair<uint64_t, uint32_t>> delivered;  // (offset, msg), sorted, unique
        for (auto& g : by_group)
            for (const Rec& r : g)
                if (r.partition == p) delivered.push_back({r.offset, r.msg});
        std::sort(delivered.begin(), delivered.end());
        delivered.erase(std::unique(delivered.begin(), delivered.end()), delivered.end());
        std::string error;
        disk::DirFd dir = disk::open_partition_dir(journal_root, queue, p, false, error);
        if (!dir.valid()) {
            bad(jc.unreadable, "journal of partition " + std::to_string(p) + ": " + error);
            continue;
        }
        disk::RecoveryOptions ro;
        ro.partition = p;
        ro.repair = false;
        std::vector<uint64_t> offsets;
        const auto report = disk::recover_partition(dir.get(), ro, [&](const disk::RecordView& rv) {
            ++jc.records;
            if (!offsets.empty() && rv.offset <= offsets.back())
                bad(jc.out_of_order, "journal p" + std::to_string(p) + ": offset " + std::to_string(rv.offset) +
                                         " after " + std::to_string(offsets.back()));
            offsets.push_back(rv.offset);
            const std::string_view text(reinterpret_cast<const char*>(rv.payload.data()), rv.payload.size());
            const auto it = std::lower_bound(delivered.begin(), delivered.end(), std::make_pair(rv.offset, uint32_t{0}));
            const bool match = it != delivered.end() && it->first == rv.offset && space.name_of(it->second) == text;
            if (!match)
                bad(jc.mismatched, "journal p" + std::to_string(p) + " offset " + std::to_string(rv.offset) + " holds '" +
                                       std::string(text.substr(0, 40)) + "', consumers got " +
                                       (it != delivered.end() && it->first == rv.offset ? space.name_of(it->second)
                                                                                         : "nothing"));
        });
        jc.corrupt += report.corrupt;
        if (report.corrupt)
            bad(jc.unreadable, "journal p" + std::to_string(p) + ": " + std::to_string(report.corrupt) + " corrupt regions");
        if (offsets.empty()) {
            if (!delivered.empty()) bad(jc.behind, "journal p" + std::to_string(p) + " is empty");
            continue;
        }
        std::sort(offsets.begin(), offsets.end());
        for (auto& [o, m] : delivered)
            if (o >= offsets.front() && o <= offsets.back() && !std::binary_search(offsets.begin(), offsets.end(), o))
                bad(jc.missing, "journal p" + std::to_string(p) + " lacks offset " + std::to_string(o) + " (" +
                                    space.name_of(m) + ")");
        if (!delivered.empty() && delivered.back().first > offsets.back())
            bad(jc.behind, "journal p" + std::to_string(p) + " ends at offset " + std::to_string(offsets.back()) +
                               ", consumers got up to " + std::to_string(delivered.back().first));
    }
    return jc;
}

}  // namespace shmq::chaos
