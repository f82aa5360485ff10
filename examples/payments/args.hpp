// Command-line flags of every role: examples/common/args.hpp.
#pragma once

#include "../common/args.hpp"

namespace payments {
using examples::Args;
}  // namespace payments
