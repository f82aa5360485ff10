// Python timeouts (float seconds, None = forever) and waiting in slices: a
// blocking call runs with the GIL released for at most kSlice at a time and
// checks for signals (Ctrl-C) between slices, so KeyboardInterrupt comes
// within kSlice plus one attempt. An attempt that timed out took nothing.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <mutex>
#include <optional>

#include "shmq/shmq.hpp"
#include "without_gil.hpp"

namespace shmq::python {

inline constexpr Millis kSlice{100};

// A call's time limit. The clock is read only once a wait is needed (the
// first slice() or passed() of a finite, non-zero timeout), so a call whose
// first poll succeeds reads no clock; the limit then counts from there.
class Deadline {
public:
    // Raises InvalidArgument for NaN; a negative timeout is a poll.
    explicit Deadline(std::optional<double> seconds);
    bool forever() const noexcept { return forever_; }
    // The next slice: min(kSlice, time left); Millis(0) once it has passed.
    Millis slice() const noexcept;
    bool passed() const noexcept;

private:
    void start() const noexcept;

    bool forever_ = true;
    Millis total_{0};
    mutable bool started_ = false;
    mutable std::chrono::steady_clock::time_point end_{};
};

// Converts a float of seconds (>= 0) to whole milliseconds, rounding up.
Millis to_millis(double seconds, const char* what);

// Calls attempt(slice) under `mutex` (the handle's) until it does not time
// out or the deadline passes, and returns the last result. First one poll
// (slice 0) with the GIL held, if the mutex is free: most calls end there,
// without giving the GIL up and taking it back. Then slices with the GIL
// released, checking signals between them (a pending exception is raised).
// `attempt` returns anything with code(); it must not touch Python objects.
template <class Attempt>
auto wait_sliced(std::mutex& mutex, const Deadline& deadline, Attempt&& attempt) {
    if (std::unique_lock lock(mutex, std::try_to_lock); lock) {
        auto result = attempt(Millis(0));
        if (result.code() != Errc::timeout || deadline.passed()) return result;
    }
    for (;;) {
        auto result = without_gil([&] {
            std::lock_guard lock(mutex);
            return attempt(deadline.slice());
        });
        if (result.code() != Errc::timeout || deadline.passed()) return result;
        if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
    }
}

}  // namespace shmq::python
