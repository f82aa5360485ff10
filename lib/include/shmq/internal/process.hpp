// Process identity and liveness: pid + start time (never a bare pid), the pid
// namespace, and OFD locks that the kernel drops when their holder dies.
#pragma once

#include <cstdint>
#include <optional>
#include <sys/types.h>

namespace shmq::sys {

// Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22);
// nullopt when the process does not exist or /proc cannot tell.
std::optional<uint64_t> process_start_ticks(pid_t pid) noexcept;
// Inode of this process's pid namespace (/proc/self/ns/pid), 0 if unknown;
// cached per process (a forked child asks again).
uint64_t pid_namespace_inode() noexcept;

enum class PidCheck { alive, dead, unknown };
// Judges (pid, start_ticks) recorded by a participant: dead when the pid is
// gone or now belongs to another process (pid reuse). `unknown` when the pid
// lives in another pid namespace than ours (pid_ns differs): we do not guess.
PidCheck check_pid(pid_t pid, uint64_t start_ticks, uint64_t pid_ns) noexcept;

// OFD (open file description) byte locks: held per open file, released by the
// kernel when the last descriptor of that description closes, i.e. at death.
// try_lock_byte: true when we now hold an exclusive lock on `byte`.
bool try_lock_byte(int fd, uint64_t byte) noexcept;
void unlock_byte(int fd, uint64_t byte) noexcept;
// True when some other open file description holds a lock on `byte`.
bool byte_is_locked_by_other(int fd, uint64_t byte) noexcept;

}  // namespace shmq::sys
