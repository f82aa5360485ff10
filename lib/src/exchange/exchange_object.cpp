// An exchange object's life: create, open (checking its header), list, remove.
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

#include "exchange_common.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/exchange_table.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/process.hpp"
#include "writer_locks.hpp"

namespace shmq::detail {

namespace xl = xlayout;
using namespace exchange;

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

ExchangeTable::~ExchangeTable() {
    if (base_ != nullptr) ::munmap(base_, xl::kExchangeBytes);
    if (fd_ >= 0) ::close(fd_);  // drops the lock of a publisher count it held
}

std::atomic<uint64_t>* ExchangeTable::take_publisher_count() noexcept {
    if (!writable_ || fd_ < 0) return nullptr;
    for (uint32_t i = 0; i < xl::kPublisherCounts; ++i)
        if (sys::try_lock_byte(fd_, xl::kPublisherCountLockByte + i)) return &header().publisher_routed[i].routed;
    return nullptr;
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
    return open_mapped(name, writable, true);
}

std::shared_ptr<ExchangeTable> ExchangeTable::open_if_finished(std::string_view name) {
    return open_mapped(name, false, false);
}

std::shared_ptr<ExchangeTable> ExchangeTable::open_mapped(std::string_view name, bool writable, bool wait_for_creator) {
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
    if (!t->validate_header(wait_for_creator)) return nullptr;
    return t;
}

bool ExchangeTable::validate_header(bool wait_for_creator) {
    auto& h = header();
    // A creator publishes the magic last; give a concurrent create a moment.
    uint64_t magic = h.magic.load(kAcquire);
    if (magic == 0 && !wait_for_creator) return false;
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
    return true;
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
        // Never waits for a creator: an unfinished one has no routers to tell.
        if (auto t = open_mapped(name, true, false)) {
            WriterLock lock(t->fd_, where(name));
            // seq_cst: routers and admins that load it after this see the exchange gone.
            t->header().lifecycle.store(static_cast<uint32_t>(xl::Lifecycle::deleted), std::memory_order_seq_cst);
            // Then a new version with the same bindings (W1..W5): a publisher's
            // cached plan checks only `current`, so it routes anew and finds
            // the exchange deleted. A router that reads this version (acquire,
            // pairing with W5) also sees the mark stored before it.
            try {
                const TableSnapshot s = t->locked_snapshot();
                t->publish(s, s.bindings);
            } catch (const Error&) {
                // A damaged table: no cached plan can hold on it (every read fails); unlinked all the same.
            }
        }
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

}  // namespace shmq::detail
