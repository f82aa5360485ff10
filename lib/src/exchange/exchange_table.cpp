#include "shmq/internal/exchange_table.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "shmq/internal/clock.hpp"
#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/names.hpp"

namespace shmq::detail {

namespace {

namespace xl = xlayout;
constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr auto kAcquire = std::memory_order_acquire;
constexpr auto kRelease = std::memory_order_release;
constexpr int kMaxReadAttempts = 100000;
constexpr std::string_view kGraphLock = "/dev/shm/shmq-x-graph.lock";

[[noreturn]] void fail(Errc code, const std::string& what) { throw Error(code, what); }

std::string errno_text(int e) { return std::strerror(e); }

// Blocks until this process holds the OFD write lock of byte `at` of `fd`
// (or fails with the errno). The kernel releases it at close or death.
int lock_byte(int fd, uint64_t at) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(at);
    fl.l_len = 1;
    while (::fcntl(fd, F_OFD_SETLKW, &fl) != 0)
        if (errno != EINTR) return errno;
    return 0;
}

void unlock_byte(int fd, uint64_t at) noexcept {
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(at);
    fl.l_len = 1;
    (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

// The writer lock of one exchange, held for a scope.
class WriterLock {
public:
    WriterLock(int fd, const std::string& what) : fd_(fd) {
        if (int e = lock_byte(fd_, xl::kWriterLockByte))
            fail(Errc::invalid_argument, "cannot lock " + what + ": " + errno_text(e));
    }
    ~WriterLock() { unlock_byte(fd_, xl::kWriterLockByte); }
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    int fd_;
};

// The host-wide lock of exchange-to-exchange binds (its own descriptor: an
// OFD lock, dropped at close or death).
class GraphLock {
public:
    GraphLock() {
        fd_ = ::open(std::string(kGraphLock).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd_ < 0)
            fail(errno == EACCES ? Errc::permission_denied : Errc::invalid_argument,
                 "cannot open " + std::string(kGraphLock) + ": " + errno_text(errno) +
                     "; exchange-to-exchange binds need it (remove it if it belongs to another user)");
        if (int e = lock_byte(fd_, 0)) {
            ::close(fd_);
            fail(Errc::invalid_argument, "cannot lock " + std::string(kGraphLock) + ": " + errno_text(e));
        }
    }
    ~GraphLock() { ::close(fd_); }
    GraphLock(const GraphLock&) = delete;
    GraphLock& operator=(const GraphLock&) = delete;

private:
    int fd_ = -1;
};

std::string text_of(const char* bytes, std::size_t len) { return std::string(bytes, len); }

// A binding's fixed-size entry, from a checked Binding.
void encode(const Binding& b, xl::BindingEntry& e) noexcept {
    std::memset(&e, 0, sizeof e);
    e.dest_kind = static_cast<uint8_t>(b.kind);
    e.match = static_cast<uint8_t>(b.match);
    e.header_count = static_cast<uint8_t>(b.headers.size());
    e.dest_len = static_cast<uint8_t>(b.dest.size());
    e.key_len = static_cast<uint16_t>(b.key.size());
    std::memcpy(e.dest, b.dest.data(), b.dest.size());
    std::memcpy(e.key, b.key.data(), b.key.size());
    for (std::size_t h = 0; h < b.headers.size(); ++h) {
        auto& p = e.headers[h];
        p.key_len = static_cast<uint8_t>(b.headers[h].key.size());
        p.value_len = static_cast<uint8_t>(b.headers[h].value.size());
        std::memcpy(p.key, b.headers[h].key.data(), p.key_len);
        std::memcpy(p.value, b.headers[h].value.data(), p.value_len);
    }
}

// An entry read from shared memory (untrusted): the binding, or an error
// sentence naming the bad field. Every length is checked before it is used.
std::optional<std::string> decode(xl::ExchangeType type, const xl::BindingEntry& e, Binding& b) {
    if (e.dest_kind != static_cast<uint8_t>(xl::DestKind::queue) &&
        e.dest_kind != static_cast<uint8_t>(xl::DestKind::exchange))
        return "destination kind " + std::to_string(e.dest_kind);
    if (e.dest_len == 0 || e.dest_len > xl::kNameBytes) return "destination length " + std::to_string(e.dest_len);
    if (e.key_len > xl::kMaxKeyBytes) return "key length " + std::to_string(e.key_len);
    if (e.header_count > xl::kMaxHeaders) return "header count " + std::to_string(e.header_count);
    if (e.match > static_cast<uint8_t>(xl::HeaderMatch::any)) return "match " + std::to_string(e.match);
    b.kind = static_cast<xl::DestKind>(e.dest_kind);
    b.dest = text_of(e.dest, e.dest_len);
    b.key = text_of(e.key, e.key_len);
    b.match = static_cast<xl::HeaderMatch>(e.match);
    b.headers.clear();
    for (uint32_t h = 0; h < e.header_count; ++h) {
        const auto& p = e.headers[h];
        if (p.key_len == 0 || p.key_len > xl::kHeaderKeyBytes || p.value_len > xl::kHeaderValueBytes)
            return "header " + std::to_string(h) + " lengths " + std::to_string(p.key_len) + "/" +
                   std::to_string(p.value_len);
        b.headers.push_back({text_of(p.key, p.key_len), text_of(p.value, p.value_len)});
    }
    if (auto err = check_binding(type, b)) return *err;
    return std::nullopt;
}

std::string where(std::string_view name) {
    return "exchange '" + std::string(name) + "' (" + exchange_object_path(name) + ")";
}

std::string fix(std::string_view name) {
    return "; delete it with `shmq exchange delete " + std::string(name) + "` and create it again";
}

}  // namespace

std::string exchange_object_path(std::string_view exchange) {
    return std::string(kShmDir) + "/" + std::string(kExchangePrefix) + std::string(exchange);
}

const char* to_string(xl::ExchangeType t) noexcept {
    switch (t) {
        case xl::ExchangeType::direct: return "direct";
        case xl::ExchangeType::topic: return "topic";
        case xl::ExchangeType::fanout: return "fanout";
        case xl::ExchangeType::headers: return "headers";
    }
    return "unknown";
}

std::optional<xl::ExchangeType> exchange_type_from(std::string_view text) noexcept {
    for (auto t : {xl::ExchangeType::direct, xl::ExchangeType::topic, xl::ExchangeType::fanout,
                   xl::ExchangeType::headers})
        if (text == to_string(t)) return t;
    return std::nullopt;
}

std::optional<std::string> check_binding(xl::ExchangeType type, const Binding& b) {
    const char* what = b.kind == xl::DestKind::exchange ? "destination exchange" : "queue";
    if (auto err = check_name(b.dest, what)) return err;
    if (auto err = check_key(b.key, "the binding key")) return err;
    if (type == xl::ExchangeType::headers) {
        if (b.match != xl::HeaderMatch::all && b.match != xl::HeaderMatch::any)
            return std::string("a headers exchange's binding needs --match all or --match any");
        if (auto err = check_headers(b.headers, "the binding")) return err;
    } else if (b.match != xl::HeaderMatch::none || !b.headers.empty()) {
        return std::string("--match and --header apply to headers exchanges only; this one is of type ") +
               to_string(type);
    }
    return std::nullopt;
}

bool binding_matches(xl::ExchangeType type, const Binding& b, std::string_view routing_key,
                     std::span<const HeaderKV> headers) noexcept {
    switch (type) {
        case xl::ExchangeType::direct: return direct_matches(b.key, routing_key);
        case xl::ExchangeType::topic: return topic_matches(b.key, routing_key);
        case xl::ExchangeType::fanout: return true;
        case xl::ExchangeType::headers: return headers_match(b.match, b.headers, headers);
    }
    return false;
}

// ---------------------------------------------------------------------------

ExchangeTable::~ExchangeTable() {
    if (base_ != nullptr) ::munmap(base_, xl::kExchangeBytes);
    if (fd_ >= 0) ::close(fd_);
}

std::shared_ptr<ExchangeTable> ExchangeTable::create(std::string_view name, xl::ExchangeType type,
                                                     std::string_view alternate) {
    if (auto err = check_name(name, "exchange")) fail(Errc::invalid_argument, *err);
    if (!alternate.empty())
        if (auto err = check_name(alternate, "alternate queue")) fail(Errc::invalid_argument, *err);
    if (!exchange_type_from(to_string(type))) fail(Errc::invalid_argument, "unknown exchange type");
    const std::string path = exchange_object_path(name);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        const int e = errno;
        if (e == EEXIST)
            fail(Errc::already_exists, "exchange '" + std::string(name) + "' already exists; delete it first with " +
                                           "`shmq exchange delete " + std::string(name) + "`");
        fail(e == EACCES || e == EPERM ? Errc::permission_denied : Errc::invalid_argument,
             "cannot create " + path + ": " + errno_text(e));
    }
    std::shared_ptr<ExchangeTable> t(new ExchangeTable());
    t->fd_ = fd;
    t->writable_ = true;
    t->name_ = std::string(name);
    t->alternate_ = std::string(alternate);
    t->type_ = type;
    try {
        (void)::fchmod(fd, 0600);  // whatever the umask
        if (int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(xl::kExchangeBytes)))
            fail(Errc::no_resources, "no room in /dev/shm for exchange '" + std::string(name) + "' (" +
                                         std::to_string(xl::kExchangeBytes >> 10) + " KiB): " + errno_text(rc));
        void* p = ::mmap(nullptr, xl::kExchangeBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) fail(Errc::no_resources, "cannot map " + path + ": " + errno_text(errno));
        t->base_ = static_cast<std::byte*>(p);
        // The object is fresh and zero-filled: write what is not zero.
        auto& h = t->header();
        h.layout_version = xl::kExchangeLayoutVersion;
        h.header_size = sizeof(xl::ExchangeHeader);
        h.object_size = xl::kExchangeBytes;
        h.created_unix_ns = sys::unix_ns();
        h.type = static_cast<uint8_t>(type);
        h.name_len = static_cast<uint8_t>(name.size());
        std::memcpy(h.name, name.data(), name.size());
        h.alternate_len = static_cast<uint8_t>(alternate.size());
        if (!alternate.empty()) std::memcpy(h.alternate, alternate.data(), alternate.size());  // data() may be null
        h.lifecycle.store(static_cast<uint32_t>(xl::Lifecycle::live), kRelaxed);
        // Version 1, empty, in buffer 0.
        t->buffer(0).words[0].store(1, kRelaxed);  // TableImage::version
        t->buffer(0).stamp.store(2, kRelaxed);
        h.current.store(uint64_t{1} << 1, kRelaxed);
        // Publishes every store above to openers, which acquire-load the magic.
        h.magic.store(xl::kExchangeMagic, kRelease);
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
    return t;
}

std::shared_ptr<ExchangeTable> ExchangeTable::open(std::string_view name, bool writable) {
    if (auto err = check_name(name, "exchange")) fail(Errc::invalid_argument, *err);
    const std::string path = exchange_object_path(name);
    const int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT)
            fail(Errc::not_found, "no exchange named '" + std::string(name) + "'; create it with `shmq exchange create " +
                                      std::string(name) + " --type direct|topic|fanout|headers`");
        if (e == ELOOP) fail(Errc::invalid_argument, path + " is a symlink; shmq never follows symlinks: remove it");
        fail(e == EACCES || e == EPERM ? Errc::permission_denied : Errc::invalid_argument,
             (e == EACCES || e == EPERM ? "permission denied: cannot open " : "cannot open ") + path + ": " +
                 errno_text(e) + (e == EACCES || e == EPERM ? "; run as its owner" : ""));
    }
    std::shared_ptr<ExchangeTable> t(new ExchangeTable());
    t->fd_ = fd;
    t->writable_ = writable;
    t->name_ = std::string(name);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != xl::kExchangeBytes)
        fail(Errc::region_corrupt, where(name) + " is " + std::to_string(st.st_size) + " bytes, not " +
                                       std::to_string(xl::kExchangeBytes) + fix(name));
    void* p = ::mmap(nullptr, xl::kExchangeBytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail(Errc::no_resources, "cannot map " + path + ": " + errno_text(errno));
    t->base_ = static_cast<std::byte*>(p);
    t->validate_header();
    return t;
}

