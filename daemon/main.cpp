// shmqd: the supervisor daemon. One per host (flock on a lock file).
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <optional>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.hpp"
#include "log.hpp"
#include "supervisor.hpp"

namespace {

bool make_dirs(const std::string& path) {
    std::string at;
    for (std::size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || (path[i] == '/' && i > 0)) {
            at = path.substr(0, i);
            if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) return false;
        }
    }
    return true;
}

// shmqd never follows a symlink inside its data dir (the data dir itself
// may be one: that is its admin's choice). Queue directories and segments
// are opened with O_NOFOLLOW (daemon/disk/partition_dir.hpp); the two
// directories above them, journal/ and spill/, are checked here, and the
// data dir must be ours and writable by nobody else, so that nobody else
// can plant a symlink there while we run.
std::optional<std::string> check_data_dir(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "cannot stat data dir " + dir + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return "data dir " + dir + " is not a directory";
    if (st.st_uid != ::geteuid())
        return "data dir " + dir + " is owned by uid " + std::to_string(st.st_uid) + ", not by shmqd's uid " +
               std::to_string(::geteuid()) + "; chown it or choose another --data-dir";
    if ((st.st_mode & 022) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return "data dir " + dir + " has mode " + mode + ": others could plant symlinks in it; chmod go-w " + dir;
    }
    for (const char* sub : {"journal", "spill"}) {
        const std::string path = dir + "/" + sub;
        if (::lstat(path.c_str(), &st) != 0) continue;  // made when first needed
        if (S_ISLNK(st.st_mode))
            return path + " is a symlink; shmqd never follows symlinks in its data dir: replace it with a directory "
                          "(or point --data-dir at the real place)";
        if (!S_ISDIR(st.st_mode)) return path + " is not a directory; remove it";
        if (st.st_uid != ::geteuid())
            return path + " is owned by uid " + std::to_string(st.st_uid) + ", not by shmqd's uid " +
                   std::to_string(::geteuid()) + "; chown it";
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace shmq::daemon;
    Config config;
    if (int rc = parse_config(argc, argv, config); rc >= 0) return rc;
    Level level = Level::info;
    parse_level(config.log_level, level);
    set_level(level);

    const int lock_fd = ::open(config.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (lock_fd < 0) {
        std::cerr << "shmqd: cannot open lock file " << config.lock_file << ": " << std::strerror(errno)
                  << " (choose another with --lock-file)\n";
        return 1;
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = {};
        (void)!::pread(lock_fd, pid, sizeof pid - 1, 0);
        std::cerr << "shmqd: another shmqd is running (pid " << (pid[0] ? std::string(pid, strcspn(pid, "\n")) : "?")
                  << ", holding " << config.lock_file << "); stop it first\n";
        return 1;
    }
    const std::string me = std::to_string(::getpid()) + "\n";
    (void)!::ftruncate(lock_fd, 0);
    (void)!::pwrite(lock_fd, me.data(), me.size(), 0);
    if (!make_dirs(config.data_dir)) {
        std::cerr << "shmqd: cannot create data dir " << config.data_dir << ": " << std::strerror(errno)
                  << " (choose another with --data-dir)\n";
        return 1;
    }
    if (auto err = check_data_dir(config.data_dir)) {
        std::cerr << "shmqd: " << *err << "\n";
        return 1;
    }
    try {
        Supervisor supervisor(argc, argv, config);
        return supervisor.run();
    } catch (const std::exception& e) {
        std::cerr << "shmqd: " << e.what() << "\n";
        return 1;
    }
}
