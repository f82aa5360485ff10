// Small files beside the segments (a journal's queue description and group
// cursors): replaced atomically and durably, read back whole; through
// io_uring like every other disk access of shmqd. Contents are untrusted
// when read: callers parse them defensively.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shmq::disk {

// DIR/name becomes `text`: written to name.tmp (0600, O_NOFOLLOW), fsynced,
// renamed over name, the directory fsynced. A crash leaves the old or the new file.
[[nodiscard]] bool replace_file(int dir_fd, const std::string& name, std::string_view text, std::string& error);

// DIR/name whole, at most max_bytes. false (and `error`) if missing or unreadable.
[[nodiscard]] bool read_small_file(int dir_fd, const std::string& name, std::size_t max_bytes, std::string& out,
                                   std::string& error);

}  // namespace shmq::disk
