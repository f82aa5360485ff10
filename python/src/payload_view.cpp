#include "payload_view.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {
struct Payload {
    void* data = nullptr;
    std::size_t size = 0;
    bool writable = false;
    py::object owner;  // keeps the mapping
};
}  // namespace

void init_payload_view(py::module_& m) {
    py::class_<Payload>(m, "_Payload", py::buffer_protocol()).def_buffer([](Payload& p) {
        return py::buffer_info(p.data, 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(p.size)}, {py::ssize_t{1}}, !p.writable);
    });
}

py::object make_view(void* data, std::size_t size, bool writable, py::object owner) {
    py::object exporter = py::cast(Payload{data, size, writable, std::move(owner)});
    PyObject* view = PyMemoryView_FromObject(exporter.ptr());
    if (view == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(view);
}

void release_view(py::object& view) noexcept {
    if (!view) return;
    PyObject* r = PyObject_CallMethod(view.ptr(), "release", nullptr);
    if (r == nullptr) PyErr_Clear();  // BufferError: still exported; the owner keeps it mapped
    Py_XDECREF(r);
    view = py::object();
}

}  // namespace shmq::python
