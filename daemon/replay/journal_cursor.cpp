#include "journal_cursor.hpp"

#include "segment_reader.hpp"

namespace shmq::daemon {

// The newest segment may end in a write still in flight: not corruption,
// so its scan is quiet (a replay reads only offsets written before it began).
bool JournalCursor::load(const disk::SegmentFile& seg, bool newest) {
    loaded_ = false;
    bytes_.clear();
    records_.clear();
    index_ = 0;
    std::string error;
    if (!disk::read_segment_records(dir_fd_, seg, bytes_, records_,
                                    newest ? disk::LogFn([](const std::string&) {}) : log_, label_ + "/" + seg.name,
                                    error)) {
        log_(label_ + ": cannot read journal segment " + seg.name + ": " + error);
        records_.clear();
        return false;
    }
    loaded_ = true;
    loaded_first_ = seg.first_offset;
    return true;
}

const disk::RecordView* JournalCursor::peek(uint64_t from) {
    while (loaded_ && index_ < records_.size() && records_[index_].offset < from) ++index_;
    if (loaded_ && index_ < records_.size()) return &records_[index_];
    const auto segments = disk::list_segments(dir_fd_, log_);
    // The last segment starting at or below `from` (else the first), and
    // past the one loaded: each segment is read once per pass.
    std::size_t t = 0;
    while (t + 1 < segments.size() && segments[t + 1].first_offset <= from) ++t;
    for (; t < segments.size(); ++t) {
        if (loaded_ && segments[t].first_offset <= loaded_first_ && index_ >= records_.size()) continue;
        if (!load(segments[t], t + 1 == segments.size())) continue;  // unreadable: said; its records count as gaps
        while (index_ < records_.size() && records_[index_].offset < from) ++index_;
        if (index_ < records_.size()) return &records_[index_];
    }
    return nullptr;
}

std::optional<uint64_t> JournalCursor::first_at_or_after(uint64_t unix_ns, uint64_t below) {
    const auto segments = disk::list_segments(dir_fd_, log_);
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto& seg = segments[i];
        // A record is written after it is published: a file last written
        // before `unix_ns` holds nothing published at or after it.
        if (seg.mtime_unix_ns >= 0 && static_cast<uint64_t>(seg.mtime_unix_ns) < unix_ns) continue;
        if (seg.first_offset >= below) break;
        if (!load(seg, i + 1 == segments.size())) continue;
        for (const auto& r : records_) {
            if (r.offset >= below) return std::nullopt;
            if (r.publish_unix_ns >= unix_ns) return r.offset;
        }
    }
    return std::nullopt;
}

std::optional<uint64_t> JournalCursor::first_offset() {
    const auto segments = disk::list_segments(dir_fd_, log_);
    if (segments.empty()) return std::nullopt;
    return segments.front().first_offset;
}

}  // namespace shmq::daemon
