// What a user's tools see of a host with many queues, timed end to end:
// `shmq ls` run as a process (this very binary; it reads every region in
// /dev/shm, other people's included), and a Prometheus scrape of shmqd
// (GET /metrics over loopback TCP, one connection each).
#pragma once

#include <cstdint>

namespace shmq::cli::bench {

struct ClientTiming {
    double median_ms = 0;  // of `runs`
    uint64_t size = 0;     // ls: rows listed; scrape: body bytes
};

ClientTiming time_ls(int runs);
ClientTiming time_scrape(uint16_t port, int runs);

}  // namespace shmq::cli::bench
