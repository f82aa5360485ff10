// The worker's record of each photo it processed: one line per message,
//   "<photo id> <deliveries> <publish_unix_ns> <sent_unix_ns> <processed_unix_ns>\n",
// appended with one write(2) per batch BEFORE the batch is ACKed. So every
// ACKed photo has its line; a SIGKILL can only leave lines of unACKed photos
// (which are redelivered: duplicates, never losses) or a torn last line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace photo_pipeline {

struct Record {
    uint64_t id = 0;
    uint32_t deliveries = 0;    // 1 on the first delivery; more after a NACK, an expiry or a dead worker
    uint64_t publish_ns = 0;    // Message::publish_unix_ns (CLOCK_REALTIME_COARSE, set by the library)
    uint64_t sent_ns = 0;       // the payload's sent= (CLOCK_REALTIME, set by the upload)
    uint64_t processed_ns = 0;  // CLOCK_REALTIME when the work was done
};

void append_record(std::string& out, const Record& r);

struct RecordFile {
    std::vector<Record> records;
    uint64_t torn = 0;       // an unterminated last line (the writer was killed mid-write)
    uint64_t malformed = 0;  // lines that do not parse: a bug
};

// Reads the file at `path`; a missing file reads as empty.
RecordFile read_records(const std::string& path);

}  // namespace photo_pipeline
