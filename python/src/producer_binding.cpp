// shmq.Producer (send, send_batch, claim) and shmq.Claim (a context manager:
// commit on a clean exit, abort on an exception). Blocking waits (on_full
// =block) run in slices with the GIL released (timeouts.hpp).
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "bytes_arg.hpp"
#include "errors.hpp"
#include "fastcall.hpp"
#include "handles.hpp"
#include "payload_view.hpp"
#include "timeouts.hpp"
#include "without_gil.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

SendOptions send_options(const BytesArg& key, std::optional<uint32_t> partition) {
    SendOptions o;
    o.key = key.text();
    o.partition = partition;
    return o;
}

// True when the send was a duplicate within the queue's dedup window.
bool send(PyProducer& self, py::handle data, py::handle key, std::optional<double> timeout,
          std::optional<uint32_t> partition, py::handle dedup_id, std::optional<double> ttl,
          std::optional<double> delay) {
    self.check();
    const BytesArg payload(data, "data");
    const BytesArg k(key, "key");
    const BytesArg id(dedup_id, "dedup_id");
    SendOptions o = send_options(k, partition);
    o.dedup_id = id.text();
    if (ttl) {
        if (!(*ttl > 0) || *ttl * 1000 > UINT32_MAX)
            raise_errc(Errc::invalid_argument, "ttl must be a number of seconds above 0 and below 2^32 ms");
        o.ttl = Millis(std::max<int64_t>(1, static_cast<int64_t>(*ttl * 1000)));
    }
    if (delay) o.delay = to_millis(*delay, "delay");  // seconds, as nack's
    SendOutcome outcome;
    bool closed = false;
    const Status s = wait_sliced(self.mutex, Deadline(timeout), [&](Millis slice) {
        if (!self.producer) return (closed = true, Status());
        o.timeout = slice;
        return self.producer->send(payload.bytes(), o, outcome);
    });
    if (closed) raise_closed("shmq.Producer");
    if (!s.ok()) raise_status(s, "send");
    return outcome.duplicate;
}

// Raises the batch's error with `sent` (how many went) as an attribute.
[[noreturn]] void raise_batch(Status s, std::size_t sent) {
    try {
        raise_status(s, ("send_batch stopped after " + std::to_string(sent) + " messages").c_str());
    } catch (py::error_already_set& e) {
        e.value().attr("sent") = sent;
        throw;
    }
}

std::size_t send_batch(PyProducer& self, py::handle payloads, py::handle key, std::optional<double> timeout,
                       std::optional<uint32_t> partition) {
    self.check();
    // A list or tuple as it is; any other iterable copied into a list.
    const auto seq = py::reinterpret_steal<py::object>(PySequence_Fast(payloads.ptr(), "payloads must be iterable"));
    if (!seq) throw py::error_already_set();
    const Py_ssize_t count = PySequence_Fast_GET_SIZE(seq.ptr());
    PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
    std::vector<BytesArg> held;
    held.reserve(static_cast<std::size_t>(count));
    for (Py_ssize_t i = 0; i < count; ++i) held.emplace_back(items[i], "each payload");
    std::vector<std::span<const std::byte>> spans;
    spans.reserve(held.size());
    for (const auto& h : held) spans.push_back(h.bytes());
    const BytesArg k(key, "key");
    SendOptions o = send_options(k, partition);
    const Deadline deadline(timeout);
    std::size_t sent = 0;
    for (;;) {
        bool closed = false;
        const BatchResult r = without_gil([&] {
            std::lock_guard lock(self.mutex);
            if (!self.producer) return (closed = true, BatchResult{});
            o.timeout = deadline.slice();
            return self.producer->send_batch(std::span(spans).subspan(sent), o);
        });
        if (closed) raise_closed("shmq.Producer");
        sent += r.count;
        if (r.ok()) return sent;
        if (r.code() != Errc::timeout || deadline.passed()) raise_batch(r.status, sent);
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
}

// The raw methods (fastcall.hpp).
std::optional<uint32_t> partition_arg(PyObject* o) {
    const auto p = unsigned_arg(o, "partition", UINT32_MAX);
    if (!p) return std::nullopt;
    return static_cast<uint32_t>(*p);
}

PyObject* fast_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const Params params("send", {"data", "key", "timeout", "partition", "dedup_id", "ttl", "delay"}, 1);
        PyObject* a[7];
        params.parse(args, nargs, kwnames, a, 1);
        if (send(self_as<PyProducer>(self, "shmq.Producer"), a[0], a[1] ? a[1] : Py_None, timeout_arg(a[2]),
                 partition_arg(a[3]), a[4] ? a[4] : Py_None, timeout_arg(a[5]), timeout_arg(a[6])))
            Py_RETURN_TRUE;
        Py_RETURN_FALSE;
    });
}

