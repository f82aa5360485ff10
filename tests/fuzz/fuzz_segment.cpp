// libFuzzer target: recovering a partition from a segment file of arbitrary
// bytes (docs/DISK.md "Recovery"): it must end, never crash, never accept a
// record twice or out of order, and leave a directory a writer can append to.
//   fuzz_segment --make-seed DIR   writes a valid segment with records (a seed)
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "partition_dir.hpp"
#include "record_codec.hpp"
#include "record_format.hpp"
#include "recovery.hpp"

namespace {

std::string g_root;  // a private data dir for this process

std::vector<std::byte> valid_segment() {
    const auto header = shmq::disk::make_segment_header(0, 7, 0);
    std::vector<std::byte> out(sizeof header);
    std::memcpy(out.data(), &header, sizeof header);
    for (uint64_t o = 0; o < 4; ++o) {
        const std::string key = "k" + std::to_string(o), payload = "payload " + std::to_string(o);
        std::vector<std::byte> rec(shmq::disk::record_size(key.size(), payload.size()));
        shmq::disk::encode_record(rec, o, 1000 + o, 0, std::as_bytes(std::span(key)), std::as_bytes(std::span(payload)));
        out.insert(out.end(), rec.begin(), rec.end());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    for (int i = 1; i + 1 < *argc; ++i)
        if (std::strcmp((*argv)[i], "--make-seed") == 0) {
            const auto seg = valid_segment();
            std::ofstream(std::string((*argv)[i + 1]) + "/valid-segment", std::ios::binary)
                .write(reinterpret_cast<const char*>(seg.data()), static_cast<std::streamsize>(seg.size()));
            std::exit(0);
        }
    std::string templ = (std::filesystem::temp_directory_path() / "shmq-fuzz-segment-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    g_root = templ;
    std::atexit([] { std::filesystem::remove_all(g_root); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string error;
    shmq::disk::DirFd dir = shmq::disk::open_partition_dir(g_root, "q", 0, /*create=*/true, error);
    if (!dir.valid()) std::abort();
    for (const auto& seg : shmq::disk::list_segments(dir.get(), {})) ::unlinkat(dir.get(), seg.name.c_str(), 0);
    const int fd = ::openat(dir.get(), shmq::disk::segment_file_name(0).c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) std::abort();
    if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    ::close(fd);
    for (const bool repair : {false, true}) {
        shmq::disk::RecoveryOptions ro;
        ro.repair = repair;
        ro.max_record_bytes = 1 << 16;
        bool have = false;
        uint64_t last = 0;
        const auto report = shmq::disk::recover_partition(dir.get(), ro, [&](const shmq::disk::RecordView& r) {
            if (have && r.offset <= last) std::abort();  // a record twice, or out of order
            have = true;
            last = r.offset;
        });
        if (have && report.next_offset <= last) std::abort();  // an offset would be handed out twice
    }
    return 0;
}
