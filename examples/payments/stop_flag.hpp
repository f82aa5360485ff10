// SIGTERM asks a stage to stop between batches (the orchestrator's normal
// end); SIGKILL, its test, gives no such chance.
#pragma once

#include <atomic>
#include <csignal>

namespace payments {

inline std::atomic<bool> g_stop{false};
extern "C" inline void on_sigterm(int) { g_stop.store(true, std::memory_order_relaxed); }

inline void stop_on_sigterm() {
    struct sigaction sa {};
    sa.sa_handler = on_sigterm;
    ::sigaction(SIGTERM, &sa, nullptr);
}

inline bool stopping() { return g_stop.load(std::memory_order_relaxed); }

}  // namespace payments
