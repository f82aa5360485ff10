// Raising shmq's Python exceptions (shmq/_errors.py): one class per Errc,
// plus UsedAfterFork and Closed. Every raise_* sets the Python error and
// throws pybind11::error_already_set, so callers hold the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "shmq/shmq.hpp"

namespace shmq::python {

// Loads shmq._errors and translates C++ shmq::Error (create/open/attach) to it.
void init_errors(pybind11::module_& m);

[[noreturn]] void raise_errc(Errc code, const std::string& what);
// The exception object raise_errc would raise (for a future's set_exception).
pybind11::object make_error(Errc code, const std::string& what);
pybind11::object make_closed_error(const char* handle);
// `what` plus the library's one-line meaning of the code.
[[noreturn]] void raise_status(Status status, const char* what);
[[noreturn]] void raise_closed(const char* handle);
[[noreturn]] void raise_used_after_fork(const char* handle, long pid);

}  // namespace shmq::python
