// The objects behind shmq.Queue, Producer, Claim and Consumer (Message:
// message_object.cpp).
// Each records where it was made (ForkStamp) and owns its C++ handle through
// a unique_ptr, so that a forked child can leak it (fork_guard.hpp). A
// Producer or Consumer is used by one thread at a time (shmq.hpp): its
// mutex, taken with the GIL released, serializes Python threads.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <string>

#include "fork_guard.hpp"
#include "shmq/shmq.hpp"

namespace shmq::python {

struct PyQueue {
    std::unique_ptr<Queue> queue;  // never reset before the object dies: views map through it
    ForkStamp stamp;
    bool closed = false;

    explicit PyQueue(Queue q) : queue(std::make_unique<Queue>(std::move(q))) {}
    ~PyQueue() { dispose(queue, stamp); }
    // Raises Closed / UsedAfterFork.
    Queue& get(const char* what = "shmq.Queue");
};

struct PyProducer {
    pybind11::object queue;  // PyQueue: keeps the mapping for claims' views
    std::unique_ptr<Producer> producer;
    std::mutex mutex;  // one thread at a time; also orders claims' commits
    ForkStamp stamp;

    ~PyProducer() { dispose(producer, stamp); }
    void check();  // raises Closed / UsedAfterFork
};

struct PyClaim {
    pybind11::object producer;  // PyProducer: its mutex orders commits with sends
    std::unique_ptr<Claim> claim;
    pybind11::object view;
    ForkStamp stamp;

    ~PyClaim() { dispose(claim, stamp); }
};

struct PyConsumer {
    pybind11::object queue;  // PyQueue
    std::unique_ptr<Consumer> consumer;
    std::mutex mutex;
    ForkStamp stamp;

    ~PyConsumer() { dispose(consumer, stamp); }
    void check();
};

void init_queue(pybind11::module_& m);
void init_producer(pybind11::module_& m);
void init_consumer(pybind11::module_& m);
void init_message(pybind11::module_& m);

// A Python Message (message_object.cpp) for a delivered C++ one; keeps
// `queue` for its views.
pybind11::object wrap_message(Message&& m, const pybind11::object& queue);

}  // namespace shmq::python
