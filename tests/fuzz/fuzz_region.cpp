// libFuzzer target: opening a region made of arbitrary bytes (header, tables,
// slots), then reading all of it as `shmq stat` does and as shmqd's integrity
// check does (shmq/internal/integrity.hpp, one whole pass). Everything read from
// shared memory is untrusted: a bad region must be refused with an Error or
// read without touching memory outside it, never crash.
//   fuzz_region --make-seed DIR   writes a valid small region to DIR (a seed)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "shmq/internal/inspect.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/region.hpp"
#include "shmq/internal/integrity.hpp"

namespace {

std::string fuzz_queue_name() { return "fuzz-region-" + std::to_string(::getpid()); }

void write_seed(const std::string& dir) {
    shmq::QueueOptions o;
    o.partitions = 2;
    o.capacity = 2;
    o.max_message = 8;
    o.max_groups = 2;
    o.max_participants = 2;
    o.dlq_capacity = 2;
    const std::string name = fuzz_queue_name();
    auto r = shmq::detail::Region::create(name, o);
    std::ifstream in(shmq::detail::region_path(name), std::ios::binary);
    std::ofstream(dir + "/valid-region", std::ios::binary) << in.rdbuf();
    r.reset();
    shmq::detail::Region::remove(name);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    for (int i = 1; i + 1 < *argc; ++i)
        if (std::strcmp((*argv)[i], "--make-seed") == 0) {
            write_seed((*argv)[i + 1]);
            std::exit(0);
        }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string name = fuzz_queue_name();
    const std::string object = shmq::detail::region_object_name(name);
    // The header's name must be this process's queue name (a region naming
    // another queue is refused at once): put it in, fuzz everything else.
    std::vector<uint8_t> bytes(data, data + size);
    constexpr std::size_t kName = offsetof(shmq::layout::RegionHeader, name);
    if (bytes.size() >= kName + shmq::layout::kNameMax) {
        std::memset(bytes.data() + kName, 0, shmq::layout::kNameMax);
        std::memcpy(bytes.data() + kName, name.data(), name.size());
    }
    const int fd = ::shm_open(object.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0) return 0;
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    try {
        auto r = shmq::detail::Region::open(name, shmq::detail::Access::read_only, /*wait_for_creator=*/false);
        (void)shmq::inspect::snapshot(*r);
        shmq::detail::IntegrityCheck check(*r);
        (void)check.run(check.cells());  // one whole pass: every cell of every table
    } catch (const shmq::Error&) {
        // refused: what a hostile region must get
    }
    ::shm_unlink(object.c_str());
    return 0;
}
