// Opening a queue found by listing /dev/shm, for tools that list every queue
// (ls, top): never waits for a creator, so a region still being created, or
// abandoned half-made by a creator that died, costs one open and one read.
#include "shmq/internal/inspect.hpp"

#include <cstddef>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmq/internal/names.hpp"

namespace shmq::inspect {

namespace {

// True while the region file holds no published header: not yet sized to a
// header, or its magic (offset 0, written last by the creator) still 0.
bool unfinished(std::string_view name) {
    const int fd = ::open(detail::region_path(name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;  // gone, or not ours to read: open() says which
    struct stat st {};
    uint64_t magic = 1;
    bool result = false;
    if (::fstat(fd, &st) == 0) {
        result = st.st_size < static_cast<off_t>(sizeof(layout::RegionHeader)) ||
                 (::pread(fd, &magic, sizeof magic, offsetof(layout::RegionHeader, magic)) ==
                      static_cast<ssize_t>(sizeof magic) &&
                  magic == 0);
    }
    ::close(fd);
    return result;
}

}  // namespace

std::shared_ptr<detail::Region> open_listed(std::string_view name) {
    try {
        return detail::Region::open(name, detail::Access::read_only, /*wait_for_creator=*/false);
    } catch (const Error& e) {
        if (e.code() != Errc::region_corrupt) throw;
        if (unfinished(name)) return nullptr;
        // Published between the two looks, or damaged: a second open answers.
        return detail::Region::open(name, detail::Access::read_only, false);
    }
}

}  // namespace shmq::inspect
