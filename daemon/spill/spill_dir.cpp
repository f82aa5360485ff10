#include "spill_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "partition_dir.hpp"

namespace shmq::daemon {

bool remove_spill_dir(const std::string& spill_root, const std::string& dir_name, uint32_t partitions) {
    const int root = ::open(spill_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) return false;
    const int qdir = ::openat(root, dir_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (uint32_t p = 0; qdir >= 0 && p < partitions; ++p) {
        const std::string pname = "p" + std::to_string(p);
        const int pdir = ::openat(qdir, pname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pdir < 0) continue;
        for (const auto& seg : disk::list_segments(pdir, {})) ::unlinkat(pdir, seg.name.c_str(), 0);
        ::close(pdir);
        ::unlinkat(qdir, pname.c_str(), AT_REMOVEDIR);
    }
    if (qdir >= 0) ::close(qdir);
    const bool removed = ::unlinkat(root, dir_name.c_str(), AT_REMOVEDIR) == 0;
    ::close(root);
    return removed;
}

}  // namespace shmq::daemon
