// relacy (Debian's relacy-dev, /usr/include/relacy), included after every
// other header: relacy.hpp #defines new, delete, assert and malloc for the
// code that follows it. Its std shim (relacy_std.hpp) clashes with GCC 12's
// headers, so the model uses rl::atomic and rl::var directly.
// No warning pragmas: /usr/include is a system directory, so the project's
// warning flags (and -Werror) apply to the model's own code only.
#pragma once

#include <relacy/relacy.hpp>

// relacy.hpp also #defines memory_order_relaxed ... memory_order_seq_cst to
// "mo_*, $" for code written against its shim; the model names
// std::memory_order_* itself (model_atomic.hpp), so those must go.
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst
