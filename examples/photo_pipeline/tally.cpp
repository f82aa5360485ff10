#include "tally.hpp"

#include <algorithm>

#include "pipeline.hpp"
#include "records.hpp"

namespace photo_pipeline {

GroupResult tally_group(const std::string& dir, std::string_view group, uint32_t workers, const Expected& expected,
                        const std::vector<DeadLetter>* dlq) {
    GroupResult g;
    g.name = std::string(group);
    g.workers = workers;
    std::vector<uint32_t> seen(expected.photos + 1, 0);
    std::vector<const Record*> first(expected.photos + 1, nullptr);  // the earliest record of each photo
    std::vector<bool> corrupt(expected.photos + 1, false);
    for (uint64_t id : expected.corrupt) corrupt[id] = true;

    std::vector<RecordFile> files;
    files.reserve(workers);  // `first` points into them
    for (uint32_t i = 0; i < workers; ++i) {
        const RecordFile& f = files.emplace_back(read_records(worker_file(dir, group, i, ".records")));
        g.torn += f.torn;
        g.malformed += f.malformed;
        for (const Record& r : f.records) {
            if (r.id == 0 || r.id > expected.photos) {
                ++g.malformed;
                continue;
            }
            if (corrupt[r.id]) {
                ++g.corrupt_processed;
                continue;
            }
            if (seen[r.id]++ != 0) ++g.duplicates;
            if (r.deliveries > 1) {
                ++g.redelivered;
                if (g.first_redelivery_ns == 0 || r.processed_ns < g.first_redelivery_ns)
                    g.first_redelivery_ns = r.processed_ns;
            }
            if (!first[r.id] || r.processed_ns < first[r.id]->processed_ns) first[r.id] = &r;
        }
    }

    auto since = [](uint64_t start, uint64_t end) { return end > start ? end - start : 0; };
    std::vector<uint64_t> e2e_sent, e2e_publish;
    e2e_sent.reserve(expected.photos);
    e2e_publish.reserve(expected.photos);
    for (uint64_t id = 1; id <= expected.photos; ++id) {
        if (corrupt[id]) continue;
        if (seen[id] == 0) {
            ++g.missing;
            if (g.missing_examples.size() < 5) g.missing_examples.push_back(id);
            continue;
        }
        ++g.processed;
        e2e_sent.push_back(since(first[id]->sent_ns, first[id]->processed_ns));
        e2e_publish.push_back(since(first[id]->publish_ns, first[id]->processed_ns));
    }
    g.e2e_sent = percentiles(std::move(e2e_sent));
    g.e2e_publish = percentiles(std::move(e2e_publish));

    for (uint64_t id : expected.corrupt) {
        const std::string key = std::to_string(id);
        const bool found = dlq && std::any_of(dlq->begin(), dlq->end(), [&](const DeadLetter& l) {
                               return l.key == key && l.group == group;
                           });
        ++(found ? g.dead_lettered : g.not_dead_lettered);
    }
    return g;
}

}  // namespace photo_pipeline
