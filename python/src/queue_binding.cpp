// shmq.Queue: create/open/remove/exists, and the factory of producers and
// consumers. Keyword options mirror shmq::QueueOptions field by field;
// enums are strings (on_full="block").
#include <pybind11/stl.h>

#include <array>
#include <string_view>
#include <utility>

#include "errors.hpp"
#include "handles.hpp"
#include "without_gil.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

template <class E, std::size_t N>
E parse_enum(const std::string& text, const std::array<std::pair<const char*, E>, N>& names, const char* what) {
    std::string choices;
    for (const auto& [name, value] : names) {
        if (text == name) return value;
        choices += choices.empty() ? "" : ", ";
        choices += name;
    }
    raise_errc(Errc::invalid_argument, std::string(what) + " '" + text + "' is not one of: " + choices);
}

template <class E, std::size_t N>
const char* enum_name(E value, const std::array<std::pair<const char*, E>, N>& names) {
    for (const auto& [name, v] : names)
        if (v == value) return name;
    return "?";
}

constexpr std::array<std::pair<const char*, OnFull>, 4> kOnFull{
    {{"block", OnFull::block}, {"reject", OnFull::reject}, {"spill", OnFull::spill}, {"drop_oldest", OnFull::drop_oldest}}};
constexpr std::array<std::pair<const char*, TtlAction>, 2> kTtlAction{
    {{"dlq", TtlAction::dlq}, {"drop", TtlAction::drop}}};
constexpr std::array<std::pair<const char*, Fsync>, 3> kFsync{
    {{"never", Fsync::never}, {"batch", Fsync::batch}, {"always", Fsync::always}}};
constexpr std::array<std::pair<const char*, GroupKind>, 3> kKind{
    {{"exclusive", GroupKind::exclusive}, {"shared", GroupKind::shared}, {"keyed", GroupKind::keyed}}};
constexpr std::array<std::pair<const char*, StartAt>, 2> kStart{{{"oldest", StartAt::oldest}, {"latest", StartAt::latest}}};
constexpr std::array<std::pair<const char*, WriterMode>, 3> kWriter{
    {{"automatic", WriterMode::automatic}, {"shared", WriterMode::shared}, {"exclusive", WriterMode::exclusive}}};

py::dict options_dict(const QueueOptions& o) {
    py::dict d;
    d["partitions"] = o.partitions;
    d["capacity"] = o.capacity;
    d["max_message"] = o.max_message;
    d["on_full"] = enum_name(o.on_full, kOnFull);
    d["lease_ms"] = o.lease_ms;
    d["max_groups"] = o.max_groups;
    d["max_participants"] = o.max_participants;
    d["max_deliveries"] = o.max_deliveries;
    d["dlq_capacity"] = o.dlq_capacity;
    d["mode"] = o.mode;
    d["high_watermark_pct"] = o.high_watermark_pct;
    d["spill_buffer"] = o.spill_buffer;
    d["fsync"] = enum_name(o.fsync, kFsync);
    d["journal"] = o.journal;
    d["retain_bytes"] = o.retain_bytes;
    d["retain_ms"] = o.retain_ms;
    d["dedup_window_ms"] = o.dedup_window_ms;
    d["dedup_capacity"] = o.dedup_capacity;
    d["dedup_content"] = o.dedup_content;
    d["keyed_groups"] = o.keyed_groups;
    d["message_ttl_ms"] = o.message_ttl_ms;
    d["ttl_action"] = enum_name(o.ttl_action, kTtlAction);
    d["delay_capacity"] = o.delay_capacity;
    return d;
}

std::unique_ptr<PyQueue> create(const std::string& name, uint32_t partitions, uint32_t capacity, uint32_t max_message,
                                const std::string& on_full, uint32_t lease_ms, uint32_t max_groups,
                                uint32_t max_participants, uint32_t max_deliveries, uint32_t dlq_capacity,
                                uint32_t mode, uint32_t high_watermark_pct, uint32_t spill_buffer,
                                const std::string& fsync, bool journal, uint64_t retain_bytes, uint64_t retain_ms,
                                uint32_t dedup_window_ms, uint32_t dedup_capacity, bool dedup_content,
                                uint32_t keyed_groups, uint32_t message_ttl_ms, const std::string& ttl_action,
                                uint32_t delay_capacity) {
    QueueOptions o;
    o.partitions = partitions;
    o.capacity = capacity;
    o.max_message = max_message;
    o.on_full = parse_enum(on_full, kOnFull, "on_full");
    o.lease_ms = lease_ms;
    o.max_groups = max_groups;
    o.max_participants = max_participants;
    o.max_deliveries = max_deliveries;
    o.dlq_capacity = dlq_capacity;
    o.mode = mode;
    o.high_watermark_pct = high_watermark_pct;
    o.spill_buffer = spill_buffer;
    o.fsync = parse_enum(fsync, kFsync, "fsync");
    o.journal = journal;
    o.retain_bytes = retain_bytes;
    o.retain_ms = retain_ms;
    o.dedup_window_ms = dedup_window_ms;
    o.dedup_capacity = dedup_capacity;
    o.dedup_content = dedup_content;
    o.keyed_groups = keyed_groups;
    o.message_ttl_ms = message_ttl_ms;
    o.ttl_action = parse_enum(ttl_action, kTtlAction, "ttl_action");
    o.delay_capacity = delay_capacity;
    return std::make_unique<PyQueue>(without_gil([&] { return Queue::create(name, o); }));
}

