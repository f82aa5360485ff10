// The JetStream identity of a bridged message: Nats-Msg-Id
// `<queue>:<epoch>:<partition>:<offset>` (the epoch tells a recreated queue
// apart), and its subject `<prefix>.<queue>.p<partition>`.
//
// A message sent with a dedup id (Message::dedup_id()) is published with that
// id instead, so JetStream deduplicates what the queue deduplicated, and with
// header Shmq-Position carrying the position id above (its PubAck is matched
// back through it). The id goes into the header:
//   verbatim        when every byte is printable ASCII other than space
//                   (0x21..0x7e), it does not start with `hex:` and does
//                   not end with `#redrive-<digits>`;
//   `hex:<hex>`     otherwise: lowercase hex of its bytes (binary ids, e.g.
//                   dedup_content's 16-byte hashes, and ids that would read
//                   as one of these forms);
// and a redriven copy (`shmq dlq redrive` re-published it n > 0 times) gets
// `#redrive-<n>` appended, so JetStream stores each redrive once. Distinct
// (id, n) pairs always give distinct Nats-Msg-Ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmq::cli::bridge {

struct MsgRef {
    uint32_t partition = 0;
    uint64_t offset = 0;
};

std::string make_msg_id(std::string_view queue, uint64_t epoch, uint32_t partition, uint64_t offset);
// The partition and offset of an id we made for `queue` and `epoch`; nullopt
// for anything else (ids come back from the network: untrusted).
std::optional<MsgRef> parse_msg_id(std::string_view id, std::string_view queue, uint64_t epoch);
// Header of a message published with its dedup id: its position id (make_msg_id).
inline constexpr const char* kPositionHeader = "Shmq-Position";

// The Nats-Msg-Id of a message with dedup id `dedup_id` (non-empty),
// redriven `redrives` times.
std::string make_dedup_msg_id(std::string_view dedup_id, uint32_t redrives);

// `bridge in`: the dedup id a message with Nats-Msg-Id `msg_id` (non-empty,
// untrusted) is sent with. A `hex:` id exactly as make_dedup_msg_id writes
// it (lowercase, of bytes that are not written verbatim, no suffix) is
// decoded, so an id crosses out and back in unchanged; any other id of up
// to kMaxDedupIdBytes is used as it is; a longer one, and any id starting
// with `fnv128:`, becomes `fnv128:<32 hex digits>` (FNV-1a 128 of its bytes,
// dedup::content_id with an empty key), so distinct ids stay distinct
// barring a hash collision.
std::string dedup_id_from_msg_id(std::string_view msg_id);

std::string make_subject(std::string_view prefix, std::string_view queue, uint32_t partition);

}  // namespace shmq::cli::bridge
