// memoryviews over shared memory (msg.data, a claim's buffer). The exporter
// object holds a reference to the Python Queue, whose shmq::Queue holds the
// region's mapping: a view, or any buffer taken from it (a slice,
// numpy.frombuffer), can never point at unmapped memory. Settling a message
// releases the view it handed out; a buffer exported from it beyond that
// stays readable and may show a later message's bytes (the slot is reused).
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>

namespace shmq::python {

void init_payload_view(pybind11::module_& m);

// A memoryview of [data, data + size), keeping `owner` alive while any
// buffer of it is exported.
pybind11::object make_view(void* data, std::size_t size, bool writable, pybind11::object owner);

// Releases a view from make_view; one with exports stays valid (see above).
void release_view(pybind11::object& view) noexcept;

}  // namespace shmq::python
