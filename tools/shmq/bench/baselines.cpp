#include "baselines.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <climits>
#include <fstream>

namespace shmq::cli::bench {

namespace ipc = boost::interprocess;

namespace {
std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

long read_proc_long(const char* path, long fallback) {
    std::ifstream f(path);
    long v = fallback;
    if (!(f >> v)) return fallback;
    return v;
}
}  // namespace

// --- bare mailbox --------------------------------------------------------
BareMailbox::BareMailbox(const ChannelSpec& spec)
    : mem_(std::make_shared<SharedMemory>(round_up(sizeof(uint64_t) + spec.size, kCacheLine))), size_(spec.size) {
    auto* base = static_cast<std::byte*>(mem_->get());
    seq_ = new (base) std::atomic<uint64_t>(0);
    payload_ = base + sizeof(uint64_t);
}

// --- futex mailbox -------------------------------------------------------
FutexMailbox::FutexMailbox(const ChannelSpec& spec)
    : mem_(std::make_shared<SharedMemory>(round_up(sizeof(uint64_t) + spec.size, kCacheLine))), size_(spec.size) {
    auto* base = static_cast<std::byte*>(mem_->get());
    seq_ = new (base) std::atomic<uint32_t>(0);
    payload_ = base + sizeof(uint64_t);
}

bool FutexMailbox::End::send(const std::byte* p) noexcept {
    std::memcpy(payload_, p, size_);
    seq_->store(++n_, std::memory_order_release);
    // Shared (not FUTEX_PRIVATE_FLAG): the waiter is another process.
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(seq_), FUTEX_WAKE, 1, nullptr, nullptr, 0);
    return true;
}

bool FutexMailbox::End::recv(std::byte* b) noexcept {
    ++n_;
    for (;;) {
        const uint32_t v = seq_->load(std::memory_order_acquire);
        if (v == n_) break;
        ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(seq_), FUTEX_WAIT, v, nullptr, nullptr, 0);
    }
    std::memcpy(b, payload_, size_);
    return true;
}

// --- bare ring -----------------------------------------------------------
BareRing::BareRing(const ChannelSpec& spec)
    : stride_(round_up(sizeof(uint64_t) + spec.size, kCacheLine)), depth_(spec.depth), size_(spec.size) {
    if (spec.producers != 1 || spec.consumers != 1)
        throw Skip("the bare ring is single-producer single-consumer; run with --producers 1 --consumers 1");
    mem_ = std::make_shared<SharedMemory>(stride_ * depth_);
    base_ = static_cast<std::byte*>(mem_->get());
    for (uint32_t i = 0; i < depth_; ++i) new (base_ + i * stride_) std::atomic<uint64_t>(i);
}

// --- bare_batch ring ------------------------------------------------------
namespace {
// head and tail 128 bytes apart (the adjacent-line prefetcher pairs lines), slots after.
constexpr std::size_t kIndexGap = 2 * kCacheLine;
}  // namespace

BareBatchRing::BareBatchRing(const ChannelSpec& spec) {
    if (spec.use != Use::throughput) throw Skip("bare_batch is a throughput baseline");
    if (spec.producers != 1 || spec.consumers != 1)
        throw Skip("the batched bare ring is single-producer single-consumer; run with --producers 1 --consumers 1");
    if (spec.batch < 2) throw Skip("the batched bare ring publishes once per --batch N messages; run with --batch 2 or more");
    if (spec.batch > spec.depth)
        throw Skip("a batch of " + std::to_string(spec.batch) + " does not fit a ring of " + std::to_string(spec.depth) +
                   " slots (--capacity, at most 64 MiB of slots); lower --batch");
    Ring& r = ring_;
    r.stride = round_up(sizeof(uint64_t) + spec.size, kCacheLine);
    r.size = spec.size;
    r.depth = spec.depth;
    r.mask = spec.depth - 1;
    r.batch = spec.batch;
    mem_ = std::make_shared<SharedMemory>(2 * kIndexGap + r.stride * r.depth);
    auto* base = static_cast<std::byte*>(mem_->get());
    r.head = new (base) std::atomic<uint64_t>(0);
    r.tail = new (base + kIndexGap) std::atomic<uint64_t>(0);
    r.slots = base + 2 * kIndexGap;
}

