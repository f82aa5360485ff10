#include "timeouts.hpp"

#include <cmath>

#include "errors.hpp"

namespace shmq::python {

Millis to_millis(double seconds, const char* what) {
    if (std::isnan(seconds))
        raise_errc(Errc::invalid_argument, std::string(what) + " is NaN: give seconds as a number, or None for no limit");
    if (seconds <= 0) return Millis(0);
    if (seconds >= 1e12) return kForever;
    return Millis(static_cast<int64_t>(std::ceil(seconds * 1000.0)));
}

Deadline::Deadline(std::optional<double> seconds) {
    if (!seconds) return;
    const Millis ms = to_millis(*seconds, "timeout");
    if (ms == kForever) return;
    forever_ = false;
    total_ = ms;
}

void Deadline::start() const noexcept {
    if (started_) return;
    started_ = true;
    end_ = std::chrono::steady_clock::now() + total_;
}

Millis Deadline::slice() const noexcept {
    if (forever_) return kSlice;
    if (total_ <= Millis(0)) return Millis(0);
    start();
    const auto left = std::chrono::ceil<Millis>(end_ - std::chrono::steady_clock::now());
    if (left <= Millis(0)) return Millis(0);
    return std::min(left, kSlice);
}

bool Deadline::passed() const noexcept {
    if (forever_) return false;
    if (total_ <= Millis(0)) return true;
    start();
    return std::chrono::steady_clock::now() >= end_;
}

}  // namespace shmq::python
