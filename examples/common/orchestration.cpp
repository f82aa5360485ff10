#include "orchestration.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace examples {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

void check_interrupted() {
    if (g_interrupted) throw std::runtime_error("interrupted by a signal; stopped the processes and removed the queues");
}

std::string tool(const std::string& bin_dir, const char* name) {
    const std::string path = bin_dir + "/" + name;
    if (::access(path.c_str(), X_OK) != 0)
        throw std::runtime_error("no executable " + path + "; build it (cmake --build build --target " +
                                 (std::string(name) == "shmq" ? "shmq_tool" : name) + ") or pass --bin-dir DIR");
    return path;
}

RunDir::RunDir(const char* prefix) {
    std::string t = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("cannot create a directory like " + t);
    path = t;
}

RunDir::~RunDir() {
    std::error_code ec;
    if (!keep) std::filesystem::remove_all(path, ec);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

Child& start_shmqd(Children& children, const std::string& shmqd_path, const std::string& dir,
                   const std::vector<std::string>& queues) {
    using namespace std::chrono_literals;
    const std::string log = dir + "/shmqd.log";
    std::vector<std::string> args{"--lock-file", dir + "/shmqd.lock", "--data-dir", dir + "/shmqd-data", "--tick-ms", "10"};
    for (const auto& q : queues) args.insert(args.end(), {"--queue", q});
    Child& d = children.spawn("shmqd", shmqd_path, args, log);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (const auto& q : queues)
        while (read_file(log).find("watching queue " + q) == std::string::npos) {
            check_interrupted();
            if (!children.running(d) || std::chrono::steady_clock::now() >= deadline)
                throw std::runtime_error("shmqd did not start watching " + q + " (" + d.describe() + "); see " + log);
            std::this_thread::sleep_for(5ms);
        }
    return d;
}

bool help_asked(int argc, char** argv, int first, const char* usage) {
    for (int i = first; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help") {
            std::cout << usage;
            return true;
        }
    return false;
}

int run_in_dir(const char* prefix, const std::function<int(RunDir&)>& run) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    RunDir dir(prefix);
    try {
        return run(dir);
    } catch (const std::exception& e) {
        dir.keep = true;
        throw std::runtime_error(std::string(e.what()) + " (files kept in " + dir.path + ")");
    }
}

}  // namespace examples
