// Points of the producer's publish, and of a revocation round, where tests
// stop (then SIGKILL) a process, to check what the reaper and the peers make
// of what it left half done (tests/crash/). The hook is null outside those tests: one predicted
// branch on a process-local word.
#pragma once

namespace shmq::detail {

enum class CrashPoint {
    after_claim_word,  // exclusive writer: claim word(s) stored, tail not yet
    after_copy,        // payload and header written, state not yet published
    after_revocation_begin,  // fast_ack.hpp S5 and the barrier done, no lease CASed yet
    after_dedup_reserve,     // dedup.hpp: the id's entry is pending for us, no slot claimed yet
    after_dedup_publish,     // dedup.hpp: the message is published, its entry still claimed
    after_tx_prepare,        // tx_protocol.hpp: outputs prepared, inputs frozen, before the commit point
    after_tx_commit_point,   // tx_protocol.hpp (T3) done: nothing acked or committed yet
    after_tx_inputs,         // the inputs acked, the outputs still prepared
    after_exchange_half_write,  // exchange_table.hpp W3: half of the next version's words written
};

inline void (*crash_hook)(CrashPoint) = nullptr;

inline void crash_point(CrashPoint at) noexcept {
    if (__builtin_expect(crash_hook != nullptr, 0)) crash_hook(at);
}

}  // namespace shmq::detail
