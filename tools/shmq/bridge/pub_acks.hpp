// PubAcks of asynchronous publishes, handed from libnats' thread to the
// bridge's loop: the handler copies what the loop needs (the message id and
// position header, the stream sequence or the error) and frees the message.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace shmq::cli::bridge {

struct PubAnswer {
    std::string msg_id;   // Nats-Msg-Id of the published message
    std::string position; // its Shmq-Position header (messages published with their dedup id); empty: none
    bool stored = false;
    uint64_t stream_seq = 0;
    bool duplicate = false;
    std::string error;    // when !stored: one line
};

class PubAckInbox {
public:
    // The jsPubAckHandler libnats calls (closure: this inbox).
    static void handler(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
    std::vector<PubAnswer> take();

private:
    std::mutex mutex_;
    std::vector<PubAnswer> answers_;
};

}  // namespace shmq::cli::bridge
