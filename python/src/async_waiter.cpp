#include "async_waiter.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "fork_guard.hpp"
#include "futex_waitv.hpp"
#include "handles.hpp"
#include "shmq/internal/consumer_sleep.hpp"
#include "timeouts.hpp"

namespace py = pybind11;

namespace shmq::python {

namespace {

constexpr uint64_t kNoDeadline = UINT64_MAX;
constexpr uint64_t kFallbackPollNs = 5'000'000;   // no futex_waitv: poll this often
constexpr uint64_t kOverflowPollNs = 10'000'000;  // more words than one futex_waitv takes

// One awaiting areceive. Its Python objects are touched with the GIL only;
// `consumer` (the PyConsumer they keep alive) is used without it, under its
// mutex, as a synchronous receive does.
struct Waiting {
    uint64_t id = 0;
    py::object consumer_object, future, loop, complete;
    PyConsumer* consumer = nullptr;
    uint64_t deadline_ns = kNoDeadline;
    bool removed = false;  // under Helper::mutex: no longer in the list
};

struct Outcome {
    std::shared_ptr<Waiting> waiting;
    std::optional<Message> message;  // empty: timed out (None) or an error
    Errc error = Errc::ok;
    bool closed = false;
};

class Helper {
public:
    Helper() : thread_([this] { run(); }) {}

    uint64_t add(py::object consumer, py::object future, py::object loop, py::object complete,
                 std::optional<double> timeout) {
        auto w = std::make_shared<Waiting>();
        w->consumer = &consumer.cast<PyConsumer&>();
        w->consumer_object = std::move(consumer);
        w->future = std::move(future);
        w->loop = std::move(loop);
        w->complete = std::move(complete);
        if (timeout) {
            const Millis ms = to_millis(*timeout, "timeout");
            if (ms != kForever) w->deadline_ns = monotonic_ns() + static_cast<uint64_t>(ms.count()) * 1'000'000;
        }
        {
            std::lock_guard lock(mutex_);
            w->id = ++last_id_;
            list_.push_back(w);
        }
        kick();
        return w->id;
    }

    // With the GIL. The entry goes to the graveyard: the helper may hold it
    // in this round, and only the helper, with the GIL, drops it.
    void cancel(uint64_t id) {
        {
            std::lock_guard lock(mutex_);
            auto it = std::find_if(list_.begin(), list_.end(), [&](const auto& w) { return w->id == id; });
            if (it == list_.end()) return;
            (*it)->removed = true;
            graveyard_.push_back(*it);
            list_.erase(it);
        }
        kick();
    }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        kick();
        if (thread_.joinable()) {
            py::gil_scoped_release nogil;  // it may be waiting for the GIL to complete a future
            thread_.join();
        }
        std::vector<std::shared_ptr<Waiting>> left;
        {
            std::lock_guard lock(mutex_);
            left.swap(list_);
            left.insert(left.end(), graveyard_.begin(), graveyard_.end());
            graveyard_.clear();
        }
        // `left` drops its Python objects here, with the GIL.
    }

    // A forked child has no helper thread: leak this one (its std::thread
    // and Python objects belong to the parent).
    bool same_process() const noexcept { return stamp_.same_process(); }

private:
    void kick() noexcept {
        kick_.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_private(kick_);
    }

    void run() {
        for (;;) {
            const uint32_t kicked = kick_.load(std::memory_order_seq_cst);
            std::vector<std::shared_ptr<Waiting>> round;
            {
                std::lock_guard lock(mutex_);
                if (stop_) return;
                round = list_;
            }
            std::vector<Outcome> done;
            std::vector<std::pair<Waiting*, detail::ConsumerSleep::Ticket>> sleeping;
            const uint64_t now = monotonic_ns();
            uint64_t deadline = now + 1'000'000'000;  // idle: look again once a second
            for (const auto& w : round) {
                detail::ConsumerSleep::Ticket ticket;
                std::optional<Result<Message>> r;
                {
                    std::lock_guard lock(w->consumer->mutex);
                    if (w->consumer->consumer) r.emplace(detail::ConsumerSleep::begin(*w->consumer->consumer, ticket));
                }
                if (!r) {
                    done.push_back({w, std::nullopt, Errc::ok, true});
                } else if (r->ok()) {
                    done.push_back({w, std::move(r->value()), Errc::ok, false});
                } else if (r->code() != Errc::timeout) {
                    done.push_back({w, std::nullopt, r->code(), false});
                } else if (w->deadline_ns <= now) {
                    end(*w, ticket);
                    done.push_back({w, std::nullopt, Errc::ok, false});
                } else {
                    sleeping.emplace_back(w.get(), ticket);
                    deadline = std::min({deadline, w->deadline_ns, now + static_cast<uint64_t>(ticket.slice_ns)});
                }
            }
            if (done.empty()) wait(kicked, sleeping, deadline);
            for (auto& [w, ticket] : sleeping) end(*w, ticket);
            finish(round, done);
        }
    }

