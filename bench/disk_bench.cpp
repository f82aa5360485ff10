// shmq_disk_bench: MB/s of the disk store's spill and journal writes beside
// dd-style sequential writes of the same bytes, same disk, same run.
//
// Per message size, each repetition runs every variant once, in a fixed order
// (spill, dd, journal, dd+fdatasync, dd+dsync, encode), so machine noise hits
// all alike:
//   spill         SegmentWriter, Fsync::never; timed to the end of flush()
//   dd            write(2) of buffer_bytes per call, no sync   (dd bs=256K)
//   journal       SegmentWriter, Fsync::batch; timed to the end of flush()
//   dd+fdatasync  the same writes, then one fdatasync           (dd bs=256K conv=fdatasync)
//   dd+dsync      an fdatasync after every write               (dd bs=256K oflag=dsync):
//                 one sync per 256 KiB as the journal, one at a time
//   encode        encode_record (header + CRC32C + copy) into one buffer, no I/O:
//                 the CPU ceiling of spill
// Every variant moves count x record_size(8, size) bytes; MB/s is of those
// bytes (MB = 10^6). The writers' segment headers (64 B per 64 MiB) are extra.
// Between runs the files are deleted and syncfs() settles the file system,
// untimed; the page cache is not dropped.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <liburing.h>

#include "partition_dir.hpp"
#include "record_codec.hpp"
#include "record_format.hpp"
#include "segment_writer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace disk = shmq::disk;

using ull = unsigned long long;  // for printf's %llu
constexpr std::size_t kKeyBytes = 8;
constexpr uint64_t kPublishBase = 1'800'000'000'000'000'000ull;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }
[[noreturn]] void usage_error(const std::string& what) { throw UsageError(what + " (--help for usage)"); }
[[noreturn]] void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

struct Args {
    std::string dir;  // parent of the fresh run dir
    uint64_t bytes = 256ull << 20;
    std::vector<uint32_t> sizes{64, 1024, 65536};
    int reps = 5;
    bool json = false;
    std::string json_file;  // JSON here as well as the table on stdout
};

constexpr const char* kUsage =
    "usage: shmq_disk_bench [--dir DIR] [--bytes N[K|M|G]] [--sizes S,S,..] [--reps R] [--json | --json-file F]\n"
    "  --dir DIR     writes in a fresh subdirectory of DIR, removed at exit (default $TMPDIR, else /var/tmp)\n"
    "  --bytes N     bytes each run writes (default 256M; K, M, G are powers of 1024)\n"
    "  --sizes LIST  message payload sizes in bytes (default 64,1024,65536); each record has an 8-byte key\n"
    "  --reps R      repetitions; every variant runs once per repetition, interleaved (default 5)\n"
    "  --json        machine-readable output instead of the table\n"
    "  --json-file F the table on stdout and the JSON into F\n";

bool parse_u64(std::string_view s, uint64_t& out) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

Args parse_args(int argc, char** argv) {
    Args a;
    const char* tmp = std::getenv("TMPDIR");
    a.dir = tmp && *tmp ? tmp : "/var/tmp";
    for (int i = 1; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "--help" || opt == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (opt == "--json") {
            a.json = true;
            continue;
        }
        if (opt != "--dir" && opt != "--bytes" && opt != "--sizes" && opt != "--reps" && opt != "--json-file")
            usage_error("unknown option " + std::string(opt));
        if (i + 1 >= argc) usage_error(std::string(opt) + " needs a value");
        std::string_view v = argv[++i];
        if (opt == "--dir") {
            a.dir = v;
        } else if (opt == "--bytes") {
            uint64_t mult = 1;
            if (!v.empty()) {
                const char c = v.back();
                const int shift = c == 'K' || c == 'k' ? 10 : c == 'M' || c == 'm' ? 20 : c == 'G' || c == 'g' ? 30 : 0;
                mult = 1ull << shift;
                if (shift) v.remove_suffix(1);
            }
            uint64_t n = 0;
            if (!parse_u64(v, n) || n == 0 || n > (1ull << 40) / mult) usage_error("--bytes: want 1 .. 1T, e.g. 128M");
            a.bytes = n * mult;
        } else if (opt == "--sizes") {
            a.sizes.clear();
            for (std::size_t pos = 0; pos <= v.size();) {
                const std::size_t end = std::min(v.find(',', pos), v.size());
                uint64_t s = 0;
                if (!parse_u64(v.substr(pos, end - pos), s) || s + kKeyBytes > disk::kDefaultMaxRecordBytes)
                    usage_error("--sizes: want a comma-separated list of payload sizes, 0 .. 16 MiB");
                a.sizes.push_back(static_cast<uint32_t>(s));
                pos = end + 1;
            }
        } else if (opt == "--json-file") {
            a.json_file = v;
        } else {  // --reps
            uint64_t r = 0;
            if (!parse_u64(v, r) || r == 0 || r > 1000) usage_error("--reps: want 1 .. 1000");
            a.reps = static_cast<int>(r);
        }
    }
    return a;
}

