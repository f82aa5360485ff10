// Points of the producer's publish where tests stop (then SIGKILL) a
// process, to check what the reaper makes of what it left half done
// (tests/crash/). The hook is null outside those tests: one predicted
// branch on a process-local word.
#pragma once

namespace shmq::detail {

enum class CrashPoint {
    after_claim_word,  // exclusive writer: claim word(s) stored, tail not yet
    after_copy,        // payload and header written, state not yet published
};

inline void (*crash_hook)(CrashPoint) = nullptr;

inline void crash_point(CrashPoint at) noexcept {
    if (__builtin_expect(crash_hook != nullptr, 0)) crash_hook(at);
}

}  // namespace shmq::detail
