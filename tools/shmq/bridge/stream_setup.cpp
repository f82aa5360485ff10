#include "stream_setup.hpp"

#include "../command.hpp"
#include "nats_session.hpp"

namespace shmq::cli::bridge {

namespace {

void check_compatible(const jsStreamConfig& cfg, const StreamSpec& spec) {
    const std::string wanted = spec.prefix + ".>";
    bool covers = false;
    std::string listed;
    for (int i = 0; i < cfg.SubjectsLen && cfg.Subjects != nullptr; ++i) {
        const std::string subject = cfg.Subjects[i] != nullptr ? cfg.Subjects[i] : "";
        if (subject == wanted || subject == ">") covers = true;
        listed += (listed.empty() ? "" : ", ") + subject;
    }
    const std::string where = "stream '" + spec.name + "' exists";
    if (!covers)
        throw CommandError(1, where + " with subjects [" + listed + "], which do not include '" + wanted +
                                  "'; use another --stream, or --subject-prefix to match it");
    if (cfg.Storage != js_FileStorage)
        throw CommandError(1, where + " with memory storage; the bridge ACKs local messages once stored, so it "
                                      "needs file storage: use another --stream");
    if (cfg.Duplicates <= 0)
        throw CommandError(1, where + " without a duplicate window; the bridge needs one to deduplicate "
                                      "re-sent messages: set one (nats stream edit --dupe-window) or use another --stream");
}

}  // namespace

void ensure_stream(jsCtx* js, const StreamSpec& spec) {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, js, spec.name.c_str(), nullptr, &code);
    if (s == NATS_OK) {
        try {
            check_compatible(*info->Config, spec);
        } catch (...) {
            jsStreamInfo_Destroy(info);
            throw;
        }
        jsStreamInfo_Destroy(info);
        return;
    }
    if (s != NATS_NOT_FOUND && code != JSStreamNotFoundErr)
        throw CommandError(1, nats_error("cannot look up stream '" + spec.name + "' (is JetStream enabled and the "
                                         "cluster up?)", s, code));
    const std::string subject = spec.prefix + ".>";
    const char* subjects[] = {subject.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = spec.name.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = spec.replicas;
    cfg.Duplicates = spec.duplicate_window_ms * 1000000;  // nanoseconds
    code = static_cast<jsErrCode>(0);
    s = js_AddStream(&info, js, &cfg, nullptr, &code);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(info);
        return;
    }
    if (code == JSStreamNameExistErr) return ensure_stream(js, spec);  // created meanwhile by a peer
    throw CommandError(1, nats_error("cannot create stream '" + spec.name + "' for subjects '" + subject +
                                         "' with " + std::to_string(spec.replicas) + " replica(s)", s, code));
}

}  // namespace shmq::cli::bridge
