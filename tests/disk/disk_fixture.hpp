// Helpers for the disk tests: a temporary data dir, deterministic records,
// writing through SegmentWriter and reading back through recovery.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <liburing.h>

#include "partition_dir.hpp"
#include "recovery.hpp"
#include "segment_writer.hpp"

namespace shmq::disk::test {

// io_uring may be disabled (seccomp in containers, kernel.io_uring_disabled):
// tests that write through it skip, saying why, instead of failing.
inline const char* io_uring_unavailable_reason() {
    static const std::string reason = [] {
        io_uring ring;
        const int rc = io_uring_queue_init(2, &ring, 0);
        if (rc < 0) return std::string("io_uring is unavailable here: ") + std::strerror(-rc);
        io_uring_queue_exit(&ring);
        return std::string();
    }();
    return reason.empty() ? nullptr : reason.c_str();
}
#define SHMQ_REQUIRE_IO_URING()                                                              \
    do {                                                                                     \
        if (const char* why = ::shmq::disk::test::io_uring_unavailable_reason()) GTEST_SKIP() << why; \
    } while (0)

struct Rec {
    uint64_t offset = 0;
    std::string key;
    std::string payload;
    uint64_t publish_unix_ns = 0;
    uint16_t flags = 0;
    bool operator==(const Rec&) const = default;
};

// Short failure messages instead of gtest's byte dumps.
inline void PrintTo(const Rec& r, std::ostream* os) {
    *os << "{offset " << r.offset << ", key '" << r.key << "', " << r.payload.size() << "-byte payload, flags "
        << r.flags << ", t " << r.publish_unix_ns << "}";
}

inline std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// Record i: 8 keys, payload sizes 0..299 of a pattern tied to i.
inline Rec make_rec(uint64_t offset) {
    Rec r;
    r.offset = offset;
    r.key = "key-" + std::to_string(offset % 8);
    r.payload.resize(static_cast<std::size_t>((offset * 37) % 300));
    for (std::size_t j = 0; j < r.payload.size(); ++j) r.payload[j] = static_cast<char>('a' + (offset + j) % 26);
    r.publish_unix_ns = 1'700'000'000'000'000'000ull + offset * 1000;
    r.flags = static_cast<uint16_t>(offset % 3);
    return r;
}

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "shmq-disk-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A data dir with DATA/q/p0 opened.
struct PartitionDir {
    TempDir tmp;
    DirFd fd;
    std::string path;
    PartitionDir() {
        std::string err;
        fd = open_partition_dir(tmp.path() + "/data", "q", 0, true, err);
        if (!fd.valid()) throw std::runtime_error(err);
        path = tmp.path() + "/data/q/p0";
    }
    std::string file(uint64_t first_offset) const { return path + "/" + segment_file_name(first_offset); }
};

// Appends `recs` in order (retrying `busy` after poll()), then flushes.
inline WriteStatus write_all(SegmentWriter& w, const std::vector<Rec>& recs) {
    for (const Rec& r : recs) {
        WriteStatus s;
        while ((s = w.append(r.offset, bytes_of(r.key), bytes_of(r.payload), r.publish_unix_ns, r.flags)) ==
               WriteStatus::busy)
            w.poll();
        if (s != WriteStatus::ok) return s;
    }
    return w.flush();
}

inline std::unique_ptr<SegmentWriter> open_writer(int dir_fd, WriterOptions opts, uint64_t next = 0) {
    std::string err;
    auto w = SegmentWriter::open(dir_fd, opts, next, err);
    EXPECT_TRUE(w) << err;
    return w;
}

inline std::vector<Rec> make_recs(uint64_t first, uint64_t n) {
    std::vector<Rec> v;
    for (uint64_t i = 0; i < n; ++i) v.push_back(make_rec(first + i));
    return v;
}

struct Recovered {
    std::vector<Rec> recs;
    RecoveryReport report;
    std::vector<std::string> log;
};

inline Recovered recover(int dir_fd, bool repair, uint32_t partition = 0) {
    Recovered out;
    RecoveryOptions o;
    o.partition = partition;
    o.repair = repair;
    o.log = [&](const std::string& l) { out.log.push_back(l); };
    out.report = recover_partition(dir_fd, o, [&](const RecordView& v) {
        Rec r;
        r.offset = v.offset;
        r.key.assign(reinterpret_cast<const char*>(v.key.data()), v.key.size());
        r.payload.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
        r.publish_unix_ns = v.publish_unix_ns;
        r.flags = v.flags;
        out.recs.push_back(std::move(r));
    });
    return out;
}

inline std::string read_file(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline uint64_t file_size(const std::string& p) { return std::filesystem::file_size(p); }

}  // namespace shmq::disk::test
