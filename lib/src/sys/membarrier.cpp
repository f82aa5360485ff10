#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shmq/internal/commit_barrier.hpp"

namespace shmq::sys {

bool membarrier_register() noexcept {
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

bool membarrier_global() noexcept { return ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0; }

}  // namespace shmq::sys
