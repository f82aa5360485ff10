// The C API's error reporting (shmq/shmq.h): Errc to status codes, and
// this thread's detail line of the last failure. Shared by the C API's
// files (c_api.cpp: queues, producers, consumers; c_api_exchange.cpp).
#pragma once

#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "shmq/shmq.h"
#include "shmq/shmq.hpp"

namespace shmq::capi {

// Invariant: -(int)Errc is the C code of every Errc up to no_resources
// (checked at compile time for the ends of the range; the enum in shmq.h
// lists them in the same order). The codes after it have C-only codes.
static_assert(SHMQ_ERR_TIMEOUT == -static_cast<int>(shmq::Errc::timeout));
static_assert(SHMQ_ERR_NO_RESOURCES == -static_cast<int>(shmq::Errc::no_resources));
static_assert(SHMQ_ERR_INVALID_ARGUMENT == -static_cast<int>(shmq::Errc::invalid_argument));
static_assert(static_cast<int>(shmq::Errc::not_found) == -SHMQ_ERR_NO_RESOURCES + 1);

inline int to_code(shmq::Errc e) noexcept {
    switch (e) {
        case shmq::Errc::not_found: return SHMQ_ERR_NOT_FOUND;
        case shmq::Errc::already_exists: return SHMQ_ERR_EXISTS;
        case shmq::Errc::permission_denied: return SHMQ_ERR_PERMISSION_DENIED;
        case shmq::Errc::writer_busy: return SHMQ_ERR_WRITER_BUSY;
        case shmq::Errc::unroutable: return SHMQ_ERR_UNROUTABLE;
        default: return -static_cast<int>(e);
    }
}

// This thread's last failure. Hot-path failures (timeout, lease_lost) point
// at a static string, so reporting them never allocates.
struct LastError {
    const char* fixed = "";
    std::string text;
    bool use_text = false;
};
inline thread_local LastError last_error;

inline int fail_static(int code, const char* message) noexcept {
    last_error.fixed = message;
    last_error.use_text = false;
    return code;
}

inline int fail_text(int code, std::string_view message) noexcept {
    try {
        last_error.text.assign(message);
        last_error.use_text = true;
    } catch (...) {
        fail_static(code, shmq_strerror(code));
    }
    return code;
}

inline int fail_status(shmq::Status s) noexcept { return fail_static(to_code(s.code()), s.message()); }

inline int done(shmq::Status s) noexcept { return s.ok() ? SHMQ_OK : fail_status(s); }

inline shmq::Millis to_millis(int64_t ms) noexcept { return ms < 0 ? shmq::kForever : shmq::Millis(ms); }

// Call only from a catch block: turns the exception in flight into a code
// and this thread's detail line. The code is the Error's own (no second look
// at /dev/shm: it could have changed since).
inline int fail_current_exception() noexcept {
    try {
        throw;
    } catch (const shmq::Error& e) {
        return fail_text(to_code(e.code()), e.what());
    } catch (const std::bad_alloc&) {
        return fail_static(SHMQ_ERR_NO_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return fail_text(SHMQ_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return fail_static(SHMQ_ERR_INTERNAL, "internal error: unknown exception");
    }
}

inline int bad_argument(const char* what) noexcept { return fail_static(SHMQ_ERR_INVALID_ARGUMENT, what); }

}  // namespace shmq::capi
