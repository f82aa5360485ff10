// Raw CPython methods (METH_FASTCALL | METH_KEYWORDS) for the per-message
// calls, installed on the pybind11 classes: pybind11's dispatch (an args
// tuple, a kwargs dict copy, overload resolution) cost more than the C++
// call it wraps. Arguments are parsed by hand: keyword names are compared
// by identity with interned strings first, by value only then.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>

namespace shmq::python {

// Sets the Python error for the exception being handled; rethrows a forced unwind.
void set_python_error();

// Calls f() (returning a new reference or nullptr with an error set) and turns
// a C++ exception into the Python error pybind11 would set. A forced unwind
// (a daemon thread ended at interpreter exit, without_gil.hpp) passes through.
template <class F>
PyObject* guarded(F&& f) {
    try {
        return f();
    } catch (...) {
        set_python_error();
        return nullptr;
    }
}

// The C++ object of a pybind11 instance; raises TypeError when it has none.
void* pybind_value(PyObject* self, const char* type_name);
template <class T>
T& self_as(PyObject* self, const char* type_name) {
    return *static_cast<T*>(pybind_value(self, type_name));
}

// Adds `def` (static storage) to pybind11 class `cls` as a method descriptor.
void add_method(pybind11::handle cls, PyMethodDef* def);

// The parameters of one method: `positional` may come by position, the
// rest only by keyword. Names are interned once.
class Params {
public:
    Params(const char* function, std::initializer_list<const char*> names, std::size_t positional);
    // Fills out[i] with the borrowed argument of names[i], or nullptr when
    // absent; raises TypeError as CPython words it. `required` leading
    // parameters must be present.
    void parse(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** out, std::size_t required) const;
    std::size_t size() const noexcept { return count_; }

private:
    static constexpr std::size_t kMax = 8;
    const char* function_;
    const char* names_[kMax]{};
    PyObject* interned_[kMax]{};
    std::size_t count_;
    std::size_t positional_;
};

// A timeout argument: None (or absent) is forever; else a float of seconds.
std::optional<double> timeout_arg(PyObject* o);
// An optional unsigned argument (partition, n) in [0, max]; TypeError otherwise.
std::optional<unsigned long long> unsigned_arg(PyObject* o, const char* name, unsigned long long max);

}  // namespace shmq::python