std::string fs_name(long type) {
    switch (type) {
    case EXT4_SUPER_MAGIC: return "ext4";  // also ext2/ext3: one magic
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case F2FS_SUPER_MAGIC: return "f2fs";
    case 0x2fc12fc1: return "zfs";
    case 0xca451a4e: return "bcachefs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    case NFS_SUPER_MAGIC: return "nfs";
    case FUSE_SUPER_MAGIC: return "fuse";
    case TMPFS_MAGIC: return "tmpfs (memory, not a disk)";
    case RAMFS_MAGIC: return "ramfs (memory, not a disk)";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "unknown (0x%lx)", static_cast<unsigned long>(type));
    return buf;
}

// The run dir: DIR/shmq-disk-bench-XXXXXX/data/bench/p0 as the daemon would
// lay it out; removed (all of it) at exit.
struct RunDir {
    std::string root;
    std::string part;
    disk::DirFd fd;
    explicit RunDir(const std::string& parent) {
        std::string tmpl = parent + "/shmq-disk-bench-XXXXXX";
        if (!::mkdtemp(tmpl.data())) fail_errno("cannot create a directory in " + parent);
        root = tmpl;
        std::string err;
        fd = disk::open_partition_dir(root + "/data", "bench", 0, true, err);
        if (!fd.valid()) fail(err);
        part = root + "/data/bench/p0";
    }
    ~RunDir() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    RunDir(const RunDir&) = delete;
    RunDir& operator=(const RunDir&) = delete;
    // Deletes every file of the last run, then lets the file system settle so
    // one run's writeback does not land in the next one's timing.
    void reset() const {
        for (const auto& e : std::filesystem::directory_iterator(part))
            if (::unlinkat(fd.get(), e.path().filename().c_str(), 0) != 0) fail_errno("unlink " + e.path().string());
        if (::syncfs(fd.get()) != 0) fail_errno("syncfs " + part);
    }
};

enum Variant { kSpill, kDd, kJournal, kDdSync, kDdDsync, kEncode, kVariants };
constexpr const char* kNames[kVariants] = {"spill", "dd", "journal", "dd+fdatasync", "dd+dsync", "encode"};
constexpr const char* kJsonNames[kVariants] = {"spill", "dd", "journal", "dd_fdatasync", "dd_dsync", "encode"};
enum class Sync { none, at_end, each_write };

struct Workload {
    uint32_t size;
    uint64_t count;         // records per run
    uint64_t record_bytes;  // record_size(key, size)
    std::vector<std::byte> payload;
    uint64_t bytes() const { return count * record_bytes; }
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Appends until busy, then polls, as a daemon loop would drive it; flush() ends it.
double run_writer(const RunDir& d, shmq::Fsync policy, const Workload& w) {
    disk::WriterOptions o;
    o.fsync = policy;
    o.label = "bench/p0";
    std::string err;
    auto wr = disk::SegmentWriter::open(d.fd.get(), o, 0, err);
    if (!wr) fail(err);
    std::byte key[kKeyBytes];
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < w.count; ++i) {
        std::memcpy(key, &i, sizeof key);
        disk::WriteStatus s;
        while ((s = wr->append(i, key, w.payload, kPublishBase + i)) == disk::WriteStatus::busy) wr->poll();
        if (s != disk::WriteStatus::ok) fail(wr->error().empty() ? disk::to_string(s) : wr->error());
    }
    if (wr->flush() != disk::WriteStatus::ok) fail(wr->error());
    return seconds_since(t0);
}

