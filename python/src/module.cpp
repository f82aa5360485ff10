// shmq._shmq: the extension behind `import shmq` (docs/PYTHON.md).
#include <pybind11/pybind11.h>

#include "async_waiter.hpp"
#include "errors.hpp"
#include "fork_guard.hpp"
#include "handles.hpp"
#include "payload_view.hpp"

PYBIND11_MODULE(_shmq, m) {
    m.doc() = "shmq: a shared-memory message queue for processes on one Linux host";
    shmq::python::install_fork_guard();
    shmq::python::init_errors(m);
    shmq::python::init_payload_view(m);
    shmq::python::init_queue(m);
    shmq::python::init_producer(m);
    shmq::python::init_consumer(m);
    shmq::python::init_message(m);
    shmq::python::init_async(m);
}
