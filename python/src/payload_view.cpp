#include "payload_view.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

// The exporter behind the views: a plain CPython type (pybind11's buffer
// path allocates per export; msg.data is on the per-message path).
struct Payload {
    PyObject_HEAD
    void* data;
    Py_ssize_t size;
    int readonly;
    PyObject* owner;  // a strong reference: keeps the mapping
};

int payload_getbuffer(PyObject* self, Py_buffer* view, int flags) {
    auto* p = reinterpret_cast<Payload*>(self);
    return PyBuffer_FillInfo(view, self, p->data, p->size, p->readonly, flags);
}

void payload_dealloc(PyObject* self) {
    auto* p = reinterpret_cast<Payload*>(self);
    PyTypeObject* type = Py_TYPE(self);
    Py_XDECREF(p->owner);
    type->tp_free(self);
    Py_DECREF(type);  // a heap type: each instance holds a reference to it
}

PyTypeObject* g_payload_type = nullptr;

}  // namespace

void init_payload_view(py::module_& m) {
    static PyType_Slot slots[] = {
        {Py_tp_dealloc, reinterpret_cast<void*>(payload_dealloc)},
        {Py_bf_getbuffer, reinterpret_cast<void*>(payload_getbuffer)},
        {Py_tp_doc, const_cast<char*>("Exporter of shmq's memoryviews into shared memory (keeps the mapping)")},
        {0, nullptr},
    };
    static PyType_Spec spec = {"shmq._shmq._Payload", sizeof(Payload), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
    PyObject* type = PyType_FromSpec(&spec);
    if (type == nullptr) throw py::error_already_set();
    g_payload_type = reinterpret_cast<PyTypeObject*>(type);
    m.add_object("_Payload", type);  // the module's reference keeps it for the process's life
}

py::object make_view(void* data, std::size_t size, bool writable, py::object owner) {
    auto* p = PyObject_New(Payload, g_payload_type);
    if (p == nullptr) throw py::error_already_set();
    p->data = data;
    p->size = static_cast<Py_ssize_t>(size);
    p->readonly = writable ? 0 : 1;
    p->owner = owner.release().ptr();
    auto exporter = py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(p));
    PyObject* view = PyMemoryView_FromObject(exporter.ptr());
    if (view == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(view);
}

void release_view(py::object& view) noexcept {
    if (!view) return;
    // Held only here: no one else can reach it, so dropping it releases it
    // (memoryview's dealloc), without calling view.release().
    if (Py_REFCNT(view.ptr()) == 1) {
        view = py::object();
        return;
    }
    static PyObject* const name = PyUnicode_InternFromString("release");  // immortal for the process
    PyObject* r = name == nullptr ? nullptr : PyObject_CallMethodNoArgs(view.ptr(), name);
    if (r == nullptr) PyErr_Clear();  // BufferError: still exported; the owner keeps it mapped
    Py_XDECREF(r);
    view = py::object();
}

}  // namespace shmq::python
