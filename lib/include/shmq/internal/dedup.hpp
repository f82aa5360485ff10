// Deduplicated publishing: the protocol over the region's DedupTable
// (layout.hpp). A send with an id records it before its message and marks it
// after; a send that finds the id decides from that record alone.
//
// Entry kinds (DedupEntry::tag's low 4 bits):
//   empty     never used since the generation's last reset (a probe stops here)
//   pending   reserved by owner T; T has not claimed its slot yet
//   claimed   T claimed slot `result` and wrote the entry's reference into
//             the slot's extension first; T has not committed yet
//   committed the message at `result` is published; counts for the window
//   void      withdrawn (the send failed, or its dead owner's claim was aborted)
//
// (1) One decider per id. Every lookup-then-add of an id runs under the
//     stripe lock its hash picks (an owner lock, broken when its holder dies),
//     so two sends of one id never both find it absent. Only the owner's own
//     transitions (pending -> claimed -> committed, -> void) and the reaper's
//     (claimed -> void) run outside it: single CASes of the tag, which the
//     lock holder reads with acquire.
// (2) An id counts only once its message committed. T moves its entry to
//     claimed only after its claim and the slot extension naming the entry,
//     and to committed only after the commit. So a finder of T's entry:
//       committed          -> duplicate (the original's partition, offset);
//       pending or claimed, T alive -> waits (T is mid-send; up to the send's
//                          timeout);
//       T dead             -> reaps T (reap_participant), then looks again;
//       pending, T gone    -> T never claimed a slot it named, so never
//                          committed: the finder voids the entry, adds its
//                          own to the current span, and sends;
//       claimed, T gone    -> the reaper aborted every claim T left open and,
//                          before aborting, voided the entry its slot named
//                          if that entry was still claimed for it (3). Still
//                          claimed, then, means T's claim was not open: T
//                          committed. The finder marks it committed: a
//                          duplicate. Never a second copy, never a lost first.
// (3) The reaper of T runs with T's lock byte held and T dead: T's stores
//     are all visible (the kernel released T's locks after its last one) and
//     no one else changes T's entries, except a finder, which acts only once
//     T is gone, i.e. after the reaper's release store that frees T's entry.
// (4) Generations. Span n (CLOCK_REALTIME ms / span_ms, span_ms = window/2)
//     adds to generation n % 3; its first adder resets it (under its reset
//     lock: span = n | resetting, entries zeroed by release stores, count 0,
//     span = n released). A lookup reads spans n, n-1, n-2, each only while
//     its generation's span word says so: checked before the scan and again
//     after the acquire load of a matching entry's result (a zeroed result
//     read there implies the resetting span is seen), and counts
//     a committed entry only if it is younger than the window: retention is
//     exactly the window. An add that raced a reset (it read the span, then
//     stalled past 1.5 windows) leaves an entry whose tag span does not match
//     the generation's: every reader skips it. A send that waited for room
//     that long finds its entry gone at record_claim: it aborts its claim and
//     decides again. Between claim and commit nothing waits.
// (5) Memory: count per generation <= dedup_capacity <= entries / 2, so an
//     add always finds an empty entry; a full generation answers overloaded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shmq/internal/layout.hpp"
#include "shmq/shmq.hpp"

namespace shmq::detail {
class Region;
struct Participant;
}  // namespace shmq::detail

