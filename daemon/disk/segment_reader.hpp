// Reading one segment file: its bytes into memory, then a scan that yields
// every valid record in file order and says where the valid data ends.
// Nothing read is trusted: every length is checked against the bytes held
// and the record limit before use, and every step of the scan moves forward,
// so any byte sequence ends the scan in at most size/8 resync steps (each at
// most one CRC over max_record_bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "partition_dir.hpp"
#include "record_codec.hpp"

namespace shmq::disk {

// The whole file (at most `max_bytes`, else an error), read through io_uring.
[[nodiscard]] bool read_whole_file(int fd, uint64_t max_bytes, std::vector<std::byte>& out, std::string& error);

// Reads segment `seg` of partition directory `dir_fd` whole into `bytes`
// (never through a symlink) and scans it, appending its valid records (whose
// spans point into `bytes`) to `records`; `scan_log` hears about bad
// stretches. False with `error` set when the file cannot be read.
[[nodiscard]] bool read_segment_records(int dir_fd, const SegmentFile& seg, std::vector<std::byte>& bytes,
                                        std::vector<RecordView>& records, const LogFn& scan_log,
                                        const std::string& label, std::string& error);

struct ScanState {
    bool have_last = false;  // offsets must rise strictly, across segments too
    uint64_t last_offset = 0;
};

struct ScanResult {
    uint64_t good_end = 0;  // file position just past the last valid record (or the header)
    uint64_t records = 0;
    uint64_t corrupt_regions = 0;  // bad stretches followed by a valid record
    bool tail_bad = false;         // bytes after good_end hold no valid record
};

// Scans records from byte sizeof(SegmentHeader) of `file`. A bad record is
// skipped by resynchronizing on the next 8-aligned record magic whose record
// validates and whose offset rises; each skip is logged as `label: ...`.
ScanResult scan_segment(std::span<const std::byte> file, std::size_t max_record_bytes, ScanState& state,
                        const std::function<void(const RecordView&)>& on_record, const LogFn& log,
                        const std::string& label);

}  // namespace shmq::disk
