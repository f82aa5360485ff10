// Running the `shmq` tool through a shell, as a user would: $SHMQ names the
// binary under test (the target defines SHMQ_TOOL); both streams captured.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SHMQ_TOOL
#error "define SHMQ_TOOL (the path of the shmq binary) for tests that include support/shell.hpp"
#endif

namespace shmq::test {

struct ShellRun {
    int exit_code;  // 128 if the shell did not exit normally
    std::string out;
    std::string err;
};

inline std::string slurp_and_remove(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    ::unlink(path.c_str());
    return s.str();
}

// Runs `script` (a shell fragment, with $SHMQ for the tool).
inline ShellRun sh(const std::string& script) {
    static int counter = 0;
    const std::string base = "/tmp/shmq-sh-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const std::string cmd = "SHMQ='" SHMQ_TOOL "'; (" + script + ") >" + base + ".out 2>" + base + ".err";
    const int status = std::system(cmd.c_str());
    return ShellRun{WIFEXITED(status) ? WEXITSTATUS(status) : 128, slurp_and_remove(base + ".out"),
                    slurp_and_remove(base + ".err")};
}

}  // namespace shmq::test