void ExchangeTable::validate_header() {
    auto& h = header();
    // A creator publishes the magic last; give a concurrent create a moment.
    uint64_t magic = h.magic.load(kAcquire);
    for (int i = 0; magic == 0 && i < 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        magic = h.magic.load(kAcquire);
    }
    if (magic == 0) fail(Errc::region_corrupt, where(name_) + " was never finished by its creator" + fix(name_));
    if (magic != xl::kExchangeMagic) fail(Errc::region_corrupt, where(name_) + " is not a shmq exchange (bad magic)" + fix(name_));
    // Copies of the fixed fields: what we use from now on, whatever changes later.
    if (h.layout_version != xl::kExchangeLayoutVersion)
        fail(Errc::region_corrupt, where(name_) + " has layout version " + std::to_string(h.layout_version) +
                                       ", this shmq speaks " + std::to_string(xl::kExchangeLayoutVersion) + fix(name_));
    if (h.header_size != sizeof(xl::ExchangeHeader) || h.object_size != xl::kExchangeBytes)
        fail(Errc::region_corrupt, where(name_) + " has a header of another size" + fix(name_));
    const uint8_t type = h.type;
    if (type < static_cast<uint8_t>(xl::ExchangeType::direct) || type > static_cast<uint8_t>(xl::ExchangeType::headers))
        fail(Errc::region_corrupt, where(name_) + " has an unknown type " + std::to_string(type) + fix(name_));
    type_ = static_cast<xl::ExchangeType>(type);
    const uint8_t name_len = h.name_len, alt_len = h.alternate_len;
    if (name_len > xl::kNameBytes || text_of(h.name, name_len) != name_)
        fail(Errc::region_corrupt, where(name_) + " carries another exchange's name" + fix(name_));
    if (alt_len > xl::kNameBytes)
        fail(Errc::region_corrupt, where(name_) + " has an alternate of " + std::to_string(alt_len) + " bytes" + fix(name_));
    alternate_ = text_of(h.alternate, alt_len);
    if (!alternate_.empty() && check_name(alternate_, "alternate queue"))
        fail(Errc::region_corrupt, where(name_) + " has a bad alternate queue name" + fix(name_));
}