std::unique_ptr<PyQueue> open(const std::string& name) {
    // May wait up to 2 s for a concurrent creator.
    return std::make_unique<PyQueue>(without_gil([&] { return Queue::open(name); }));
}

std::unique_ptr<PyProducer> producer(py::object self, bool exclusive, const std::string& writer) {
    Queue& q = self.cast<PyQueue&>().get();
    auto p = std::make_unique<PyProducer>();
    p->queue = self;
    p->producer = std::make_unique<Producer>(
        q.producer(ProducerOptions{.exclusive = exclusive, .writer = parse_enum(writer, kWriter, "writer")}));
    return p;
}

std::unique_ptr<PyConsumer> consumer(py::object self, const std::string& group, const std::string& kind,
                                     const std::string& start, uint32_t max_in_flight, bool at_most_once) {
    Queue& q = self.cast<PyQueue&>().get();
    ConsumerOptions o;
    o.kind = parse_enum(kind, kKind, "kind");
    o.start = parse_enum(start, kStart, "start");
    o.max_in_flight = max_in_flight;
    o.at_most_once = at_most_once;
    auto c = std::make_unique<PyConsumer>();
    c->queue = self;
    // Joining may rebalance an exclusive group.
    c->consumer = without_gil([&] { return std::make_unique<Consumer>(q.consumer(group, o)); });
    return c;
}

}  // namespace

Queue& PyQueue::get(const char* what) {
    stamp.check(what);
    if (closed) raise_closed(what);
    return *queue;
}

void init_queue(py::module_& m) {
    const QueueOptions d;
    const ConsumerOptions dc;
    py::class_<PyQueue>(m, "Queue")
        .def_static("create", &create, py::arg("name"), py::kw_only(), py::arg("partitions") = d.partitions,
                    py::arg("capacity") = d.capacity, py::arg("max_message") = d.max_message,
                    py::arg("on_full") = enum_name(d.on_full, kOnFull), py::arg("lease_ms") = d.lease_ms,
                    py::arg("max_groups") = d.max_groups, py::arg("max_participants") = d.max_participants,
                    py::arg("max_deliveries") = d.max_deliveries, py::arg("dlq_capacity") = d.dlq_capacity,
                    py::arg("mode") = d.mode, py::arg("high_watermark_pct") = d.high_watermark_pct,
                    py::arg("spill_buffer") = d.spill_buffer, py::arg("fsync") = enum_name(d.fsync, kFsync),
                    py::arg("journal") = d.journal, py::arg("retain_bytes") = d.retain_bytes,
                    py::arg("retain_ms") = d.retain_ms, py::arg("dedup_window_ms") = d.dedup_window_ms,
                    py::arg("dedup_capacity") = d.dedup_capacity, py::arg("dedup_content") = d.dedup_content,
                    py::arg("keyed_groups") = d.keyed_groups, py::arg("message_ttl_ms") = d.message_ttl_ms,
                    py::arg("ttl_action") = enum_name(d.ttl_action, kTtlAction), py::arg("delay_capacity") = d.delay_capacity)
        .def_static("open", &open, py::arg("name"))
        .def_static(
            "remove",
            [](const std::string& name) { without_gil([&] { Queue::remove(name); }); },
            py::arg("name"))
        .def_static("exists", [](const std::string& name) { return Queue::exists(name); }, py::arg("name"))
        .def_property_readonly("name", [](PyQueue& q) { return q.get().name(); })
        .def_property_readonly("options", [](PyQueue& q) { return options_dict(q.get().options()); })
        .def("producer", &producer, py::kw_only(), py::arg("exclusive") = false, py::arg("writer") = "automatic")
        .def("consumer", &consumer, py::arg("group"), py::kw_only(), py::arg("kind") = enum_name(dc.kind, kKind),
             py::arg("start") = enum_name(dc.start, kStart), py::arg("max_in_flight") = dc.max_in_flight,
             py::arg("at_most_once") = dc.at_most_once)
        .def("close", [](PyQueue& q) { q.closed = true; })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyQueue& q, py::args) { q.closed = true; })
        .def("__repr__", [](PyQueue& q) {
            if (!q.stamp.same_process()) return std::string("<shmq.Queue from process ") + std::to_string(q.stamp.pid) + ">";
            return std::string("<shmq.Queue '") + q.queue->name() + (q.closed ? "' closed>" : "'>");
        });
}

}  // namespace shmq::python
