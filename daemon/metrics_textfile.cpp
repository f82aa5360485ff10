#include "metrics_textfile.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "log.hpp"

namespace shmq::daemon {

std::optional<std::string> write_file_atomically(const std::string& path, std::string_view text) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    // "cannot <what>: <reason>", and the temporary file gone.
    auto failed = [&](const std::string& what) {
        std::string line = "cannot " + what + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return line;
    };
    // 0644: node_exporter usually runs as another user.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return failed("create " + tmp);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            std::string line = failed("write " + tmp);
            ::close(fd);
            return line;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        std::string line = failed("fsync " + tmp);
        ::close(fd);
        return line;
    }
    if (::close(fd) != 0) return failed("close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("rename " + tmp + " to " + path);
    return std::nullopt;
}

void MetricsTextfile::refresh(const std::function<std::string()>& render, uint64_t now) {
    next_due_ns_ = now + interval_ns_;
    std::optional<std::string> error;
    try {
        error = write_file_atomically(path_, render());
    } catch (const std::exception& e) {
        error = std::string("rendering the metrics failed: ") + e.what();
    }
    if (!error) {
        if (!failing_.empty()) log(Level::info, "metrics textfile " + path_ + " written again");
        failing_.clear();
        return;
    }
    if (*error != failing_)
        log(Level::error, "metrics textfile: " + *error + " (check --metrics-textfile; retrying every " +
                              std::to_string(interval_ns_ / 1'000'000) + " ms)");
    failing_ = *error;
}

}  // namespace shmq::daemon