std::string BareBatchRing::how(const ChannelSpec& spec) {
    const std::string n = std::to_string(spec.batch);
    return "single-producer single-consumer ring of line-aligned slots in MAP_SHARED memory; the producer writes " + n +
           " messages, then one release store of its std::atomic index; the consumer copies out up to " + n +
           " and stores its own index once per batch; both spin";
}

// --- pipe ----------------------------------------------------------------
PipeChannel::PipeChannel(const ChannelSpec& spec) : size_(spec.size) {
    if ((spec.producers > 1 || spec.consumers > 1) && spec.size > PIPE_BUF)
        throw Skip("messages over PIPE_BUF (" + std::to_string(PIPE_BUF) +
                   " bytes) are not atomic on a pipe shared by several processes");
    if (::pipe(fds_) != 0) throw BenchError(errno_text("pipe"));
    if (spec.use == Use::throughput) {
        const long max = read_proc_long("/proc/sys/fs/pipe-max-size", 1 << 20);
        const auto want = std::clamp<long>(static_cast<long>(spec.size) * spec.depth, 65536, max);
        (void)::fcntl(fds_[1], F_SETPIPE_SZ, static_cast<int>(want));  // best effort
    }
}

PipeChannel::~PipeChannel() { forked(); }

void PipeChannel::forked() {
    for (int& fd : fds_)
        if (fd >= 0) ::close(std::exchange(fd, -1));
}

PipeChannel::End PipeChannel::sender(int) {
    ::close(std::exchange(fds_[0], -1));
    return End(fds_[1], size_);
}

PipeChannel::End PipeChannel::receiver(int) {
    ::close(std::exchange(fds_[1], -1));
    return End(fds_[0], size_);
}

