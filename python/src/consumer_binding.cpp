// shmq.Consumer: receive (None on timeout), receive_batch (a list, maybe
// empty), iteration, and close. Waits run in slices with the GIL released
// (timeouts.hpp); a slice that times out took nothing, so an interrupt
// (KeyboardInterrupt) between slices loses no message. A message taken just
// before an interrupt is returned as a Message object; dropping it unsettled
// NACKs it (redelivered at once).
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "errors.hpp"
#include "fastcall.hpp"
#include "handles.hpp"
#include "timeouts.hpp"
#include "without_gil.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

py::object receive(PyConsumer& self, std::optional<double> timeout) {
    self.check();
    bool closed = false;
    auto r = wait_sliced(self.mutex, Deadline(timeout), [&](Millis slice) -> Result<Message> {
        if (!self.consumer) return (closed = true, Result<Message>(Errc::timeout));
        return self.consumer->receive(slice);
    });
    if (closed) raise_closed("shmq.Consumer");
    if (r.ok()) return wrap_message(std::move(r.value()), self.queue);
    if (r.code() == Errc::timeout) return py::none();
    raise_status(r.status(), "receive");
}

py::list receive_batch(PyConsumer& self, std::size_t n, std::optional<double> timeout) {
    self.check();
    py::list out;
    if (n == 0) return out;
    std::vector<Message> got(n);
    bool closed = false;
    const BatchResult r = wait_sliced(self.mutex, Deadline(timeout), [&](Millis slice) {
        if (!self.consumer) return (closed = true, BatchResult{0, Errc::timeout});
        return self.consumer->receive_batch(got, slice);
    });
    if (closed) raise_closed("shmq.Consumer");
    if (!r.ok() && r.code() != Errc::timeout) raise_status(r.status, "receive_batch");
    for (std::size_t i = 0; i < r.count; ++i) out.append(wrap_message(std::move(got[i]), self.queue));
    return out;
}

// The raw methods (fastcall.hpp).
PyObject* fast_receive(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const Params params("receive", {"timeout"}, 1);
        PyObject* a[1];
        params.parse(args, nargs, kwnames, a, 0);
        return receive(self_as<PyConsumer>(self, "shmq.Consumer"), timeout_arg(a[0])).release().ptr();
    });
}

PyObject* fast_receive_batch(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const Params params("receive_batch", {"n", "timeout"}, 2);
        PyObject* a[2];
        params.parse(args, nargs, kwnames, a, 1);
        if (a[0] == Py_None) throw py::type_error("n must be an int, not None");
        const auto n = *unsigned_arg(a[0], "n", PY_SSIZE_T_MAX);  // a[0] is not None: a value
        return receive_batch(self_as<PyConsumer>(self, "shmq.Consumer"), n, timeout_arg(a[1])).release().ptr();
    });
}

PyMethodDef g_receive = {"receive", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_receive)),
                         METH_FASTCALL | METH_KEYWORDS,
                         "receive($self, /, timeout=None)\n--\n\n"
                         "The next message, or None after `timeout` seconds (None: wait forever)"};
PyMethodDef g_receive_batch = {
    "receive_batch", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_receive_batch)),
    METH_FASTCALL | METH_KEYWORDS,
    "receive_batch($self, /, n, timeout=None)\n--\n\n"
    "Up to n messages: those there at once, else the first to arrive within `timeout` (maybe [])"};

void close(PyConsumer& self) {
    self.stamp.check("shmq.Consumer");
    without_gil([&] {  // a receive of another thread ends within a slice
        std::lock_guard lock(self.mutex);
        self.consumer.reset();
    });
}

}  // namespace

void PyConsumer::check() {
    stamp.check("shmq.Consumer");
    if (!consumer) raise_closed("shmq.Consumer");
}

void init_consumer(py::module_& m) {
    auto cls = py::class_<PyConsumer>(m, "Consumer");
    add_method(cls, &g_receive);
    add_method(cls, &g_receive_batch);
    cls.def("close", &close)
        .def_property_readonly("closed", [](PyConsumer& c) { return !c.stamp.same_process() || !c.consumer; })
        .def_property_readonly("participant_id",
                               [](PyConsumer& c) {
                                   c.check();
                                   return c.consumer->participant_id();
                               })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyConsumer& c, py::args) { close(c); })
        .def("__iter__", [](py::object self) { return self; })
        // Forever; stops when the queue is deleted or the consumer closed.
        .def("__next__", [](PyConsumer& c) -> py::object {
            if (!c.stamp.same_process()) c.check();
            if (!c.consumer) throw py::stop_iteration();
            try {
                return receive(c, std::nullopt);
            } catch (py::error_already_set& e) {
                if (e.matches(py::module_::import("shmq._errors").attr("QueueDeleted")) ||
                    e.matches(py::module_::import("shmq._errors").attr("Closed")))
                    throw py::stop_iteration();
                throw;
            }
        });
}

}  // namespace shmq::python
