// libFuzzer target: the text shmq reads back from places others can write:
// queue and group names, the journal's `queue` and `cursors` files (read by
// a restore), and creation parameters taken from a region's header. Each must
// be refused with a message or accepted within its limits, never crash.
#include <cstdint>
#include <cstring>
#include <string>

#include "shmq/internal/layout.hpp"
#include "layout/layout_math.hpp"
#include "shmq/internal/names.hpp"
#include "queue_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    (void)shmq::detail::check_name(text, "queue");
    std::string error;
    if (auto f = shmq::daemon::parse_queue_file(text, error)) {
        if (shmq::detail::check_name(f->name, "queue")) std::abort();  // a name must be valid once accepted
        (void)shmq::daemon::format_queue_file(f->name, f->epoch, f->options, 0, 0);
    }
    for (uint32_t partitions : {1u, 3u})
        for (const auto& g : shmq::daemon::parse_cursors_file(text, 0x1234, partitions, error))
            if (g.floors.size() != partitions || shmq::detail::check_name(g.name, "group")) std::abort();
    shmq::layout::QueueParams params{};
    std::memcpy(&params, data, std::min(size, sizeof params));
    (void)shmq::layout::check_and_derive(params);
    return 0;
}
