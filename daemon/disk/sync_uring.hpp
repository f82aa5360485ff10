// One io_uring per thread for shmqd's few synchronous disk accesses (reading
// a segment whole, replacing a small file): queue the SQEs, submit, wait for
// them all. The loop's writes use SegmentWriter's own ring, never this one.
#pragma once

#include <liburing.h>

#include <cstdint>

namespace shmq::disk {

// Runs the `count` SQEs `prepare(ring)` queues (linked as it chooses) and
// waits for all of them. Returns 0, the first negative CQE result, or a
// negative errno from io_uring itself (setup, submit, wait); `last_result`
// gets the last CQE's result (a read's byte count).
template <class Prepare>
int run_uring(unsigned count, Prepare prepare, int* last_result = nullptr) {
    struct Ring {
        io_uring ring{};
        int rc = io_uring_queue_init(4, &ring, 0);
        ~Ring() {
            if (rc == 0) io_uring_queue_exit(&ring);
        }
    };
    thread_local Ring r;
    if (r.rc != 0) return r.rc;
    prepare(r.ring);
    int rc = io_uring_submit_and_wait(&r.ring, count);
    if (rc < 0) return rc;
    int first_error = 0;
    for (unsigned i = 0; i < count; ++i) {
        io_uring_cqe* cqe = nullptr;
        if ((rc = io_uring_wait_cqe(&r.ring, &cqe)) < 0) return rc;
        if (cqe->res < 0 && first_error == 0) first_error = cqe->res;
        if (last_result != nullptr) *last_result = cqe->res;
        io_uring_cqe_seen(&r.ring, cqe);
    }
    return first_error;
}

// One read through the thread's ring: bytes read, or a negative errno.
inline int read_at(int fd, void* buf, unsigned len, uint64_t offset) {
    int result = 0;
    const int rc = run_uring(1, [&](io_uring& ring) { io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, len, offset); },
                             &result);
    return rc < 0 ? rc : result;
}

}  // namespace shmq::disk
