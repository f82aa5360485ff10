#include "daemon_clients.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"

extern char** environ;

namespace shmq::cli::bench {

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Runs `shmq ls` (this binary) with its output in a memfd; returns the rows.
uint64_t run_ls_once() {
    const int out = ::memfd_create("shmq-bench-ls", MFD_CLOEXEC);
    if (out < 0) throw BenchError(std::string("memfd_create: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char exe[] = "/proc/self/exe", verb[] = "ls", name[] = "shmq";
    char* argv[] = {name, verb, nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, exe, &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        ::close(out);
        throw BenchError(std::string("cannot run shmq ls: ") + std::strerror(rc));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    uint64_t lines = 0;
    char buf[65536];
    ::lseek(out, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;) lines += static_cast<uint64_t>(std::count(buf, buf + n, '\n'));
    ::close(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw BenchError("shmq ls failed (status " + std::to_string(status) + ")");
    return lines > 0 ? lines - 1 : 0;  // less the header
}

// GET /metrics; returns the body's size. Throws unless the answer is 200.
uint64_t scrape_once(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw BenchError(std::string("socket: ") + std::strerror(errno));
    const timeval limit{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0 &&
              ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    char buf[65536];
    for (ssize_t n; ok && (n = ::recv(fd, buf, sizeof buf, 0)) != 0;) {
        if (n < 0) ok = errno == EINTR;
        else answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto body = answer.find("\r\n\r\n");
    if (!ok || answer.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos)
        throw BenchError("GET http://127.0.0.1:" + std::to_string(port) + "/metrics failed: " +
                         (answer.empty() ? std::string(std::strerror(errno)) : answer.substr(0, answer.find('\r'))));
    return answer.size() - body - 4;
}

template <class F>
ClientTiming timed(int runs, F&& once) {
    ClientTiming t;
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const uint64_t start = now_ns();
        t.size = once();
        ms.push_back(static_cast<double>(now_ns() - start) / 1e6);
    }
    t.median_ms = median(ms);
    return t;
}

}  // namespace

ClientTiming time_ls(int runs) { return timed(runs, [] { return run_ls_once(); }); }
ClientTiming time_scrape(uint16_t port, int runs) { return timed(runs, [&] { return scrape_once(port); }); }

}  // namespace shmq::cli::bench
