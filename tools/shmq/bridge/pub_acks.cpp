#include "pub_acks.hpp"

#include "msg_id.hpp"

namespace shmq::cli::bridge {

void PubAckInbox::handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<PubAckInbox*>(closure);
    PubAnswer a;
    const char* id = nullptr;
    if (msg != nullptr && natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) a.msg_id = id;
    const char* position = nullptr;
    if (msg != nullptr && natsMsgHeader_Get(msg, kPositionHeader, &position) == NATS_OK && position != nullptr)
        a.position = position;
    if (pa != nullptr && pae == nullptr) {
        a.stored = true;
        a.stream_seq = pa->Sequence;
        a.duplicate = pa->Duplicate;
    } else if (pae != nullptr) {
        a.error = pae->ErrText != nullptr && *pae->ErrText != '\0' ? pae->ErrText : natsStatus_GetText(pae->Err);
        if (pae->ErrCode != 0) a.error += " (JetStream error " + std::to_string(static_cast<int>(pae->ErrCode)) + ")";
    } else {
        a.error = "no PubAck";
    }
    natsMsg_Destroy(msg);
    std::lock_guard lock(self->mutex_);
    self->answers_.push_back(std::move(a));
}

std::vector<PubAnswer> PubAckInbox::take() {
    std::vector<PubAnswer> out;
    std::lock_guard lock(mutex_);
    out.swap(answers_);
    return out;
}

}  // namespace shmq::cli::bridge
