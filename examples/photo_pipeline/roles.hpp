// The three roles of the one binary: `photo_pipeline [run]` is the
// orchestrator; it starts itself as `photo_pipeline upload ...` and
// `photo_pipeline worker ...`. Each returns the process's exit status and
// throws std::runtime_error (one line) on a problem.
#pragma once

namespace photo_pipeline {

int run_pipeline(int argc, char** argv, int first);  // orchestrator.cpp
int run_upload(int argc, char** argv, int first);    // upload.cpp
int run_worker(int argc, char** argv, int first);    // worker.cpp

}  // namespace photo_pipeline
