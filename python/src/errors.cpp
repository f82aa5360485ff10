#include "errors.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {
// Borrowed from shmq._errors, which stays imported for the process's life.
PyObject* g_by_errc = nullptr;  // list: Errc value -> class
PyObject* g_closed = nullptr;
PyObject* g_used_after_fork = nullptr;
PyObject* g_error = nullptr;

PyObject* class_for(Errc code) {
    const auto i = static_cast<Py_ssize_t>(code);
    if (i > 0 && i < PyList_GET_SIZE(g_by_errc)) return PyList_GET_ITEM(g_by_errc, i);
    return g_error;  // a code newer than _errors.py knows
}

[[noreturn]] void raise_with(PyObject* cls, const std::string& what) {
    PyErr_SetString(cls, what.c_str());
    throw py::error_already_set();
}
}  // namespace

void init_errors(py::module_& m) {
    py::module_ errors = py::module_::import("shmq._errors");
    // Kept alive by the module attribute below (modules are never unloaded).
    m.attr("_errors") = errors;
    g_by_errc = errors.attr("BY_ERRC").ptr();
    g_closed = errors.attr("Closed").ptr();
    g_used_after_fork = errors.attr("UsedAfterFork").ptr();
    g_error = errors.attr("Error").ptr();
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const shmq::Error& e) {
            PyErr_SetString(class_for(e.code()), e.what());
        }
    });
}

void raise_errc(Errc code, const std::string& what) { raise_with(class_for(code), what); }

py::object make_error(Errc code, const std::string& what) {
    return py::reinterpret_borrow<py::object>(class_for(code))(what);
}

py::object make_closed_error(const char* handle) {
    return py::reinterpret_borrow<py::object>(g_closed)(std::string(handle) + " is closed: open a new one");
}

void raise_status(Status status, const char* what) {
    raise_errc(status.code(), std::string(what) + ": " + status.message());
}

void raise_closed(const char* handle) {
    raise_with(g_closed, std::string(handle) + " is closed: open a new one");
}

void raise_used_after_fork(const char* handle, long pid) {
    raise_with(g_used_after_fork, std::string(handle) + " was opened in process " + std::to_string(pid) +
                                      "; open it again after fork()");
}

}  // namespace shmq::python
