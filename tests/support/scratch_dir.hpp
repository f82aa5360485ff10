// A private temporary directory, removed with everything in it; for tests
// that start no worker processes (processes.hpp's TempDir needs the worker).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace shmq::test {

struct ScratchDir {
    std::filesystem::path path;  // empty if it could not be made
    explicit ScratchDir(const char* tag) {
        std::string templ = (std::filesystem::temp_directory_path() / (std::string("shmq-") + tag + "-XXXXXX")).string();
        path = ::mkdtemp(templ.data()) ? templ : "";
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
};

}  // namespace shmq::test
