#include "spill_reader.hpp"

#include <unistd.h>

#include "segment_reader.hpp"

namespace shmq::daemon {

void SpillReader::forget() {
    loaded_ = false;
    bytes_.clear();
    records_.clear();
    index_ = 0;
}

bool SpillReader::load(const disk::SegmentFile& seg, bool complete) {
    forget();
    // An incomplete segment may end in a write still in flight: not
    // corruption, so its scan is quiet (records past durable are ignored).
    const disk::LogFn quiet = [](const std::string&) {};
    std::string error;
    if (!disk::read_segment_records(dir_fd_, seg, bytes_, records_, complete ? log_ : quiet, label_ + "/" + seg.name,
                                    error)) {
        log_(label_ + ": cannot read spill segment " + seg.name + ": " + error);
        records_.clear();
        return false;
    }
    if (debug_)
        debug_(label_ + ": loaded " + seg.name + (complete ? " (complete)" : " (being written)") + ", " +
               std::to_string(records_.size()) + " records" +
               (records_.empty() ? "" : " " + std::to_string(records_.front().offset) + ".." + std::to_string(records_.back().offset)));
    loaded_ = true;
    loaded_complete_ = complete;
    loaded_first_ = seg.first_offset;
    loaded_end_ = records_.empty() ? seg.first_offset : records_.back().offset + 1;
    return true;
}

const disk::RecordView* SpillReader::peek(uint64_t from, uint64_t durable_end, uint64_t current_segment) {
    for (int step = 0; step < 4; ++step) {  // bounded: each step loads one file
        while (loaded_ && index_ < records_.size() && records_[index_].offset < from) ++index_;
        if (loaded_ && index_ < records_.size())
            return records_[index_].offset < durable_end ? &records_[index_] : nullptr;
        // Nothing (more) in memory. Every record below `from` is in the ring.
        const auto segments = disk::list_segments(dir_fd_, log_);
        for (std::size_t i = 0; i + 1 < segments.size(); ++i)  // wholly below `from`: done with
            if (segments[i + 1].first_offset <= from && segments[i].first_offset != current_segment &&
                ::unlinkat(dir_fd_, segments[i].name.c_str(), 0) == 0) {
                ++removed_;
                if (debug_) debug_(label_ + ": removed " + segments[i].name + ", refilled up to " + std::to_string(from));
            }
        std::size_t t = 0;  // the last segment starting at or below `from`, else the first
        while (t + 1 < segments.size() && segments[t + 1].first_offset <= from) ++t;
        if (segments.empty()) return nullptr;
        if (loaded_ && segments[t].first_offset == loaded_first_) {  // exhausted
            if (!loaded_complete_) {
                if (segments[t].first_offset == current_segment && loaded_end_ >= durable_end) return nullptr;
                // it grew, or was sealed since: read it again below
            } else {
                if (t + 1 >= segments.size()) return nullptr;
                if (::unlinkat(dir_fd_, segments[t].name.c_str(), 0) == 0) {
                    ++removed_;
                    if (debug_) debug_(label_ + ": removed " + segments[t].name + " (read whole), refilled up to " + std::to_string(from));
                }
                ++t;
            }
        }
        // Complete: no longer appended to, and every record below the next
        // segment's first offset is durable (its last write has finished).
        const uint64_t next_first = t + 1 < segments.size() ? segments[t + 1].first_offset : UINT64_MAX;
        const bool complete = segments[t].first_offset != current_segment && durable_end >= next_first;
        if (!load(segments[t], complete)) return nullptr;
    }
    return nullptr;
}

}  // namespace shmq::daemon