bool ExchangeTable::exists(std::string_view name) {
    if (check_name(name, "exchange")) return false;
    struct stat st {};
    return ::lstat(exchange_object_path(name).c_str(), &st) == 0;
}

std::vector<std::string> ExchangeTable::list_names() {
    std::vector<std::string> out;
    DIR* dir = ::opendir(std::string(kShmDir).c_str());
    if (dir == nullptr) return out;
    while (const dirent* d = ::readdir(dir)) {
        const std::string_view n = d->d_name;
        if (n.substr(0, kExchangePrefix.size()) != kExchangePrefix) continue;
        const std::string_view name = n.substr(kExchangePrefix.size());
        if (!check_name(name, "exchange")) out.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(out.begin(), out.end());
    return out;
}

void ExchangeTable::remove(std::string_view name) {
    if (auto err = check_name(name, "exchange")) fail(Errc::invalid_argument, *err);
    try {
        auto t = open(name, true);
        WriterLock lock(t->fd_, where(name));
        // seq_cst: routers and admins that load it after this see the exchange gone.
        t->header().lifecycle.store(static_cast<uint32_t>(xl::Lifecycle::deleted), std::memory_order_seq_cst);
    } catch (const Error& e) {
        if (e.code() == Errc::not_found) throw;  // corrupt or foreign: still removable below
    }
    if (::unlink(exchange_object_path(name).c_str()) != 0) {
        const int e = errno;
        if (e == ENOENT) fail(Errc::not_found, "no exchange named '" + std::string(name) + "'");
        fail(e == EACCES || e == EPERM ? Errc::permission_denied : Errc::invalid_argument,
             "cannot remove " + exchange_object_path(name) + ": " + errno_text(e));
    }
}

bool ExchangeTable::deleted() const noexcept {
    return header().lifecycle.load(kAcquire) != static_cast<uint32_t>(xl::Lifecycle::live);
}

uint64_t ExchangeTable::version_guess() const noexcept {
    return header().current.load(kAcquire) >> 1;  // acquire: pairs with W5, as R1
}

Errc ExchangeTable::snapshot(TableSnapshot& out, std::string* why) const {
    auto corrupt = [&](const std::string& what) {
        if (why) *why = where(name_) + ": " + what + fix(name_);
        return Errc::region_corrupt;
    };
    std::vector<uint64_t> words;
    for (int attempt = 0; attempt < kMaxReadAttempts; ++attempt) {
        const uint64_t c = header().current.load(kAcquire);  // R1: pairs with W5
        const uint64_t v = c >> 1;
        if (v == 0 || v >= xl::kMaxVersion) return corrupt("its current version " + std::to_string(v) + " is impossible");
        const auto& buf = buffer(c & 1);
        const uint64_t s1 = buf.stamp.load(kRelaxed);  // R2: ordered after R1 by its acquire
        if (s1 != 2 * v) {
            if (header().current.load(kAcquire) == c)  // case (2), nobody writes buffer i
                return corrupt("the buffer of version " + std::to_string(v) + " says it holds stamp " + std::to_string(s1));
            continue;  // case (2): reused by a later version
        }
        // R3: the head words, then as many entries as the (untrusted) count says, at most kMaxBindings.
        words.resize(xl::kImageHeadWords);
        for (std::size_t w = 0; w < xl::kImageHeadWords; ++w) words[w] = buf.words[w].load(kRelaxed);
        const uint64_t count_word = words[offsetof(xl::TableImage, binding_count) / 8];
        uint32_t count = 0;
        std::memcpy(&count, &count_word, sizeof count);  // the word's first 4 bytes: binding_count
        const uint32_t readable = std::min(count, xl::kMaxBindings);
        words.resize(xl::kImageHeadWords + std::size_t{readable} * xl::kBindingWords);
        for (std::size_t w = xl::kImageHeadWords; w < words.size(); ++w) words[w] = buf.words[w].load(kRelaxed);
        std::atomic_thread_fence(kAcquire);  // orders R3 before R4 (case (1)'s argument)
        if (buf.stamp.load(kRelaxed) != s1) continue;  // case (3)
        // case (1): a consistent copy of version v; now check it, as any bytes from shared memory.
        const uint64_t version = words[0];
        if (version != v) return corrupt("its table says version " + std::to_string(version) + ", not " + std::to_string(v));
        if (count > xl::kMaxBindings)
            return corrupt("its table claims " + std::to_string(count) + " bindings, more than " +
                           std::to_string(xl::kMaxBindings));
        out.version = v;
        out.bindings.resize(readable);
        for (uint32_t i = 0; i < readable; ++i) {
            xl::BindingEntry e;
            std::memcpy(&e, words.data() + xl::kImageHeadWords + std::size_t{i} * xl::kBindingWords, sizeof e);
            if (auto err = decode(type_, e, out.bindings[i]))
                return corrupt("binding " + std::to_string(i) + " is bad (" + *err + ")");
        }
        return Errc::ok;
    }
    if (why) *why = where(name_) + " changed " + std::to_string(kMaxReadAttempts) + " times while being read; try again";
    return Errc::timeout;
}

TableSnapshot ExchangeTable::locked_snapshot() const {
    TableSnapshot s;
    std::string why;
    // Under the writer lock nothing changes the table: only case (1) or corruption.
    if (snapshot(s, &why) != Errc::ok) fail(Errc::region_corrupt, why);
    return s;
}

uint64_t ExchangeTable::publish(const TableSnapshot& from, const std::vector<Binding>& bindings) {
    const uint64_t v = from.version;
    const uint64_t i = header().current.load(kRelaxed) & 1;  // W1: we hold the lock, it is ours to change
    const uint64_t j = 1 - i;
    const uint64_t nv = v + 1;
    if (nv >= xl::kMaxVersion) fail(Errc::no_resources, where(name_) + " has run out of versions" + fix(name_));
    auto image = std::make_unique<xl::TableImage>();
    std::memset(image.get(), 0, sizeof *image);
    image->version = nv;
    image->binding_count = static_cast<uint32_t>(bindings.size());
    for (std::size_t b = 0; b < bindings.size(); ++b) encode(bindings[b], image->bindings[b]);
    auto& buf = buffer(j);
    buf.stamp.store(2 * v + 1, kRelaxed);  // W2: odd, being written
    std::atomic_thread_fence(kRelease);     // W2 before any W3 store, for a reader that sees one (case (1))
    const std::size_t n = xl::kImageHeadWords + bindings.size() * xl::kBindingWords;
    const auto* src = reinterpret_cast<const uint64_t*>(image.get());
    for (std::size_t w = 0; w < n; ++w) {
        buf.words[w].store(src[w], kRelaxed);  // W3
        if (w == n / 2) crash_point(CrashPoint::after_exchange_half_write);
    }
    buf.stamp.store(2 * nv, kRelease);  // W4: buffer j holds nv
    header().current.store((nv << 1) | j, kRelease);  // W5: publishes W3/W4 to routers (R1)
    return nv;
}

BindOutcome ExchangeTable::bind(const Binding& b) {
    if (!writable_) fail(Errc::invalid_argument, "exchange '" + name_ + "' was opened read-only");
    if (auto err = check_binding(type_, b)) fail(Errc::invalid_argument, *err);
    std::optional<GraphLock> graph;
    if (b.kind == xl::DestKind::exchange) {
        if (b.dest == name_)
            fail(Errc::invalid_argument, "cannot bind exchange '" + name_ + "' to itself: that is a cycle");
        graph.emplace();  // before the writer lock, always in this order
        if (!exists(b.dest))
            fail(Errc::not_found, "no exchange named '" + b.dest + "'; create it with `shmq exchange create " + b.dest +
                                      " --type ...` first");
    } else if (!Queue::exists(b.dest)) {
        fail(Errc::not_found, "no queue named '" + b.dest + "'; create it with `shmq create " + b.dest + "` first");
    }
    WriterLock lock(fd_, where(name_));
    if (deleted()) fail(Errc::not_found, "exchange '" + name_ + "' was deleted");
    TableSnapshot cur = locked_snapshot();
    if (std::find(cur.bindings.begin(), cur.bindings.end(), b) != cur.bindings.end()) return {false, cur.version};
    if (cur.bindings.size() >= xl::kMaxBindings)
        fail(Errc::no_resources, "exchange '" + name_ + "' already has " + std::to_string(xl::kMaxBindings) +
                                     " bindings, the most it can hold; unbind some first");
    if (b.kind == xl::DestKind::exchange) {
        // Would name_ be reachable from b.dest? Walk exchange bindings by name
        // (a missing exchange has none). Stable: every edge insertion holds the graph lock.
        std::vector<std::pair<std::string, std::string>> seen{{b.dest, name_}};  // (exchange, reached from)
        for (std::size_t k = 0; k < seen.size(); ++k) {
            const std::string at = seen[k].first;
            std::shared_ptr<ExchangeTable> t;
            try {
                t = open(at, false);
            } catch (const Error&) {
                continue;
            }
            TableSnapshot s;
            if (t->snapshot(s) != Errc::ok) continue;
            for (const auto& e : s.bindings) {
                if (e.kind != xl::DestKind::exchange) continue;
                if (e.dest == name_) {
                    std::string path = name_ + " -> " + at;
                    for (std::string back = at; back != b.dest;) {
                        auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == back; });
                        back = it->second;
                        path.insert(path.find(" -> ") + 4, back + " -> ");
                    }
                    fail(Errc::invalid_argument, "binding exchange '" + name_ + "' to exchange '" + b.dest +
                                                     "' would create a cycle (" + path + " -> " + name_ +
                                                     "); unbind one of those first");
                }
                if (std::none_of(seen.begin(), seen.end(), [&](const auto& p) { return p.first == e.dest; }))
                    seen.emplace_back(e.dest, at);
            }
        }
    }
    cur.bindings.push_back(b);
    std::vector<Binding> next = std::move(cur.bindings);
    return {true, publish(cur, next)};
}

uint64_t ExchangeTable::unbind(xl::DestKind kind, std::string_view dest, std::string_view key) {
    if (!writable_) fail(Errc::invalid_argument, "exchange '" + name_ + "' was opened read-only");
    WriterLock lock(fd_, where(name_));
    if (deleted()) fail(Errc::not_found, "exchange '" + name_ + "' was deleted");
    TableSnapshot cur = locked_snapshot();
    std::vector<Binding> next;
    for (auto& b : cur.bindings)
        if (!(b.kind == kind && b.dest == dest && b.key == key)) next.push_back(b);
    if (next.size() == cur.bindings.size())
        fail(Errc::not_found, "exchange '" + name_ + "' has no binding to " +
                                  (kind == xl::DestKind::exchange ? "exchange '" : "queue '") + std::string(dest) +
                                  "' with key '" + std::string(key) + "'; see `shmq exchange ls`");
    return publish(cur, next);
}

}  // namespace shmq::detail
