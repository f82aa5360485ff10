// The repair probes of `shmq bench daemon`, each on one queue of shmqd's,
// group "bench" (shared). A probe sends one message, has it delivered and
// left unACKed, and times how long until a peer consumer, waiting in
// receive, gets the same offset back:
//   kill_once:   the holder is a child process, SIGKILLed once it holds the
//                message (after 20-29 ms, so shmqd has seen it attach); the
//                time runs from kill() to the peer's receive returning.
//   expiry_once: the holder is a consumer of this process that just keeps
//                the message, and nobody waits in receive meanwhile (a
//                waiting consumer's own scan, every lease/4, would expire
//                it too); lateness = the group's `expired` counter moving
//                (polled every 100 us) - (the holder's receive call +
//                lease_ms), negative if it expired early. The peer then
//                takes it back.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "harness.hpp"

namespace shmq::cli::bench {

class Probes {
public:
    Probes();
    ~Probes();
    Probes(const Probes&) = delete;
    Probes& operator=(const Probes&) = delete;
    uint64_t kill_once(const std::string& queue);
    int64_t expiry_once(const std::string& queue, uint32_t lease_ms);

private:
    struct Ends;  // the queue, our producer and peer (and holder) there
    Ends& ends(const std::string& queue);
    Shared<ChildError> errors_;
    std::map<std::string, std::unique_ptr<Ends>> ends_;
    uint64_t sent_ = 0;
};

}  // namespace shmq::cli::bench
