// shmq.Message: a delivery. A plain CPython type, not a pybind11 class: one
// is made per message, and pybind11's instance bookkeeping cost as much as
// the rest of a receive. data is a read-only memoryview into shared memory
// until the message is settled (payload_view.hpp); after that, data raises
// AlreadySettled. key, partition, offset and deliveries stay readable, and
// so do routing_key and headers (copied at delivery, only when the message
// has any: a plain send's message pays nothing for them).
#include <pybind11/pybind11.h>

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "errors.hpp"
#include "fastcall.hpp"
#include "fork_guard.hpp"
#include "handles.hpp"
#include "payload_view.hpp"
#include "timeouts.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

struct MessageObject {
    PyObject_HEAD
    // C++ members, constructed in wrap_message and destroyed in dealloc.
    Message message;        // settled once ack/nack/ack_all ran (or moved out by ack_all)
    ForkStamp stamp;
    PyObject* queue;        // PyQueue: what data's views map through
    PyObject* view;         // msg.data, made on first use; nullptr once released
    uint32_t key_len;       // the key, copied at delivery: valid after settling
    char key[kMaxKeyBytes];
    uint32_t dedup_id_len;  // the dedup id, copied at delivery likewise
    char dedup_id[kMaxDedupIdBytes];
    PyObject* routing_key;  // bytes, or nullptr: none (b'')
    PyObject* headers;      // list of (bytes, bytes), or nullptr: none ([])
    bool settled;
};

PyTypeObject* g_type = nullptr;

void release_data(MessageObject* m) noexcept {
    if (m->view == nullptr) return;
    py::object view = py::reinterpret_steal<py::object>(m->view);
    m->view = nullptr;
    release_view(view);
}

// Raises AlreadySettled / UsedAfterFork; the message otherwise.
Message& live(MessageObject* m, const char* what) {
    m->stamp.check("shmq.Message");
    if (m->settled) raise_errc(Errc::already_settled, std::string(what) + ": the message was already settled (ack/nack/ack_all)");
    return m->message;
}

PyObject* settle_result(Status s, const char* what) {
    if (!s.ok()) raise_status(s, what);
    Py_RETURN_NONE;
}

void dealloc(PyObject* self) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    PyTypeObject* type = Py_TYPE(self);
    release_data(m);
    Py_XDECREF(m->queue);
    Py_XDECREF(m->routing_key);
    Py_XDECREF(m->headers);
    // Unsettled: the destructor NACKs it. In a forked child: leaked (fork_guard.hpp).
    if (m->stamp.same_process()) m->message.~Message();
    m->stamp.~ForkStamp();
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject* get_data(PyObject* self, void*) {
    return guarded([&]() -> PyObject* {
        auto* m = reinterpret_cast<MessageObject*>(self);
        const auto d = live(m, "data").data();
        if (m->view == nullptr)
            m->view = make_view(const_cast<std::byte*>(d.data()), d.size(), false,
                                py::reinterpret_borrow<py::object>(m->queue))
                          .release()
                          .ptr();
        Py_INCREF(m->view);
        return m->view;
    });
}

