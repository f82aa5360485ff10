// Python timeouts (float seconds, None = forever) and waiting in slices: a
// blocking call runs with the GIL released for at most kSlice at a time and
// checks for signals (Ctrl-C) between slices, so KeyboardInterrupt comes
// within kSlice plus one attempt. An attempt that timed out took nothing.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <optional>

#include "shmq/shmq.hpp"

namespace shmq::python {

inline constexpr Millis kSlice{100};

class Deadline {
public:
    // Raises InvalidArgument for NaN; a negative timeout is a poll.
    explicit Deadline(std::optional<double> seconds);
    bool forever() const noexcept { return forever_; }
    // The next slice: min(kSlice, time left); Millis(0) once it has passed.
    Millis slice() const noexcept;
    bool passed() const noexcept;

private:
    bool forever_ = true;
    std::chrono::steady_clock::time_point end_{};
};

// Converts a float of seconds (>= 0) to whole milliseconds, rounding up.
Millis to_millis(double seconds, const char* what);

// Calls attempt(slice) with the GIL released until it does not time out or
// the deadline passes, checking signals between slices (a pending exception
// is raised). Returns the last result. `attempt` returns anything with
// code(); it must not touch Python objects.
template <class Attempt>
auto wait_sliced(const Deadline& deadline, Attempt&& attempt) {
    for (;;) {
        auto result = [&] {
            pybind11::gil_scoped_release nogil;
            return attempt(deadline.slice());
        }();
        if (result.code() != Errc::timeout || deadline.passed()) return result;
        if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
    }
}

}  // namespace shmq::python