bool PipeChannel::End::send(const std::byte* p) {
    for (std::size_t off = 0; off < size_;) {
        const ssize_t n = ::write(fd_, p + off, size_ - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw BenchError(errno_text("pipe write"));
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

bool PipeChannel::End::recv(std::byte* b) {
    for (std::size_t off = 0; off < size_;) {
        const ssize_t n = ::read(fd_, b + off, size_ - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw BenchError(errno_text("pipe read"));
        }
        if (n == 0) {
            if (off == 0) return false;  // every writer has gone
            throw BenchError("pipe: a message was cut short");
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// --- socketpair ----------------------------------------------------------
SocketpairChannel::SocketpairChannel(const ChannelSpec& spec) : size_(spec.size) {
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds_) != 0) throw BenchError(errno_text("socketpair"));
    if (spec.use == Use::throughput) {
        int want = static_cast<int>(std::min<std::size_t>(spec.size * spec.depth, std::size_t{4} << 20));
        (void)::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &want, sizeof want);  // best effort (capped by wmem_max)
    }
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    if (::getsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && sndbuf > 0 &&
        spec.size + 1024 > static_cast<std::size_t>(sndbuf)) {
        forked();
        throw Skip("a " + std::to_string(spec.size) + "-byte datagram does not fit the socket buffer (" +
                   std::to_string(sndbuf) + " bytes; /proc/sys/net/core/wmem_max caps it)");
    }
}

SocketpairChannel::~SocketpairChannel() { forked(); }

void SocketpairChannel::forked() {
    for (int& fd : fds_)
        if (fd >= 0) ::close(std::exchange(fd, -1));
}

SocketpairChannel::End SocketpairChannel::sender(int) {
    ::close(std::exchange(fds_[1], -1));
    return End(fds_[0], size_);
}

SocketpairChannel::End SocketpairChannel::receiver(int) {
    ::close(std::exchange(fds_[0], -1));
    return End(fds_[1], size_);
}

bool SocketpairChannel::End::send(const std::byte* p) {
    for (;;) {
        const ssize_t n = ::send(fd_, p, size_, MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(size_)) return true;
        if (n < 0 && errno == EINTR) continue;
        throw BenchError(n < 0 ? errno_text("socketpair send") : "socketpair: short send");
    }
}

bool SocketpairChannel::End::recv(std::byte* b) {
    for (;;) {
        const ssize_t n = ::recv(fd_, b, size_, 0);
        if (n == static_cast<ssize_t>(size_)) return true;
        if (n == 0) return false;  // the sender has gone
        if (n < 0 && errno == EINTR) continue;
        throw BenchError(n < 0 ? errno_text("socketpair recv") : "socketpair: short message");
    }
}

// --- POSIX mq ------------------------------------------------------------
PosixMqChannel::PosixMqChannel(const ChannelSpec& spec) : name_(unique_name("mq")), size_(spec.size), depth_(spec.depth) {
    const std::string path = "/" + name_;
    mq_attr attr{};
    attr.mq_msgsize = static_cast<long>(spec.size);
    for (;;) {
        attr.mq_maxmsg = depth_;
        const mqd_t q = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        if (q != static_cast<mqd_t>(-1)) {
            ::mq_close(q);
            break;
        }
        const int err = errno;
        if ((err == EINVAL || err == EMFILE || err == ENOMEM) && depth_ > 1) {
            depth_ /= 2;  // /proc/sys/fs/mqueue/msg_max or RLIMIT_MSGQUEUE: try a shallower queue
            continue;
        }
        const long max = read_proc_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
        if (err == EINVAL && static_cast<long>(spec.size) > max)
            throw Skip("a " + std::to_string(spec.size) + "-byte message exceeds /proc/sys/fs/mqueue/msgsize_max (" +
                       std::to_string(max) + "); raise it with sysctl fs.mqueue.msgsize_max=" + std::to_string(spec.size));
        if (err == ENOSYS) throw Skip("POSIX message queues are not available in this kernel");
        errno = err;
        throw Skip(errno_text("mq_open"));
    }
    register_name(NameKind::posix_mq, name_);
}

PosixMqChannel::~PosixMqChannel() { remove_name(NameKind::posix_mq, name_); }

PosixMqChannel::End PosixMqChannel::sender(int) {
    const mqd_t q = ::mq_open(("/" + name_).c_str(), O_WRONLY);
    if (q == static_cast<mqd_t>(-1)) throw BenchError(errno_text("mq_open"));
    return End(q, size_);
}

PosixMqChannel::End PosixMqChannel::receiver(int) {
    const mqd_t q = ::mq_open(("/" + name_).c_str(), O_RDONLY);
    if (q == static_cast<mqd_t>(-1)) throw BenchError(errno_text("mq_open"));
    return End(q, size_);
}

bool PosixMqChannel::End::send(const std::byte* p) {
    while (::mq_send(mqd_, reinterpret_cast<const char*>(p), size_, 0) != 0)
        if (errno != EINTR) throw BenchError(errno_text("mq_send"));
    return true;
}

bool PosixMqChannel::End::recv(std::byte* b) {
    for (;;) {
        const ssize_t n = ::mq_receive(mqd_, reinterpret_cast<char*>(b), size_, nullptr);
        if (n == static_cast<ssize_t>(size_)) return true;
        if (n < 0 && errno == EINTR) continue;
        throw BenchError(n < 0 ? errno_text("mq_receive") : "mq_receive: short message");
    }
}

// --- Boost message_queue ---------------------------------------------------
struct BoostMqChannel::End::Impl {
    ipc::message_queue mq;
    explicit Impl(const std::string& name) : mq(ipc::open_only, name.c_str()) {}
};

BoostMqChannel::BoostMqChannel(const ChannelSpec& spec) : name_(unique_name("boost")), size_(spec.size), depth_(spec.depth) {
    try {
        ipc::message_queue mq(ipc::create_only, name_.c_str(), depth_, size_);
    } catch (const std::exception& e) {
        throw Skip(std::string("boost::interprocess::message_queue: ") + e.what());
    }
    register_name(NameKind::boost_shm, name_);
}

BoostMqChannel::~BoostMqChannel() {
    ipc::message_queue::remove(name_.c_str());
    unregister_name(NameKind::boost_shm, name_);
}

BoostMqChannel::End::End(const std::string& name, std::size_t size) : size_(size) {
    try {
        impl_ = std::make_unique<Impl>(name);
    } catch (const std::exception& e) {
        throw BenchError(std::string("boost::interprocess::message_queue open: ") + e.what());
    }
}
BoostMqChannel::End::~End() = default;
BoostMqChannel::End::End(End&&) noexcept = default;

bool BoostMqChannel::End::send(const std::byte* p) {
    impl_->mq.send(p, size_, 0);
    return true;
}

bool BoostMqChannel::End::recv(std::byte* b) {
    ipc::message_queue::size_type got = 0;
    unsigned int priority = 0;
    impl_->mq.receive(b, size_, got, priority);
    if (got != size_) throw BenchError("boost message_queue: short message");
    return true;
}

}  // namespace shmq::cli::bench
