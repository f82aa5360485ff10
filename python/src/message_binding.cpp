// shmq.Message: a delivery. data is a read-only memoryview into shared
// memory until the message is settled (payload_view.hpp); after that, data
// raises AlreadySettled. key, partition, offset and deliveries stay readable.
#include <pybind11/stl.h>

#include <vector>

#include "errors.hpp"
#include "handles.hpp"
#include "payload_view.hpp"
#include "timeouts.hpp"

namespace py = pybind11;

namespace shmq::python {

Message& PyMessage::live(const char* what) {
    stamp.check("shmq.Message");
    if (settled || !message) raise_errc(Errc::already_settled, std::string(what) + ": the message was already settled (ack/nack/ack_all)");
    return *message;
}

void PyMessage::release_view() noexcept { python::release_view(view); }

py::object wrap_message(Message&& m, const py::object& queue) {
    auto p = std::make_unique<PyMessage>();
    p->queue = queue;
    p->key.assign(m.key());
    p->message = std::make_unique<Message>(std::move(m));
    return py::cast(std::move(p));
}

namespace {

void settle(Status s, const char* what) {
    if (!s.ok()) raise_status(s, what);
}

std::size_t ack_all(py::iterable messages) {
    std::vector<PyMessage*> live;
    for (py::handle h : messages) {
        PyMessage& m = h.cast<PyMessage&>();
        m.stamp.check("shmq.Message");
        if (!m.settled && m.message) live.push_back(&m);
    }
    std::vector<Message> batch;
    batch.reserve(live.size());
    for (PyMessage* m : live) {
        m->release_view();
        m->settled = true;
        batch.push_back(std::move(*m->message));
    }
    return shmq::ack_all(batch);
}

}  // namespace

void init_message(py::module_& m) {
    py::class_<PyMessage>(m, "Message")
        .def_property_readonly("data",
                               [](PyMessage& self) {
                                   Message& msg = self.live("data");
                                   if (!self.view) {
                                       const auto d = msg.data();
                                       self.view = make_view(const_cast<std::byte*>(d.data()), d.size(), false, self.queue);
                                   }
                                   return self.view;
                               })
        .def_property_readonly("key", [](PyMessage& self) { return py::bytes(self.key); })
        .def_property_readonly("partition", [](PyMessage& self) { return self.message->partition(); })
        .def_property_readonly("offset", [](PyMessage& self) { return self.message->offset(); })
        .def_property_readonly("deliveries", [](PyMessage& self) { return self.message->deliveries(); })
        .def_property_readonly("publish_unix_ns", [](PyMessage& self) { return self.message->publish_unix_ns(); })
        .def_property_readonly("settled", [](PyMessage& self) { return self.settled; })
        .def("ack",
             [](PyMessage& self) {
                 Message& msg = self.live("ack");
                 self.release_view();
                 self.settled = true;
                 settle(msg.ack(), "ack");
             })
        .def(
            "nack",
            [](PyMessage& self, double delay) {
                const Millis ms = to_millis(delay, "delay");
                Message& msg = self.live("nack");
                self.release_view();
                self.settled = true;
                settle(msg.nack(ms), "nack");
            },
            py::arg("delay") = 0.0)
        .def(
            "extend",
            [](PyMessage& self, double seconds) {
                const Millis ms = to_millis(seconds, "seconds");
                settle(self.live("extend").extend(ms), "extend");
            },
            py::arg("seconds"))
        .def("lease_held", [](PyMessage& self) { return !self.settled && self.live("lease_held").lease_held(); })
        .def("__repr__", [](PyMessage& self) {
            return "<shmq.Message partition=" + std::to_string(self.message->partition()) +
                   " offset=" + std::to_string(self.message->offset()) + (self.settled ? " settled>" : ">");
        });
    m.def("ack_all", &ack_all, py::arg("messages"));
}

}  // namespace shmq::python