    // The region stays mapped: the Waiting holds the PyConsumer, which holds its Queue.
    static void end(Waiting&, detail::ConsumerSleep::Ticket& ticket) { detail::ConsumerSleep::end(ticket); }

    void wait(uint32_t kicked, const std::vector<std::pair<Waiting*, detail::ConsumerSleep::Ticket>>& sleeping,
              uint64_t deadline) {
        std::vector<FutexWaiter> words{{&kick_, kicked, false}};
        for (const auto& [w, t] : sleeping) {
            const bool seen = std::any_of(words.begin(), words.end(), [&](const FutexWaiter& f) { return f.word == t.word; });
            if (!seen) words.push_back({t.word, t.expected, true});
        }
        if (words.size() > kMaxWaiters) deadline = std::min(deadline, monotonic_ns() + kOverflowPollNs);
        if (!has_waitv_ || !futex_waitv(words, deadline)) {
            has_waitv_ = false;  // an old kernel: poll (docs/PYTHON.md)
            futex_wait_private(kick_, kicked, std::min(deadline, monotonic_ns() + kFallbackPollNs));
        }
    }

    // Completes the finished waits on their loops. A Waiting's Python
    // objects are dropped with the GIL only: finished and cancelled entries
    // wait in the graveyard, which this empties with the GIL; until then it
    // holds a reference, so dropping `round` without the GIL frees nothing.
    void finish(std::vector<std::shared_ptr<Waiting>>& round, std::vector<Outcome>& done) {
        bool graves = false;
        {
            std::lock_guard lock(mutex_);
            for (auto& o : done) {
                if (o.waiting->removed) {
                    o.waiting = nullptr;  // cancelled meanwhile: a message is NACKed as it goes
                    continue;
                }
                o.waiting->removed = true;
                graveyard_.push_back(o.waiting);
                std::erase(list_, o.waiting);
            }
            graves = !graveyard_.empty();
        }
        if (!graves) {
            done.clear();
            return;
        }
        py::gil_scoped_acquire gil;
        for (auto& o : done)
            if (o.waiting) complete(o);
        done.clear();
        round.clear();
        std::vector<std::shared_ptr<Waiting>> dead;
        {
            std::lock_guard lock(mutex_);
            dead.swap(graveyard_);
        }
    }

    static void complete(Outcome& o) {
        Waiting& w = *o.waiting;
        try {
            py::object value = py::none(), error = py::none();
            if (o.message) value = wrap_message(std::move(*o.message), w.consumer->queue);
            else if (o.closed) error = make_closed_error("shmq.Consumer");
            else if (o.error != Errc::ok) error = make_error(o.error, std::string("areceive: ") + to_string(o.error));
            // A cancelled future drops `value`: its Message is NACKed (redelivered).
            w.loop.attr("call_soon_threadsafe")(w.complete, w.future, value, error);
        } catch (py::error_already_set& e) {
            // The loop is closed: nobody awaits any more; a message is NACKed as it goes.
            e.discard_as_unraisable("shmq areceive completion");
        }
    }

    ForkStamp stamp_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<Waiting>> list_;
    std::vector<std::shared_ptr<Waiting>> graveyard_;  // removed, awaiting the GIL to be dropped
    uint64_t last_id_ = 0;
    bool stop_ = false;
    bool has_waitv_ = true;
    std::atomic<uint32_t> kick_{0};
    std::thread thread_;  // last: starts after the members above exist
};

Helper* g_helper = nullptr;
std::atomic<int> g_helpers_started{0};

Helper& helper() {
    if (g_helper != nullptr && !g_helper->same_process()) g_helper = nullptr;  // leaked: the parent's
    if (g_helper == nullptr) {
        g_helper = new Helper();
        g_helpers_started.fetch_add(1, std::memory_order_relaxed);
    }
    return *g_helper;
}

}  // namespace

void init_async(py::module_& m) {
    m.def(
        "_async_wait",
        [](py::object consumer, py::object future, py::object loop, py::object complete, std::optional<double> timeout) {
            consumer.cast<PyConsumer&>().check();
            return helper().add(std::move(consumer), std::move(future), std::move(loop), std::move(complete), timeout);
        },
        py::arg("consumer"), py::arg("future"), py::arg("loop"), py::arg("complete"), py::arg("timeout"));
    m.def("_async_cancel", [](uint64_t token) {
        if (g_helper != nullptr && g_helper->same_process()) g_helper->cancel(token);
    });
    m.def("_async_shutdown", [] {
        if (g_helper == nullptr || !g_helper->same_process()) return;
        g_helper->stop();
        delete std::exchange(g_helper, nullptr);
    });
    m.def("_async_helpers_started", [] { return g_helpers_started.load(std::memory_order_relaxed); });
}

}  // namespace shmq::python
