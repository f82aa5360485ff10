// The orchestrator's child processes: examples/common/children.hpp.
#pragma once

#include "../common/children.hpp"

namespace photo_pipeline {
using examples::Child;
using examples::Children;
using examples::run_capture;
using examples::self_path;
}  // namespace photo_pipeline
