// What every example's orchestrator needs around its run: the tools it
// starts, a directory for the run's files, a private shmqd, and ^C.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "children.hpp"

namespace examples {

// Throws once SIGINT, SIGTERM or SIGHUP arrived during run_in_dir.
void check_interrupted();

// bin_dir/name if it is an executable; else throws with one line saying how to build it.
std::string tool(const std::string& bin_dir, const char* name);

// A fresh directory for the run's files ("/tmp/<prefix>-XXXXXX"); removed unless kept.
struct RunDir {
    std::string path;
    bool keep = false;
    explicit RunDir(const char* prefix);
    ~RunDir();
    RunDir(const RunDir&) = delete;
    RunDir& operator=(const RunDir&) = delete;
};

std::string read_file(const std::string& path);

// shmqd serving `queues` with its own lock file and data directory in `dir`,
// its log in dir/shmqd.log; returns once it watches every queue (or throws).
Child& start_shmqd(Children& children, const std::string& shmqd_path, const std::string& dir,
                   const std::vector<std::string>& queues);

// --help among argv[first..): prints `usage`, answers true.
bool help_asked(int argc, char** argv, int first, const char* usage);

// Runs `run` in a fresh RunDir with the interrupting signals caught; an
// exception keeps the directory and names it in its message.
int run_in_dir(const char* prefix, const std::function<int(RunDir&)>& run);

}  // namespace examples
