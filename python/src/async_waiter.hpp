// asyncio: areceive's waits, all done by one helper thread per process
// (docs/PYTHON.md, "asyncio"). The thread runs the sleeper protocol
// (shmq/internal/consumer_sleep.hpp) on every consumer that has an awaiting
// areceive, sleeps in one futex_waitv on all their doorbells plus a private
// word that announces new or cancelled waits, and completes the futures on
// their loops with loop.call_soon_threadsafe.
#pragma once

#include <pybind11/pybind11.h>

namespace shmq::python {

// _async_wait(consumer, future, loop, complete, timeout) -> token;
// _async_cancel(token); _async_shutdown(); _async_helper_threads().
void init_async(pybind11::module_& m);

}  // namespace shmq::python
