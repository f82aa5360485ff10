// Handles and fork(): a child inherits the parent's mappings, participant
// entries and the descriptors through which the parent holds its OFD
// liveness locks (lib/src/participants.cpp). Two rules:
//   1. A handle made before a fork is dead in the child: every use raises
//      UsedAfterFork, and its destructor leaks the C++ object instead of
//      running library code (which would detach the parent's entries).
//   2. In the child, at fork time, every descriptor naming a queue region
//      (/dev/shm/shmq.*) is pointed at /dev/null, so the child does not keep
//      the parent's locks held and the parent, once dead, looks dead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

namespace shmq::python {

// Installs the pthread_atfork child handler (rule 2); idempotent.
void install_fork_guard();

// Bumped in every fork's child.
uint64_t fork_generation() noexcept;

// Where a handle was made.
struct ForkStamp {
    uint64_t generation = fork_generation();
    pid_t pid = current_pid();

    bool same_process() const noexcept { return generation == fork_generation(); }
    // Raises UsedAfterFork naming `handle` when used in a forked child.
    void check(const char* handle) const;

    static pid_t current_pid() noexcept;
};

// Destroys `p`'s object, or leaks it in a forked child (rule 1).
template <class T>
void dispose(std::unique_ptr<T>& p, const ForkStamp& stamp) noexcept {
    if (!stamp.same_process()) (void)p.release();
    p.reset();
}

}  // namespace shmq::python