// w.bytes() in write(2) calls of buffer_bytes, like dd bs=256K [conv=fdatasync | oflag=dsync].
double run_dd(const RunDir& d, Sync sync, const Workload& w, const std::vector<std::byte>& buf) {
    const auto t0 = Clock::now();
    const int fd = ::openat(d.fd.get(), "dd.bin", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail_errno("create " + d.part + "/dd.bin");
    auto bail = [&](const char* call, int e) {
        ::close(fd);
        errno = e;
        fail_errno(std::string(call) + " " + d.part + "/dd.bin");
    };
    for (uint64_t left = w.bytes(); left > 0;) {
        const ssize_t n = ::write(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) bail("write", n < 0 ? errno : EIO);
        left -= static_cast<uint64_t>(n);
        if (sync == Sync::each_write && ::fdatasync(fd) != 0) bail("fdatasync", errno);
    }
    if (sync == Sync::at_end && ::fdatasync(fd) != 0) bail("fdatasync", errno);
    const double s = seconds_since(t0);
    ::close(fd);
    return s;
}

// The writer's per-record CPU work alone: encode into a buffer of buffer_bytes, reused.
double run_encode(const Workload& w, std::vector<std::byte>& buf) {
    std::byte key[kKeyBytes];
    std::size_t pos = 0;
    const auto rs = static_cast<std::size_t>(w.record_bytes);
    if (buf.size() < rs) buf.resize(rs);
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < w.count; ++i) {
        std::memcpy(key, &i, sizeof key);
        if (pos + rs > buf.size()) pos = 0;
        pos += disk::encode_record(std::span(buf).subspan(pos, rs), i, kPublishBase + i, 0, key, w.payload);
    }
    return seconds_since(t0);
}

struct Stats {
    double median, min, max;
};
Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v.front(), v.back()};
}

std::string json_str(std::string_view s) {
    std::string o = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
            o += b;
        } else {
            o += c;
        }
    }
    return o + '"';
}

std::string human_size(uint64_t b) {
    char buf[32];
    const int shift = b && b % (1u << 20) == 0 ? 20 : b && b % 1024 == 0 ? 10 : 0;
    std::snprintf(buf, sizeof buf, "%llu %s", ull(b >> shift), shift == 20 ? "MiB" : shift ? "KiB" : "B");
    return buf;
}