PyObject* get_key(PyObject* self, void*) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    return PyBytes_FromStringAndSize(m->key, m->key_len);
}
PyObject* get_dedup_id(PyObject* self, void*) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    return PyBytes_FromStringAndSize(m->dedup_id, m->dedup_id_len);
}
PyObject* get_routing_key(PyObject* self, void*) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    if (m->routing_key == nullptr) return PyBytes_FromStringAndSize("", 0);
    Py_INCREF(m->routing_key);
    return m->routing_key;
}
PyObject* get_headers(PyObject* self, void*) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    if (m->headers == nullptr) return PyList_New(0);
    return PySequence_List(m->headers);  // a copy: the caller may change it
}
PyObject* get_attributes_malformed(PyObject* self, void*) {
    return PyBool_FromLong(reinterpret_cast<MessageObject*>(self)->message.attributes_malformed());
}
// header(key): the value of the first header named `key` (bytes or str), else None.
PyObject* header(PyObject* self, PyObject* arg) {
    return guarded([&]() -> PyObject* {
        auto* m = reinterpret_cast<MessageObject*>(self);
        std::string key;
        if (PyUnicode_Check(arg)) key = py::reinterpret_borrow<py::str>(arg).cast<std::string>();
        else if (PyBytes_Check(arg)) key = py::reinterpret_borrow<py::bytes>(arg).cast<std::string>();
        else throw py::type_error("header(key): key must be bytes or str");
        if (m->headers != nullptr) {
            const Py_ssize_t n = PyList_GET_SIZE(m->headers);
            for (Py_ssize_t i = 0; i < n; ++i) {
                PyObject* pair = PyList_GET_ITEM(m->headers, i);
                PyObject* k = PyTuple_GET_ITEM(pair, 0);
                if (static_cast<std::size_t>(PyBytes_GET_SIZE(k)) == key.size() &&
                    std::memcmp(PyBytes_AS_STRING(k), key.data(), key.size()) == 0) {
                    PyObject* v = PyTuple_GET_ITEM(pair, 1);
                    Py_INCREF(v);
                    return v;
                }
            }
        }
        Py_RETURN_NONE;
    });
}
PyObject* get_partition(PyObject* self, void*) {
    return PyLong_FromUnsignedLong(reinterpret_cast<MessageObject*>(self)->message.partition());
}
PyObject* get_offset(PyObject* self, void*) {
    return PyLong_FromUnsignedLongLong(reinterpret_cast<MessageObject*>(self)->message.offset());
}
PyObject* get_deliveries(PyObject* self, void*) {
    return PyLong_FromUnsignedLong(reinterpret_cast<MessageObject*>(self)->message.deliveries());
}
PyObject* get_publish_unix_ns(PyObject* self, void*) {
    return PyLong_FromUnsignedLongLong(reinterpret_cast<MessageObject*>(self)->message.publish_unix_ns());
}
PyObject* get_settled(PyObject* self, void*) { return PyBool_FromLong(reinterpret_cast<MessageObject*>(self)->settled); }

PyObject* ack(PyObject* self, PyObject*) {
    return guarded([&] {
        auto* m = reinterpret_cast<MessageObject*>(self);
        Message& msg = live(m, "ack");
        release_data(m);
        m->settled = true;
        return settle_result(msg.ack(), "ack");
    });
}

// A float of seconds from a single optional argument (default 0).
double seconds_arg(PyObject* args, PyObject* kwargs, const char* name) {
    static const char* const kw_delay[] = {"delay", nullptr};
    static const char* const kw_seconds[] = {"seconds", nullptr};
    const bool is_delay = std::strcmp(name, "delay") == 0;
    double value = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, is_delay ? "|d" : "d",
                                     const_cast<char**>(is_delay ? kw_delay : kw_seconds), &value))
        throw py::error_already_set();
    return value;
}

PyObject* nack(PyObject* self, PyObject* args, PyObject* kwargs) {
    return guarded([&] {
        auto* m = reinterpret_cast<MessageObject*>(self);
        const Millis delay = to_millis(seconds_arg(args, kwargs, "delay"), "delay");
        Message& msg = live(m, "nack");
        release_data(m);
        m->settled = true;
        return settle_result(msg.nack(delay), "nack");
    });
}

PyObject* extend(PyObject* self, PyObject* args, PyObject* kwargs) {
    return guarded([&] {
        auto* m = reinterpret_cast<MessageObject*>(self);
        const Millis more = to_millis(seconds_arg(args, kwargs, "seconds"), "seconds");
        return settle_result(live(m, "extend").extend(more), "extend");
    });
}

PyObject* lease_held(PyObject* self, PyObject*) {
    return guarded([&] {
        auto* m = reinterpret_cast<MessageObject*>(self);
        if (m->settled) Py_RETURN_FALSE;
        return PyBool_FromLong(live(m, "lease_held").lease_held());
    });
}

