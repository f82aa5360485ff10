// Command-line flags of every role: examples/common/args.hpp.
#pragma once

#include "../common/args.hpp"

namespace photo_pipeline {
using examples::Args;
}  // namespace photo_pipeline
