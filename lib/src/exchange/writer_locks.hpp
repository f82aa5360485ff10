// The writers' locks (exchange_table.hpp): OFD write locks, which the
// kernel drops when their holder closes the file or dies.
#pragma once

#include <cstdint>
#include <string>

namespace shmq::detail::exchange {

// The writer lock of one exchange (byte kWriterLockByte of its object),
// held for a scope; blocks until taken.
class WriterLock {
public:
    WriterLock(int fd, const std::string& what);
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    int fd_;
};

// The host-wide lock of exchange-to-exchange binds (/dev/shm/shmq-x-graph.lock,
// its own descriptor), taken before any WriterLock.
class GraphLock {
public:
    GraphLock();
    ~GraphLock();
    GraphLock(const GraphLock&) = delete;
    GraphLock& operator=(const GraphLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace shmq::detail::exchange
