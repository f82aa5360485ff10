#include "fastcall.hpp"

#include <stdexcept>
#include <string>

#include <cxxabi.h>

#include <cmath>
#include <new>
#include <string>

#include "errors.hpp"

namespace py = pybind11;

namespace shmq::python {

void set_python_error() {
    try {
        throw;
    } catch (abi::__forced_unwind&) {
        throw;
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (const py::builtin_exception& e) {
        e.set_error();
    } catch (const shmq::Error& e) {
        try {
            raise_errc(e.code(), e.what());
        } catch (py::error_already_set& x) {
            x.restore();
        }
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
    }
}

void* pybind_value(PyObject* self, const char* type_name) {
    // The descriptor checked the type; a Python subclass keeps the simple layout.
    auto* inst = reinterpret_cast<py::detail::instance*>(self);
    auto vh = inst->get_value_and_holder();
    if (!vh.holder_constructed() || vh.value_ptr() == nullptr)
        throw py::type_error(std::string(type_name) + " object is not initialized");
    return vh.value_ptr();
}

void add_method(py::handle cls, PyMethodDef* def) {
    auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
    PyObject* descr = PyDescr_NewMethod(type, def);
    if (descr == nullptr) throw py::error_already_set();
    const int rc = PyObject_SetAttrString(cls.ptr(), def->ml_name, descr);
    Py_DECREF(descr);
    if (rc != 0) throw py::error_already_set();
}

Params::Params(const char* function, std::initializer_list<const char*> names, std::size_t positional)
    : function_(function), count_(names.size()), positional_(positional) {
    if (names.size() > kMax) throw std::logic_error(std::string(function) + ": more parameters than Params::kMax");
    std::size_t i = 0;
    for (const char* n : names) {
        names_[i] = n;
        interned_[i] = PyUnicode_InternFromString(n);  // immortal for the process
        if (interned_[i] == nullptr) throw py::error_already_set();
        ++i;
    }
}

void Params::parse(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** out,
                   std::size_t required) const {
    const auto given = static_cast<std::size_t>(nargs);
    if (given > positional_)
        throw py::type_error(std::string(function_) + "() takes at most " + std::to_string(positional_) +
                             " positional argument" + (positional_ == 1 ? "" : "s") + " (" + std::to_string(given) +
                             " given)");
    for (std::size_t i = 0; i < count_; ++i) out[i] = i < given ? args[i] : nullptr;
    const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, k);
        std::size_t i = 0;
        while (i < count_ && name != interned_[i]) ++i;
        if (i == count_) {  // not interned by the caller (**kwargs built at run time)
            i = 0;
            while (i < count_ && PyUnicode_Compare(name, interned_[i]) != 0) ++i;
            if (PyErr_Occurred()) throw py::error_already_set();
        }
        if (i == count_)
            throw py::type_error(std::string(function_) + "() got an unexpected keyword argument '" +
                                 py::str(name).cast<std::string>() + "'");
        if (out[i] != nullptr)
            throw py::type_error(std::string(function_) + "() got multiple values for argument '" + names_[i] + "'");
        out[i] = args[nargs + k];
    }
    for (std::size_t i = 0; i < required; ++i)
        if (out[i] == nullptr)
            throw py::type_error(std::string(function_) + "() missing required argument '" + names_[i] + "'");
}

std::optional<double> timeout_arg(PyObject* o) {
    if (o == nullptr || o == Py_None) return std::nullopt;
    if (PyFloat_CheckExact(o)) return PyFloat_AS_DOUBLE(o);
    const double d = PyFloat_AsDouble(o);  // int, or anything with __float__ / __index__
    if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return d;
}

std::optional<unsigned long long> unsigned_arg(PyObject* o, const char* name, unsigned long long max) {
    if (o == nullptr || o == Py_None) return std::nullopt;
    if (!PyLong_Check(o))
        throw py::type_error(std::string(name) + " must be an int, not " + Py_TYPE(o)->tp_name);
    const unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (PyErr_Occurred() || v > max) {
        PyErr_Clear();
        throw py::type_error(std::string(name) + " must be an int in [0, " + std::to_string(max) + "]");
    }
    return v;
}

}  // namespace shmq::python
