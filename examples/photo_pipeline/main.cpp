// photo_pipeline: a worked example of shmq. See README.md beside this file.
//   photo_pipeline [run] [options]        the demo (orchestrator.cpp)
//   photo_pipeline upload|worker ...      its roles, started by the orchestrator
#include <cstdio>
#include <exception>
#include <string_view>

#include "roles.hpp"

int main(int argc, char** argv) {
    const std::string_view arg = argc > 1 ? std::string_view(argv[1]) : std::string_view();
    const std::string_view role = arg == "upload" || arg == "worker" ? arg : std::string_view("run");
    try {
        if (role == "upload") return photo_pipeline::run_upload(argc, argv, 2);
        if (role == "worker") return photo_pipeline::run_worker(argc, argv, 2);
        return photo_pipeline::run_pipeline(argc, argv, arg == "run" ? 2 : 1);  // "run" may be left out
    } catch (const std::exception& e) {
        std::fprintf(stderr, "photo_pipeline %.*s: %s\n", static_cast<int>(role.size()), role.data(), e.what());
    }
    return 2;
}