namespace shmq::dedup {

// 96 bits of FNV-1a 128 of the id bytes, finalized with SplitMix64's mixer
// (a is never 0: bit 0 set; a's low bits index the table, its top 8 pick
// the stripe). Two distinct ids within one window collide with odds about
// n^2 / 2^96 (n ids: 10^6 ids, 1 in 10^16).
struct IdHash {
    uint64_t a = 0;
    uint32_t b = 0;
};
IdHash hash_id(std::string_view id) noexcept;
// dedup_content's id: FNV-1a 128 (offset basis 0x6c62272e07bb014262b821756295c58d,
// prime 2^88 + 0x13b) over key_len (2 bytes, little-endian), the key, then
// the payload; the 16 bytes big-endian. Stable across versions and restores.
std::array<char, 16> content_id(std::string_view key, std::span<const std::byte> payload) noexcept;

enum class Kind : uint64_t { empty = 0, pending = 1, claimed = 2, committed = 3, voided = 4 };
constexpr uint64_t make_tag(Kind kind, uint64_t owner_token, uint64_t span) noexcept {
    // owner_token: [gen:32 | id:16] (layout::owner_token); id < 4096.
    return (span & 0xffff) << 48 | (layout::token_gen(owner_token) & 0xffffffffull) << 16 |
           (uint64_t{layout::token_id(owner_token)} & 0xfff) << 4 | static_cast<uint64_t>(kind);
}
constexpr Kind tag_kind(uint64_t tag) noexcept { return static_cast<Kind>(tag & 0xf); }
constexpr uint64_t tag_owner(uint64_t tag) noexcept {
    return layout::owner_token(static_cast<uint32_t>(tag >> 4 & 0xfff), static_cast<uint32_t>(tag >> 16 & 0xffffffff));
}
constexpr uint64_t tag_span(uint64_t tag) noexcept { return tag >> 48; }
constexpr uint64_t with_kind(uint64_t tag, Kind kind) noexcept { return (tag & ~uint64_t{0xf}) | static_cast<uint64_t>(kind); }
constexpr uint64_t pack_result(uint32_t partition, uint64_t offset, bool staged) noexcept {
    return uint64_t{staged} << 63 | (uint64_t{partition} & 0x3ff) << 53 | (offset & ((uint64_t{1} << 53) - 1));
}
static_assert(layout::kMaxPartitions <= 1024, "partitions fit the result's 10 bits");

// The entry a send holds between reserve() and record_commit()/withdraw().
struct Reservation {
    uint32_t generation = 0;
    uint64_t index = 0;
    uint64_t tag = 0;  // the tag we last stored
    uint32_t ref = 0;  // SlotExtension::entry_ref of the entry
    bool valid = false;
};

enum class Verdict { reserved, duplicate, wait, full };
// One look at the table for `h` at `now_unix_ms`, under the id's stripe
// lock: duplicate (fills `original`), wait (an owner is mid-send, or a dead
// one is being reaped: call again soon), full (the current generation is at
// capacity), or reserved (a pending entry is ours: `res`).
Verdict reserve(detail::Region& r, const detail::Participant& me, const IdHash& h, uint64_t now_unix_ms,
                Reservation& res, SendOutcome& original) noexcept;
// pending -> claimed: call after the claim and after writing res.ref into
// the slot's extension. False: the entry is no longer ours (a reset under a
// send stalled past 1.5 windows): abort the claim and reserve again.
bool record_claim(detail::Region& r, Reservation& res, uint32_t partition, uint64_t offset, bool staged) noexcept;
// claimed -> committed: call after the commit.
void record_commit(detail::Region& r, Reservation& res, uint64_t now_unix_ms) noexcept;
// pending/claimed -> void: the send failed before its commit.
void withdraw(detail::Region& r, Reservation& res) noexcept;
// The reaper, before aborting dead participant `id`'s open claim of slot
// (partition, offset, staged) at `slot_base`: voids the entry the slot's
// extension names if it is still claimed for that slot by `id` (2).
void void_dead_claim(detail::Region& r, std::byte* slot_base, uint32_t partition, uint64_t offset, bool staged,
                     uint32_t id) noexcept;
// A committed entry for a message published at `unix_ms` (shmqd's rebuild
// from the journal; nobody else adds meanwhile). False if it is older than
// the window, already present, or its generation is full.
// `token`: the restorer's owner token (generation reset locks). staged:
// `offset` is a spill sequence (a message restored with the spill backlog).
bool restore_committed(detail::Region& r, uint64_t token, const IdHash& h, uint64_t unix_ms, uint64_t now_unix_ms,
                       uint32_t partition, uint64_t offset, bool staged = false) noexcept;

}  // namespace shmq::dedup
