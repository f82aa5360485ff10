// Running C++ with the GIL released, in place of pybind11::gil_scoped_release.
// At interpreter exit, Python 3.11 ends a (daemon) thread that takes the GIL
// back with pthread_exit, a forced unwind. gil_scoped_release takes it back
// in a destructor, which is noexcept: the unwind there is std::terminate
// (an abort at exit whenever a daemon thread sat in receive). Taken back
// here, in a plain call, the unwind passes through our frames and pybind11's
// dispatcher (which rethrows abi::__forced_unwind), and the thread just ends.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <type_traits>
#include <utility>

namespace shmq::python {

template <class F>
auto without_gil(F&& f) {
    using R = std::invoke_result_t<F&>;
    PyThreadState* state = PyEval_SaveThread();
    if constexpr (std::is_void_v<R>) {
        try {
            f();
        } catch (...) {
            PyEval_RestoreThread(state);
            throw;
        }
        PyEval_RestoreThread(state);
    } else {
        std::optional<R> result;
        try {
            result.emplace(f());
        } catch (...) {
            PyEval_RestoreThread(state);
            throw;
        }
        PyEval_RestoreThread(state);
        return R(std::move(*result));
    }
}

}  // namespace shmq::python
