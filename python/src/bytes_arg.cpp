#include "bytes_arg.hpp"

#include <string>

namespace py = pybind11;

namespace shmq::python {

BytesArg::BytesArg(py::handle object, const char* what) {
    if (object.is_none()) return;
    if (PyUnicode_Check(object.ptr())) {
        Py_ssize_t size = 0;
        const char* utf8 = PyUnicode_AsUTF8AndSize(object.ptr(), &size);  // cached in the str object
        if (utf8 == nullptr) throw py::error_already_set();
        bytes_ = {reinterpret_cast<const std::byte*>(utf8), static_cast<std::size_t>(size)};
        return;
    }
    if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) {
        PyErr_Clear();
        throw py::type_error(std::string(what) + " must be bytes-like (bytes, bytearray, memoryview) or str, not " +
                             std::string(py::str(py::type::handle_of(object).attr("__name__"))));
    }
    held_ = true;
    bytes_ = {static_cast<const std::byte*>(view_.buf), static_cast<std::size_t>(view_.len)};
}

}  // namespace shmq::python
