// A 3-node NATS JetStream cluster on loopback for the bridge tests: free
// ports, one config per node (server_name, jetstream store_dir, cluster
// routes to all three), store dirs and logs in a temporary directory, each
// node a child process (killed with the test). Nodes can be killed with
// SIGKILL and started again on the same ports and store, one or all.
//
// Needs `nats-server` on PATH (Debian: nats-server) and libnats (the
// readiness probe and the stream readers).
#pragma once

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace shmq::test {

// A TCP port on 127.0.0.1 nobody listened on a moment ago.
inline uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error(std::string("bind/getsockname: ") + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A child process: argv[0] looked up on PATH, stdout+stderr appended to `log`.
inline pid_t spawn_logged(const std::vector<std::string>& args, const std::filesystem::path& log) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = log.string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
        if (::getppid() != parent) ::_exit(127);
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
            ::close(fd);
        }
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

// SIGKILL (or `sig`) and reap; no-op for pid <= 0.
inline void kill_and_reap(pid_t& pid, int sig = SIGKILL) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
}

inline std::string file_tail(const std::filesystem::path& path, std::size_t bytes = 3000) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    std::string all = s.str();
    return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

class NatsCluster {
public:
    static constexpr int kNodes = 3;

    explicit NatsCluster(const std::filesystem::path& dir) : dir_(dir) {
        for (auto& n : nodes_) {
            n.client_port = free_loopback_port();
            n.cluster_port = free_loopback_port();
        }
        for (int i = 0; i < kNodes; ++i) write_config(i);
    }
    ~NatsCluster() {
        for (auto& n : nodes_) kill_and_reap(n.pid);
    }
    NatsCluster(const NatsCluster&) = delete;
    NatsCluster& operator=(const NatsCluster&) = delete;

    void start(int i) {
        if (nodes_[i].pid > 0) return;
        nodes_[i].pid = spawn_logged({"nats-server", "-c", config(i).string()}, log(i));
    }
    void start_all() {
        for (int i = 0; i < kNodes; ++i) start(i);
    }
    void kill(int i) { kill_and_reap(nodes_[i].pid); }
    void kill_all() {
        for (int i = 0; i < kNodes; ++i) kill(i);
    }
    bool running(int i) const { return nodes_[i].pid > 0; }

    std::string url(int i) const { return "nats://127.0.0.1:" + std::to_string(nodes_[i].client_port); }
    // Every node's URL, comma-separated (what `shmq bridge --nats` takes).
    std::string urls() const {
        std::string s;
        for (int i = 0; i < kNodes; ++i) s += (i ? "," : "") + url(i);
        return s;
    }
    std::filesystem::path log(int i) const { return dir_ / ("n" + std::to_string(i + 1) + ".log"); }
    std::string logs_tail() const {
        std::string s;
        for (int i = 0; i < kNodes; ++i) s += "--- " + log(i).string() + " ---\n" + file_tail(log(i), 1500);
        return s;
    }

    // Waits until JetStream accepts a stream with `replicas` replicas (the
    // meta leader is elected and enough peers are current): creates and
    // deletes a probe stream in memory. False after `timeout`.
    bool wait_ready(std::chrono::milliseconds timeout, int replicas = kNodes) const {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (probe(replicas)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return false;
    }

private:
    struct Node {
        uint16_t client_port = 0, cluster_port = 0;
        pid_t pid = -1;
    };

    std::filesystem::path config(int i) const { return dir_ / ("n" + std::to_string(i + 1) + ".conf"); }

    void write_config(int i) const {
        std::ofstream f(config(i));
        f << "server_name: n" << i + 1 << "\n"
          << "listen: 127.0.0.1:" << nodes_[i].client_port << "\n"
          << "jetstream {\n  store_dir: \"" << (dir_ / ("store-n" + std::to_string(i + 1))).string() << "\"\n"
          << "  max_memory_store: 64MB\n  max_file_store: 2GB\n}\n"
          << "cluster {\n  name: shmq-test\n  listen: 127.0.0.1:" << nodes_[i].cluster_port << "\n  routes: [\n";
        for (int j = 0; j < kNodes; ++j)
            if (j != i) f << "    nats-route://127.0.0.1:" << nodes_[j].cluster_port << "\n";
        f << "  ]\n}\n";
        if (!f) throw std::runtime_error("cannot write " + config(i).string());
    }

    bool probe(int replicas) const {
        std::string servers;
        for (int i = 0; i < kNodes; ++i)
            if (running(i)) servers += (servers.empty() ? "" : ",") + url(i);
        if (servers.empty()) return false;
        natsConnection* nc = nullptr;
        natsOptions* opts = nullptr;
        bool ok = false;
        if (natsOptions_Create(&opts) == NATS_OK && natsOptions_SetTimeout(opts, 1000) == NATS_OK &&
            natsOptions_SetMaxReconnect(opts, 0) == NATS_OK) {
            std::vector<std::string> list;
            std::stringstream ss(servers);
            for (std::string u; std::getline(ss, u, ',');) list.push_back(u);
            std::vector<const char*> c;
            for (auto& u : list) c.push_back(u.c_str());
            if (natsOptions_SetServers(opts, c.data(), static_cast<int>(c.size())) == NATS_OK &&
                natsConnection_Connect(&nc, opts) == NATS_OK) {
                jsCtx* js = nullptr;
                jsOptions jo;
                jsOptions_Init(&jo);
                jo.Wait = 2000;
                if (natsConnection_JetStream(&js, nc, &jo) == NATS_OK) {
                    jsStreamConfig cfg;
                    jsStreamConfig_Init(&cfg);
                    const std::string name = "SHMQ_PROBE_" + std::to_string(::getpid());
                    const std::string subject = "shmq-probe." + std::to_string(::getpid());
                    const char* subjects[] = {subject.c_str()};
                    cfg.Name = name.c_str();
                    cfg.Subjects = subjects;
                    cfg.SubjectsLen = 1;
                    cfg.Storage = js_MemoryStorage;
                    cfg.Replicas = replicas;
                    jsStreamInfo* si = nullptr;
                    if (js_AddStream(&si, js, &cfg, nullptr, nullptr) == NATS_OK) {
                        jsStreamInfo_Destroy(si);
                        ok = js_DeleteStream(js, name.c_str(), nullptr, nullptr) == NATS_OK;
                    }
                    jsCtx_Destroy(js);
                }
                natsConnection_Destroy(nc);
            }
        }
        natsOptions_Destroy(opts);
        return ok;
    }

    std::filesystem::path dir_;
    std::array<Node, kNodes> nodes_{};
};

}  // namespace shmq::test