PyObject* repr(PyObject* self) {
    auto* m = reinterpret_cast<MessageObject*>(self);
    const std::string s = "<shmq.Message partition=" + std::to_string(m->message.partition()) +
                          " offset=" + std::to_string(m->message.offset()) + (m->settled ? " settled>" : ">");
    return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyGetSetDef g_getset[] = {
    {"data", get_data, nullptr, "Read-only memoryview into shared memory; released when the message is settled", nullptr},
    {"key", get_key, nullptr, "The key (b'' when none)", nullptr},
    {"dedup_id", get_dedup_id, nullptr, "The dedup id it was sent with (b'' when none)", nullptr},
    {"routing_key", get_routing_key, nullptr, "The routing key it was published with through an exchange (b'' when none)", nullptr},
    {"headers", get_headers, nullptr, "Its headers as a list of (key, value) bytes pairs, in publish order ([] when none)", nullptr},
    {"attributes_malformed", get_attributes_malformed, nullptr,
     "True when the slot's attribute block did not check out (a damaged region): no routing key or headers shown", nullptr},
    {"partition", get_partition, nullptr, nullptr, nullptr},
    {"offset", get_offset, nullptr, nullptr, nullptr},
    {"deliveries", get_deliveries, nullptr, "1 on the first delivery", nullptr},
    {"publish_unix_ns", get_publish_unix_ns, nullptr, nullptr, nullptr},
    {"settled", get_settled, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef g_methods[] = {
    {"ack", ack, METH_NOARGS, "Done with it; LeaseLost if it went to another consumer"},
    {"nack", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(nack)), METH_VARARGS | METH_KEYWORDS,
     "nack(delay=0.0): redeliver after `delay` seconds"},
    {"extend", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(extend)), METH_VARARGS | METH_KEYWORDS,
     "extend(seconds): lease deadline = now + seconds"},
    {"lease_held", lease_held, METH_NOARGS, "True while this delivery still holds its lease"},
    {"header", header, METH_O, "header(key): the value (bytes) of the first header named key, or None"},
    {nullptr, nullptr, 0, nullptr},
};

MessageObject* as_message(py::handle h) {
    if (!PyObject_TypeCheck(h.ptr(), g_type))
        throw py::type_error("ack_all takes shmq.Message objects, not " +
                             std::string(py::str(py::type::handle_of(h).attr("__name__"))));
    return reinterpret_cast<MessageObject*>(h.ptr());
}

std::size_t ack_all(py::iterable messages) {
    std::vector<MessageObject*> live_ones;
    for (py::handle h : messages) {
        MessageObject* m = as_message(h);
        m->stamp.check("shmq.Message");
        if (!m->settled) live_ones.push_back(m);
    }
    // One contiguous span for shmq::ack_all: the Messages move out (a
    // moved-from Message keeps its metadata and is settled).
    std::vector<Message> batch;
    batch.reserve(live_ones.size());
    for (MessageObject* m : live_ones) {
        release_data(m);
        m->settled = true;
        batch.push_back(std::move(m->message));
    }
    return shmq::ack_all(batch);
}

}  // namespace

py::object wrap_message(Message&& msg, const py::object& queue) {
    auto* m = PyObject_New(MessageObject, g_type);
    if (m == nullptr) throw py::error_already_set();
    new (&m->message) Message(std::move(msg));
    new (&m->stamp) ForkStamp();
    m->queue = queue.inc_ref().ptr();
    m->view = nullptr;
    const auto key = m->message.key();
    m->key_len = static_cast<uint32_t>(key.size());  // <= kMaxKeyBytes: clamped by the library
    std::memcpy(m->key, key.data(), key.size());
    const auto id = m->message.dedup_id();
    m->dedup_id_len = static_cast<uint32_t>(id.size());  // <= kMaxDedupIdBytes: clamped by the library
    if (!id.empty()) std::memcpy(m->dedup_id, id.data(), id.size());
    m->routing_key = nullptr;
    m->headers = nullptr;
    m->settled = false;
    // Before anything below may throw: dealloc then finds every field set.
    auto self = py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(m));
    const Message& msg_ref = m->message;
    if (!msg_ref.routing_key().empty()) {
        const auto rk = msg_ref.routing_key();
        m->routing_key = py::bytes(rk.data(), rk.size()).release().ptr();
    }
    if (msg_ref.header_count() > 0) {
        py::list list;
        for (std::size_t i = 0; i < msg_ref.header_count(); ++i) {
            const auto [k, v] = msg_ref.header_at(i);
            list.append(py::make_tuple(py::bytes(k.data(), k.size()), py::bytes(v.data(), v.size())));
        }
        m->headers = list.release().ptr();
    }
    return self;
}

void init_message(py::module_& m) {
    static PyType_Slot slots[] = {
        {Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
        {Py_tp_repr, reinterpret_cast<void*>(repr)},
        {Py_tp_getset, g_getset},
        {Py_tp_methods, g_methods},
        {Py_tp_doc, const_cast<char*>("A delivered message, leased to this consumer until settled")},
        {0, nullptr},
    };
    static PyType_Spec spec = {"shmq.Message", sizeof(MessageObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
    PyObject* type = PyType_FromSpec(&spec);
    if (type == nullptr) throw py::error_already_set();
    g_type = reinterpret_cast<PyTypeObject*>(type);
    m.add_object("Message", type);
    m.def("ack_all", &ack_all, py::arg("messages"));
}

}  // namespace shmq::python
