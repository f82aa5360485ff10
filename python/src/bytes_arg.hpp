// A payload or key argument: any contiguous buffer (bytes, bytearray,
// memoryview, numpy array) or a str (sent as UTF-8). Holds the buffer while
// it lives, so it may be read with the GIL released.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>
#include <string_view>

namespace shmq::python {

class BytesArg {
public:
    BytesArg() = default;
    // None gives an empty value. Raises TypeError for anything else.
    BytesArg(pybind11::handle object, const char* what);
    BytesArg(BytesArg&& o) noexcept : view_(o.view_), held_(o.held_), bytes_(o.bytes_) { o.held_ = false; }
    BytesArg(const BytesArg&) = delete;
    BytesArg& operator=(const BytesArg&) = delete;
    BytesArg& operator=(BytesArg&&) = delete;
    ~BytesArg() {
        if (held_) PyBuffer_Release(&view_);
    }

    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
    }

private:
    Py_buffer view_{};
    bool held_ = false;
    std::span<const std::byte> bytes_{};
};

}  // namespace shmq::python
