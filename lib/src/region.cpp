#include "shmq/internal/region.hpp"

#include <boost/interprocess/exceptions.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <thread>
#include <unistd.h>

#include "layout/layout_math.hpp"
#include "shmq/internal/groups.hpp"
#include "shmq/internal/keyed_lane.hpp"
#include "shmq/internal/names.hpp"
#include "shmq/internal/damage.hpp"
#include "shmq/internal/dedup.hpp"
#include "shmq/internal/delay_store.hpp"
#include "shmq/internal/reclaim.hpp"
#include "shmq/internal/slot_state.hpp"
#include "shmq/internal/clock.hpp"
#include "shmq/internal/futex.hpp"

namespace bip = boost::interprocess;

namespace shmq::detail {

namespace {

[[noreturn]] void fail(Errc code, const std::string& what) { throw Error(code, what); }

layout::QueueParams params_from(const QueueOptions& o) {
    layout::QueueParams p{};
    p.partitions = o.partitions;
    p.capacity = o.capacity;
    p.max_message = o.max_message;
    p.lease_ms = o.lease_ms;
    p.max_deliveries = o.max_deliveries;
    p.dlq_capacity = o.dlq_capacity;
    p.max_groups = static_cast<uint16_t>(std::min<uint32_t>(o.max_groups, 0xffff));
    p.max_participants = static_cast<uint16_t>(std::min<uint32_t>(o.max_participants, 0xffff));
    p.on_full = static_cast<uint8_t>(o.on_full);
    p.high_watermark_pct = static_cast<uint8_t>(std::min<uint32_t>(o.high_watermark_pct, 0xff));
    p.mode = o.mode;
    p.fsync = static_cast<uint8_t>(o.fsync);
    p.journal = o.journal ? 1 : 0;
    p.retain_bytes = o.retain_bytes;
    p.retain_ms = o.retain_ms;
    p.dedup_window_ms = o.dedup_window_ms;
    p.dedup_content = o.dedup_content ? 1 : 0;
    p.dedup_capacity = o.dedup_capacity;
    p.keyed_groups = std::min(o.keyed_groups, o.max_groups);
    p.message_ttl_ms = o.message_ttl_ms;
    p.ttl_action = static_cast<uint8_t>(o.ttl_action);
    p.delay_capacity = o.delay_capacity;
    if (o.on_full == OnFull::spill)
        p.spill_capacity = o.spill_buffer != 0 ? o.spill_buffer : std::max<uint32_t>(o.capacity, 1024);
    else
        p.spill_capacity = o.spill_buffer;  // non-zero is refused by check_and_derive
    if (o.dedup_window_ms != 0 && o.dedup_capacity == 0)  // the default: one id per slot, ring and staging
        p.dedup_capacity = static_cast<uint32_t>(std::min<uint64_t>(
            uint64_t{o.partitions} * (uint64_t{o.capacity} + p.spill_capacity), layout::kMaxDedupCapacity));
    return p;
}

QueueOptions options_from(const layout::QueueParams& p) {
    QueueOptions o;
    o.partitions = p.partitions;
    o.capacity = p.capacity;
    o.max_message = p.max_message;
    o.on_full = static_cast<OnFull>(p.on_full);
    o.lease_ms = p.lease_ms;
    o.max_groups = p.max_groups;
    o.max_participants = p.max_participants;
    o.max_deliveries = p.max_deliveries;
    o.dlq_capacity = p.dlq_capacity;
    o.mode = p.mode;
    o.high_watermark_pct = p.high_watermark_pct;
    o.spill_buffer = p.spill_capacity;
    o.fsync = static_cast<Fsync>(p.fsync);
    o.journal = p.journal != 0;
    o.retain_bytes = p.retain_bytes;
    o.retain_ms = p.retain_ms;
    o.dedup_window_ms = p.dedup_window_ms;
    o.dedup_capacity = p.dedup_capacity;
    o.dedup_content = p.dedup_content != 0;
    o.keyed_groups = p.keyed_groups;
    o.message_ttl_ms = p.message_ttl_ms;
    o.ttl_action = static_cast<TtlAction>(p.ttl_action);
    o.delay_capacity = p.delay_capacity;
    return o;
}

uint64_t random_u64() {
    uint64_t v = 0;
    if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = sys::monotonic_ns() ^ (uint64_t(::getpid()) << 32);
    return v;
}

std::string mib(uint64_t bytes) {
    if (bytes < (1 << 20)) return std::to_string((bytes + 1023) >> 10) + " KiB";
    return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

// "owned by uid 1000, gid 50, mode 0660" (of the file itself, never through a symlink).
std::string owner_text(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return "unreadable";
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "owned by uid " + std::to_string(st.st_uid) + ", gid " + std::to_string(st.st_gid) + ", mode " + mode;
}

std::string nofile_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return "?";
    return rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur);
}

// One line for an open, create or map of `path` that failed with errno `e`:
// what failed, the value that matters, and what to do.
[[noreturn]] void fail_errno(int e, const std::string& doing, const std::string& path, const std::string& queue,
                             Access access) {
    switch (e) {
        case EACCES:
        case EPERM:
            fail(Errc::permission_denied,
                 "permission denied: cannot " + doing + " " + path + " (" + owner_text(path) + ", we are uid " +
                     std::to_string(::geteuid()) + "); run as its owner, or have it created with `shmq create " +
                     queue + (access == Access::read_only ? " --mode 0640" : " --mode 0660") +
                     " --group GROUP` and join that group");
        case EMFILE:
            fail(Errc::no_resources, "too many open files: cannot " + doing + " " + path +
                                         ": this process is at its descriptor limit (RLIMIT_NOFILE " + nofile_limit() +
                                         "); raise it (`ulimit -n`, systemd LimitNOFILE=) or close descriptors");
        case ENFILE:
            fail(Errc::no_resources, "too many open files: cannot " + doing + " " + path +
                                         ": the system's file table is full; raise fs.file-max or close files");
        case ENOMEM:
            fail(Errc::no_resources, "out of memory: cannot " + doing + " " + path +
                                         " (address space: RLIMIT_AS, vm.max_map_count); raise the limit or use a "
                                         "smaller queue");
        case ELOOP:
            fail(Errc::invalid_argument, path + " is a symlink; shmq never follows symlinks in " + std::string(kShmDir) +
                                             ": remove it (rm " + path + ")");
        default:  // ENOENT: removed between our steps
            fail(e == ENOENT ? Errc::not_found : Errc::invalid_argument,
                 "cannot " + doing + " " + path + ": " + std::strerror(e));
    }
}

int native_errno(const bip::interprocess_exception& e) {
    const int native = e.get_native_error();
    return native != 0 ? native : EIO;
}

}  // namespace