PyObject* fast_send_batch(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const Params params("send_batch", {"payloads", "key", "timeout", "partition"}, 1);
        PyObject* a[4];
        params.parse(args, nargs, kwnames, a, 1);
        const std::size_t sent = send_batch(self_as<PyProducer>(self, "shmq.Producer"), a[0],
                                            a[1] ? a[1] : Py_None, timeout_arg(a[2]), partition_arg(a[3]));
        return PyLong_FromSize_t(sent);
    });
}

PyMethodDef g_send = {"send", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_send)),
                      METH_FASTCALL | METH_KEYWORDS,
                      "send($self, /, data, *, key=None, timeout=None, partition=None, dedup_id=None, ttl=None, delay=None)\n--\n\n"
                      "Publishes one message (bytes-like or str); True if it was a duplicate of one sent with the "
                      "same dedup_id within the queue's dedup window (then not enqueued again). delay: seconds "
                      "it waits in the queue's delay store before it enters its partition"};
PyMethodDef g_send_batch = {"send_batch",
                            reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_send_batch)),
                            METH_FASTCALL | METH_KEYWORDS,
                            "send_batch($self, /, payloads, *, key=None, timeout=None, partition=None)\n--\n\n"
                            "Publishes each payload in order; returns how many went"};

std::unique_ptr<PyClaim> claim(py::object self_object, std::size_t size, py::handle key, std::optional<double> timeout,
                               std::optional<uint32_t> partition) {
    PyProducer& self = self_object.cast<PyProducer&>();
    self.check();
    const BytesArg k(key, "key");
    SendOptions o = send_options(k, partition);
    bool closed = false;
    auto r = wait_sliced(self.mutex, Deadline(timeout), [&](Millis slice) -> Result<Claim> {
        if (!self.producer) return (closed = true, Result<Claim>(Errc::invalid_argument));
        o.timeout = slice;
        return self.producer->claim(size, o);
    });
    if (closed) raise_closed("shmq.Producer");
    if (!r.ok()) raise_status(r.status(), "claim");
    auto c = std::make_unique<PyClaim>();
    c->producer = self_object;
    c->claim = std::make_unique<Claim>(std::move(r.value()));
    const auto data = c->claim->data();
    c->view = make_view(data.data(), data.size(), true, self.queue);
    return c;
}

PyClaim& open_claim(PyClaim& c) {
    c.stamp.check("shmq.Claim");
    if (!c.claim) raise_errc(Errc::already_settled, "the claim was already committed or aborted");
    return c;
}

void finish(PyClaim& c, std::optional<std::size_t> used) {
    open_claim(c);
    release_view(c.view);
    PyProducer& p = c.producer.cast<PyProducer&>();
    const Status s = without_gil([&] {
        std::lock_guard lock(p.mutex);  // commits of one producer never overlap its sends
        const Status st = used ? c.claim->commit(*used) : c.claim->commit();
        c.claim.reset();
        return st;
    });
    if (!s.ok()) raise_status(s, "commit");
}

void abort(PyClaim& c) {
    open_claim(c);
    release_view(c.view);
    PyProducer& p = c.producer.cast<PyProducer&>();
    without_gil([&] {
        std::lock_guard lock(p.mutex);
        c.claim->abort();
        c.claim.reset();
    });
}

void close_producer(PyProducer& p) {
    p.stamp.check("shmq.Producer");
    without_gil([&] {
        std::lock_guard lock(p.mutex);
        p.producer.reset();
    });
}

}  // namespace

void PyProducer::check() {
    stamp.check("shmq.Producer");
    if (!producer) raise_closed("shmq.Producer");
}

void init_producer(py::module_& m) {
    auto cls = py::class_<PyProducer>(m, "Producer");
    add_method(cls, &g_send);
    add_method(cls, &g_send_batch);
    cls.def("claim", &claim, py::arg("size"), py::kw_only(), py::arg("key") = py::none(),
             py::arg("timeout") = py::none(), py::arg("partition") = py::none())
        .def_property_readonly("participant_id",
                               [](PyProducer& p) {
                                   p.check();
                                   return p.producer->participant_id();
                               })
        .def("close", &close_producer)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyProducer& p, py::args) { close_producer(p); });

    py::class_<PyClaim>(m, "Claim")
        .def_property_readonly("buffer",
                               [](PyClaim& c) {
                                   open_claim(c);
                                   return c.view;
                               })
        .def_property_readonly("partition", [](PyClaim& c) { return open_claim(c).claim->partition(); })
        .def_property_readonly("offset", [](PyClaim& c) { return open_claim(c).claim->offset(); })
        .def("commit", &finish, py::arg("used") = py::none())
        .def("abort", &abort)
        .def("__enter__",
             [](PyClaim& c) {
                 open_claim(c);
                 return c.view;
             })
        .def("__exit__", [](PyClaim& c, py::handle type, py::handle, py::handle) {
            if (!c.stamp.same_process() || !c.claim) return false;  // settled inside the block
            if (type.is_none()) finish(c, std::nullopt);
            else abort(c);
            return false;
        });
}

}  // namespace shmq::python