std::string human_rate(double r) {
    char buf[32];
    if (r >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", r / 1e6);
    else if (r >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", r / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", r);
    return buf;
}

int run(const Args& a) {
    {  // A clear line up front rather than a failure in the first writer.
        io_uring ring;
        const int rc = io_uring_queue_init(2, &ring, 0);
        if (rc < 0) fail(std::string("io_uring is unavailable here: ") + std::strerror(-rc));
        io_uring_queue_exit(&ring);
    }
    // Opened first: a path that cannot be written fails before the runs, not after.
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> json_out(nullptr, std::fclose);
    if (!a.json_file.empty()) {
        json_out.reset(std::fopen(a.json_file.c_str(), "w"));
        if (!json_out) fail_errno("cannot write " + a.json_file);
    }
    const RunDir d(a.dir);
    struct statfs sf{};
    if (::fstatfs(d.fd.get(), &sf) != 0) fail_errno("statfs " + d.part);
    const std::string fs = fs_name(static_cast<long>(sf.f_type));
    const disk::WriterOptions defaults;
    std::vector<std::byte> dd_buf(defaults.buffer_bytes, std::byte{0x5a});
    std::vector<std::byte> enc_buf(defaults.buffer_bytes);

    std::vector<Workload> loads;
    for (const uint32_t size : a.sizes) {
        Workload w{size, 0, disk::record_size(kKeyBytes, size), std::vector<std::byte>(size)};
        w.count = std::max<uint64_t>(1, a.bytes / w.record_bytes);
        for (uint32_t j = 0; j < size; ++j) w.payload[j] = static_cast<std::byte>('a' + j % 26);
        loads.push_back(std::move(w));
    }
    // secs[size][variant][rep]
    std::vector<std::vector<std::vector<double>>> secs(loads.size(), std::vector<std::vector<double>>(kVariants));
    for (std::size_t s = 0; s < loads.size(); ++s)
        for (int r = 0; r < a.reps; ++r)
            for (int v = 0; v < kVariants; ++v) {
                d.reset();
                const Workload& w = loads[s];
                double t = 0;
                switch (v) {
                case kSpill: t = run_writer(d, shmq::Fsync::never, w); break;
                case kDd: t = run_dd(d, Sync::none, w, dd_buf); break;
                case kJournal: t = run_writer(d, shmq::Fsync::batch, w); break;
                case kDdSync: t = run_dd(d, Sync::at_end, w, dd_buf); break;
                case kDdDsync: t = run_dd(d, Sync::each_write, w, dd_buf); break;
                case kEncode: t = run_encode(w, enc_buf); break;
                }
                secs[s][static_cast<std::size_t>(v)].push_back(t);
            }
    d.reset();

    // MB/s and messages/s per rep: median, min, max.
    auto mbps = [&](std::size_t s, int v) {
        std::vector<double> r;
        for (const double t : secs[s][static_cast<std::size_t>(v)])
            r.push_back(static_cast<double>(loads[s].bytes()) / t / 1e6);
        return stats(r);
    };
    auto msgs = [&](std::size_t s, int v) {
        return mbps(s, v).median * 1e6 / static_cast<double>(loads[s].record_bytes);
    };

    auto ratio = [&](std::size_t s, int v, int base) { return mbps(s, v).median / mbps(s, base).median; };
    auto print_json = [&](std::FILE* f) {
        std::fprintf(f,
                     "{\"bench\":\"disk\",\"dir\":%s,\"filesystem\":%s,\"f_type\":\"0x%lx\",\"bytes_per_run\":%llu,"
                     "\"reps\":%d,\"key_bytes\":%zu,\"buffer_bytes\":%zu,\"batches_in_flight\":%u,"
                     "\"segment_bytes\":%llu,\"page_cache_dropped\":false,\"mb\":1000000,\"results\":[",
                     json_str(a.dir).c_str(), json_str(fs).c_str(), static_cast<unsigned long>(sf.f_type), ull(a.bytes),
                     a.reps, kKeyBytes, defaults.buffer_bytes, defaults.max_batches_in_flight,
                     ull(defaults.segment_bytes));
        for (std::size_t s = 0; s < loads.size(); ++s) {
            const Workload& w = loads[s];
            std::fprintf(f, "%s{\"size\":%u,\"record_bytes\":%llu,\"count\":%llu,\"bytes\":%llu,\"variants\":{",
                         s ? "," : "", w.size, ull(w.record_bytes), ull(w.count), ull(w.bytes()));
            for (int v = 0; v < kVariants; ++v) {
                const Stats m = mbps(s, v);
                std::fprintf(f,
                             "%s\"%s\":{\"mb_per_s_median\":%.1f,\"mb_per_s_min\":%.1f,\"mb_per_s_max\":%.1f,"
                             "\"msgs_per_s_median\":%.0f,\"seconds\":[",
                             v ? "," : "", kJsonNames[v], m.median, m.min, m.max, msgs(s, v));
                const auto& t = secs[s][static_cast<std::size_t>(v)];
                for (std::size_t r = 0; r < t.size(); ++r) std::fprintf(f, "%s%.6f", r ? "," : "", t[r]);
                std::fputs("]}", f);
            }
            std::fprintf(f,
                         "},\"spill_over_dd\":%.3f,\"journal_over_dd_fdatasync\":%.3f,"
                         "\"journal_over_dd_dsync\":%.3f}",
                         ratio(s, kSpill, kDd), ratio(s, kJournal, kDdSync), ratio(s, kJournal, kDdDsync));
        }
        std::fputs("]}\n", f);
    };
    if (a.json) {
        print_json(stdout);
        return 0;
    }
    std::printf("dir %s on %s, %s per run, %d reps interleaved, %zu-byte key; writer: %s buffers, %u in flight, "
                "%s segments\n",
                a.dir.c_str(), fs.c_str(), human_size(a.bytes).c_str(), a.reps, kKeyBytes,
                human_size(defaults.buffer_bytes).c_str(), defaults.max_batches_in_flight,
                human_size(defaults.segment_bytes).c_str());
    std::printf("between runs: files deleted, syncfs (untimed); page cache NOT dropped\n"
                "MB = 10^6 bytes of records on disk (header + key + payload + padding); dd and encode move the same "
                "bytes, msgs/s = records' worth\n\n");
    std::printf("%-9s %-13s %9s %9s %9s %10s  %s\n", "size", "variant", "MB/s p50", "min", "max", "msgs/s", "ratio");
    for (std::size_t s = 0; s < loads.size(); ++s) {
        const std::string size = human_size(loads[s].size);
        for (int v = 0; v < kVariants; ++v) {
            const Stats m = mbps(s, v);
            char r[64] = "";
            if (v == kSpill) std::snprintf(r, sizeof r, "%.2fx dd", ratio(s, v, kDd));
            if (v == kJournal)
                std::snprintf(r, sizeof r, "%.2fx dd+fdatasync, %.2fx dd+dsync", ratio(s, v, kDdSync),
                              ratio(s, v, kDdDsync));
            std::printf("%-9s %-13s %9.0f %9.0f %9.0f %10s%s%s\n", v ? "" : size.c_str(), kNames[v], m.median, m.min,
                        m.max, human_rate(msgs(s, v)).c_str(), *r ? "  " : "", r);
        }
    }
    if (json_out) {
        print_json(json_out.get());
        if (std::fclose(json_out.release()) != 0) fail_errno("cannot write " + a.json_file);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_args(argc, argv));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "shmq_disk_bench: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shmq_disk_bench: %s\n", e.what());
        return 1;
    }
}
