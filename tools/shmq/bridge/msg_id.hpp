// The JetStream identity of a bridged message: Nats-Msg-Id
// `<queue>:<epoch>:<partition>:<offset>` (the epoch tells a recreated queue
// apart), and its subject `<prefix>.<queue>.p<partition>`.
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
std::string make_subject(std::string_view prefix, std::string_view queue, uint32_t partition);

}  // namespace shmq::cli::bridge