Region::~Region() {
    if (probe_fd_ >= 0) ::close(probe_fd_);
}

void Region::adopt(bip::shared_memory_object shm, Access access) {
    shm_.swap(shm);
    access_ = access;
    lock_fd_ = shm_.get_mapping_handle().handle;
    // O_RDWR where we may: the reaper takes write locks through this descriptor.
    const std::string path = std::string(kShmDir) + "/" + object_;
    probe_fd_ = ::open(path.c_str(), (access == Access::read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    ::fcntl(lock_fd_, F_SETFD, FD_CLOEXEC);
    // Without the probe descriptor every liveness probe would answer "alive":
    // refuse here, with the reason (a descriptor limit, mostly).
    if (probe_fd_ < 0) fail_errno(errno, "open a second descriptor of", path, name_, access);
    struct stat a {}, b {};
    if (::fstat(lock_fd_, &a) != 0 || ::fstat(probe_fd_, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        fail(Errc::invalid_argument, path + " was replaced while it was opened; try again");
}

std::shared_ptr<Region> Region::create(std::string_view name, const QueueOptions& options, const CreateSpec& spec) {
    if (auto err = check_name(name, "queue")) fail(Errc::invalid_argument, *err);
    layout::QueueParams params = params_from(options);
    params.history = spec.history ? 1 : 0;
    if (options.max_groups > 0xffff || options.max_participants > 0xffff)
        fail(Errc::invalid_argument, "max-groups / max-participants out of range");
    if (auto err = layout::check_and_derive(params)) fail(Errc::invalid_argument, *err);
    layout::SectionTable sections = layout::compute_sections(params);

    std::shared_ptr<Region> r(new Region());
    r->name_ = std::string(name);
    const std::string object = spec.object.empty() ? region_object_name(name) : spec.object;
    r->object_ = object;
    const std::string path = std::string(kShmDir) + "/" + object;
    bip::shared_memory_object shm;
    try {
        // Given to a group: owner-only until it is that group's (no window in
        // which the creator's own group could open it).
        const int first_mode = spec.gid ? 0600 : static_cast<int>(params.mode);
        shm = bip::shared_memory_object(bip::create_only, object.c_str(), bip::read_write, bip::permissions(first_mode));
    } catch (const bip::interprocess_exception& e) {
        if (e.get_error_code() == bip::already_exists_error)
            fail(Errc::already_exists,
                 "queue '" + r->name_ + "' already exists; delete it first with `shmq delete " + r->name_ + "`");
        const int err = native_errno(e);
        if (err == EACCES || err == EPERM)
            fail(Errc::permission_denied, "permission denied: cannot create " + path + " (" + std::string(kShmDir) +
                                             " " + owner_text(std::string(kShmDir)) +
                                             "); it must be writable by everyone (mode 1777, like /tmp)");
        if (err == ENOSPC)
            fail(Errc::no_resources, "no room in " + std::string(kShmDir) + " for queue '" + r->name_ +
                                         "' (no free inode); delete unused queues or enlarge " + std::string(kShmDir));
        fail_errno(err, "create", path, r->name_, Access::read_write);
    }
    // From here on a failure must not leave a half-made region behind.
    try {
        if (spec.gid) {
            const int fd = shm.get_mapping_handle().handle;
            if (::fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(*spec.gid)) != 0) {
                const int err = errno;
                fail(err == EPERM ? Errc::permission_denied : Errc::invalid_argument,
                     (err == EPERM ? std::string("permission denied: ") : std::string()) + "cannot give " + path +
                         " to group " + std::to_string(*spec.gid) + ": " + std::strerror(err) +
                         (err == EPERM ? "; only root or a member of that group may (see `id`)" : ""));
            }
            if (::fchmod(fd, static_cast<mode_t>(params.mode)) != 0) {
                const int err = errno;
                fail(err == EPERM ? Errc::permission_denied : Errc::invalid_argument,
                     "cannot set the mode of " + path + ": " + std::strerror(err));
            }
        }
        shm.truncate(static_cast<bip::offset_t>(sections.end));
        int rc = ::posix_fallocate(shm.get_mapping_handle().handle, 0, static_cast<off_t>(sections.end));
        if (rc != 0) {
            struct statvfs vfs {};
            std::string free_note;
            if (::statvfs(std::string(kShmDir).c_str(), &vfs) == 0)
                free_note = ", " + mib(uint64_t(vfs.f_bavail) * vfs.f_frsize) + " free";
            fail(Errc::no_resources, "no room in /dev/shm for queue '" + r->name_ + "': it needs " +
                                         mib(sections.end) + free_note + " (" + std::strerror(rc) +
                                         "); delete unused queues, enlarge /dev/shm (mount -o remount,size=...) or "
                                         "lower --capacity/--max-message/--partitions");
        }
        r->adopt(std::move(shm), Access::read_write);
        r->map(bip::read_write);
        r->size_ = sections.end;
        r->params_ = params;
        r->sections_ = sections;
        r->dedup_entries_ = layout::dedup_entries(params);
        r->options_ = options_from(params);
        r->initialize(params, spec);
    } catch (const bip::interprocess_exception& e) {
        bip::shared_memory_object::remove(object.c_str());
        fail_errno(native_errno(e), "size", path, r->name_, Access::read_write);
    } catch (...) {
        bip::shared_memory_object::remove(object.c_str());
        throw;
    }
    return r;
}

void Region::map(bip::mode_t mode) {
    const std::string path = std::string(kShmDir) + "/" + object_;
    try {
        map_ = bip::mapped_region(shm_, mode);
    } catch (const bip::interprocess_exception& e) {
        fail_errno(native_errno(e), "map", path, name_, access_);
    }
    base_ = static_cast<std::byte*>(map_.get_address());
}

void Region::initialize(const layout::QueueParams& params, const CreateSpec& spec) {
    // The object is fresh and zero-filled; write only what is not zero.
    auto& h = header();
    h.layout_version = layout::kLayoutVersion;
    h.header_size = sizeof(layout::RegionHeader);
    h.region_size = size_;
    epoch_ = h.queue_epoch = spec.epoch != 0 ? spec.epoch : random_u64();
    h.created_unix_ns = sys::unix_ns();
    h.params = params;
    h.sections = sections_;
    std::memset(h.name, 0, sizeof h.name);
    std::memcpy(h.name, name_.data(), name_.size());
    h.lifecycle.store(static_cast<uint32_t>(layout::Lifecycle::live), std::memory_order_relaxed);
    // Slot of offset o in [base, base + capacity): "free for lap o - capacity".
    auto init_ring = [](const ring::RingRef& ring, uint64_t base) {
        for (uint64_t o = base; o < base + ring.capacity; ++o) {
            ring.state(o).store(ring::initial_state(o, ring.capacity), std::memory_order_relaxed);
            ring.claim(o).store(ring::initial_claim(o, ring.capacity), std::memory_order_relaxed);
        }
    };
    auto base_of = [&](uint32_t p) { return p < spec.base.size() ? spec.base[p] : 0; };
    for (uint32_t p = 0; p < params.partitions; ++p) {
        init_ring(ring::partition_ring(*this, p), base_of(p));
        auto& pc = partition(p);
        pc.tail.store(base_of(p), std::memory_order_relaxed);
        pc.head.store(base_of(p), std::memory_order_relaxed);
        pc.journal_floor.store(base_of(p), std::memory_order_relaxed);
        if (p < spec.replay_end.size()) pc.replay_end.store(spec.replay_end[p], std::memory_order_relaxed);
    }
    for (uint32_t p = 0; p < params.partitions && params.spill_capacity != 0; ++p) {
        const auto [first, end] = p < spec.spill_backlog.size() ? spec.spill_backlog[p] : std::pair<uint64_t, uint64_t>{};
        init_ring(ring::spill_ring(*this, p), end);
        auto& pc = partition(p);
        pc.spill_head.store(end, std::memory_order_relaxed);
        pc.spill_refilled.store(first, std::memory_order_relaxed);
        // Active while a backlog waits: every send goes behind it (shmq/internal/spill_protocol.hpp).
        pc.spill_tail.store(end | (first < end ? layout::kSpillActive : 0), std::memory_order_relaxed);
    }
    init_ring(ring::dlq_ring(*this), 0);
    uint32_t keyed_lanes = 0;  // taken by the keyed groups below, in order
    for (uint32_t g = 0; g < spec.groups.size() && g < params.max_groups; ++g) {
        const auto& ig = spec.groups[g];
        if (ig.kind == GroupKind::keyed) {
            if (keyed_lanes == params.keyed_groups)
                fail(Errc::invalid_argument, "group '" + ig.name + "' is keyed, but queue '" + name_ +
                                                 "' holds only " + std::to_string(params.keyed_groups) +
                                                 " keyed group(s); raise --keyed-groups");
            ring::reset_keyed_lane(*this, keyed_lanes, layout::group_state(1, ig.kind, layout::kGroupActive));
            group(g).keyed_lane.store(++keyed_lanes, std::memory_order_relaxed);
        }
        for (uint32_t p = 0; p < params.partitions; ++p) init_group_partition(*this, g, p, base_of(p));
        store_group_name(group(g), ig.name);
        group(g).created_unix_ns.store(sys::unix_ns(), std::memory_order_relaxed);
        group(g).replay_state.store(static_cast<uint32_t>(ig.replay), std::memory_order_relaxed);
        if (ig.replay != layout::ReplayState::none)
            group(g).replay_result.store(static_cast<uint32_t>(layout::ReplayResult::started), std::memory_order_relaxed);
        group(g).state.store(layout::group_state(1, ig.kind, layout::kGroupActive), std::memory_order_relaxed);
    }
    if (dedup_on() && !spec.dedup_ids.empty()) {
        // Before the magic: nobody else adds (restore_committed's premise),
        // and nobody contends for the reset locks our token takes.
        const uint64_t now_ms = sys::unix_ns() / 1'000'000;
        const uint64_t token = layout::owner_token(1, 0);
        for (const auto& d : spec.dedup_ids)
            (void)dedup::restore_committed(*this, token, dedup::IdHash{d.hash_a, d.hash_b}, d.unix_ms, now_ms,
                                           d.partition, d.offset, d.staged);
    }
    if (params.delay_capacity != 0) {
        delay::init(*this);
        // A queue recreated from its journal: the delayed messages of shmqd's
        // snapshot, before the magic (nobody else holds the lock yet).
        const uint64_t token = layout::owner_token(1, 0);
        for (const auto& d : spec.delayed) {
            delay::StoredMessage m;
            m.payload = std::as_bytes(std::span(d.payload.data(), d.payload.size()));
            m.key = d.key;
            m.id = d.id;
            m.flags = d.flags;
            m.partition = d.partition <= params.partitions ? d.partition : 0;
            m.due_unix_ns = d.due_unix_ns;
            m.sent_unix_ns = d.sent_unix_ns;
            bool earliest = false, ring = false;
            (void)delay::add(*this, token, m, earliest, ring);  // beyond the capacity: left out
        }
    }
        // Publishes every store above to attachers, which acquire-load the magic.
    h.magic.store(layout::kMagic, std::memory_order_release);
}

std::shared_ptr<Region> Region::open(std::string_view name, Access access, bool wait_for_creator,
                                     std::string_view object_name) {
    if (auto err = check_name(name, "queue")) fail(Errc::invalid_argument, *err);
    std::shared_ptr<Region> r(new Region());
    r->name_ = std::string(name);
    const std::string object = object_name.empty() ? region_object_name(name) : std::string(object_name);
    r->object_ = object;
    const std::string path = std::string(kShmDir) + "/" + object;
    bip::shared_memory_object shm;
    const bip::mode_t mode = access == Access::read_only ? bip::read_only : bip::read_write;
    try {
        shm = bip::shared_memory_object(bip::open_only, object.c_str(), mode);
    } catch (const bip::interprocess_exception& e) {
        if (e.get_error_code() == bip::not_found_error)
            fail(Errc::not_found, "no queue named '" + r->name_ + "'; create it with `shmq create " + r->name_ + "`");
        fail_errno(native_errno(e), "open", path, r->name_, access);
    }
    bip::offset_t size = 0;
    if (!shm.get_size(size) || size < static_cast<bip::offset_t>(sizeof(layout::RegionHeader)))
        fail(Errc::region_corrupt, path + " is too small (" + std::to_string(size) +
                                       " bytes) to be a shmq queue; delete it with `shmq delete " + r->name_ + "`");
    r->adopt(std::move(shm), access);
    r->map(access == Access::read_only ? bip::read_only : bip::read_write);
    r->size_ = static_cast<uint64_t>(size);
    r->validate_and_load(wait_for_creator);
    return r;
}

void Region::validate_and_load(bool wait_for_creator) {
    const std::string where = "queue '" + name_ + "' (" + std::string(kShmDir) + "/" + object_ + ")";
    auto& h = header();
    // A creator publishes the magic last; give a concurrent create a moment.
    uint64_t magic = h.magic.load(std::memory_order_acquire);
    for (int i = 0; magic == 0 && wait_for_creator && i < 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        magic = h.magic.load(std::memory_order_acquire);
    }
    // Marked by shmqd (shmq/internal/damage.hpp): every refusal below says what it found.
    const std::string found = lifecycle() == layout::Lifecycle::corrupt
                                  ? "; shmqd found it damaged: " + damage_reason(*this) : std::string();
    const std::string fix = found + "; delete it with `shmq delete " + name_ + "` and create it again";
    if (magic == 0) fail(Errc::region_corrupt, where + " was never finished by its creator" + fix);
    if (magic != layout::kMagic) fail(Errc::region_corrupt, where + " is not a shmq region (bad magic)" + fix);
    // Copy before checking: the copy is what we use from now on.
    const uint32_t version = h.layout_version;
    if (version != layout::kLayoutVersion)
        fail(Errc::region_corrupt, where + " has layout version " + std::to_string(version) + ", this shmq speaks " +
                                       std::to_string(layout::kLayoutVersion) + fix);
    if (h.header_size != sizeof(layout::RegionHeader))
        fail(Errc::region_corrupt, where + " has a header of " + std::to_string(h.header_size) + " bytes" + fix);
    std::memcpy(&params_, &h.params, sizeof params_);
    if (auto err = layout::check_params(params_)) fail(Errc::region_corrupt, where + " has bad parameters: " + *err + fix);
    sections_ = layout::compute_sections(params_);
    dedup_entries_ = layout::dedup_entries(params_);
    layout::SectionTable stored;
    std::memcpy(&stored, &h.sections, sizeof stored);
    if (std::memcmp(&stored, &sections_, sizeof stored) != 0)
        fail(Errc::region_corrupt, where + " has a section table that does not match its parameters" + fix);
    if (h.region_size != size_ || sections_.end != size_)
        fail(Errc::region_corrupt, where + " is " + std::to_string(size_) + " bytes but its header says " +
                                       std::to_string(h.region_size) + fix);
    char stored_name[layout::kNameMax + 1] = {};
    std::memcpy(stored_name, h.name, layout::kNameMax);
    if (name_ != stored_name) fail(Errc::region_corrupt, where + " carries another queue's name ('" + stored_name + "')" + fix);
    // Found damaged by shmqd: readable (stat shows why), never served again.
    if (access_ == Access::read_write && !found.empty()) fail(Errc::region_corrupt, where + " is unusable" + fix);
    epoch_ = h.queue_epoch;
    options_ = options_from(params_);
}

// inotify reports a write() to the file (IN_MODIFY); stores through the
// mapping are never reported, so only this rings. Best effort: a read-only
// descriptor (EBADF) or no shmqd watching costs the syscall and nothing else.
void ring_daemon(const Region& r) noexcept {
    const uint8_t zero = 0;
    (void)!::pwrite(r.probe_fd(), &zero, 1, offsetof(layout::RegionHeader, daemon_bell));
}

void wake_all_sleepers(const Region& r) noexcept {
    auto bump = [](std::atomic<uint32_t>& bell) {
        bell.fetch_add(1, std::memory_order_seq_cst);
        sys::futex_wake_all(bell);
    };
    bump(r.header().consumer_doorbell);
    bump(r.header().dlq_doorbell);
    for (uint32_t p = 0; p < r.partitions(); ++p) bump(r.partition(p).space_doorbell);
}

void Region::remove_self() noexcept {
    header().lifecycle.store(static_cast<uint32_t>(layout::Lifecycle::deleted), std::memory_order_seq_cst);
    wake_all_sleepers(*this);
    bip::shared_memory_object::remove(object_.c_str());
}

void Region::remove(std::string_view name, bool keep_journal) {
    if (auto err = check_name(name, "queue")) fail(Errc::invalid_argument, *err);
    const std::string object = region_object_name(name);
    // Tell attached peers first, when the region is one of ours.
    try {
        auto r = open(name, Access::read_write);
        r->header().lifecycle.store(
            static_cast<uint32_t>(keep_journal ? layout::Lifecycle::region_removed : layout::Lifecycle::deleted),
            std::memory_order_seq_cst);
        wake_all_sleepers(*r);
    } catch (const Error&) {
        // Corrupt or foreign: still removable below.
    }
    if (!bip::shared_memory_object::remove(object.c_str())) {
        const int err = errno;
        if (err == EACCES || err == EPERM)
            fail(Errc::permission_denied, "permission denied: cannot remove " + region_path(name) + " (" +
                                             owner_text(region_path(name)) + ", we are uid " +
                                             std::to_string(::geteuid()) + "); run as its owner or root");
        if (err != ENOENT) fail(Errc::invalid_argument, "cannot remove " + region_path(name) + ": " + std::strerror(err));
        fail(Errc::not_found, "no queue named '" + std::string(name) + "'");
    }
}

}  // namespace shmq::detail
