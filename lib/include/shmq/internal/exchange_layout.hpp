// The byte layout of an exchange object: the one place it is defined.
//
// An exchange is one POSIX shared-memory object `/dev/shm/shmq-x.<name>`
// (mode 0600), sized once at creation, holding no pointers. Its routing table
// exists twice (copy-and-switch): the header's `current` word names the
// buffer holding the newest version; an admin writes the other one and then
// switches `current` (docs/ARCHITECTURE.md, "Exchanges"; the read protocol
// and its memory-ordering argument are in exchange_table.hpp).
//
//   offset                  part                        size
//   0                       ExchangeHeader              4096
//   kBufferOffset[0]        TableBuffer (buffer 0)      sizeof(TableBuffer), page-rounded
//   kBufferOffset[1]        TableBuffer (buffer 1)      the same
//   kExchangeBytes          end
//
// Versioning: bump kExchangeLayoutVersion on any change below; an opener
// refuses any other version (exchanges, like regions, do not outlive a reboot).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmq::xlayout {

constexpr uint64_t kExchangeMagic = 0x3130'4843'5845'5300ull;  // "\0SEXCH01" little-endian
constexpr uint32_t kExchangeLayoutVersion = 3;  // 2: the publish counters; 3: per-publisher routed counts
constexpr std::size_t kPage = 4096;

// Limits (checked on every write and on every read of shared memory).
constexpr uint32_t kMaxBindings = 256;      // per exchange; a bind beyond fails
constexpr std::size_t kNameBytes = 64;      // queue and exchange names: [A-Za-z0-9._-]{1,64}
constexpr std::size_t kMaxKeyBytes = 255;   // routing and binding keys (RabbitMQ's topic limit)
constexpr uint32_t kMaxHeaders = 8;         // header pairs of a binding (and of a message)
constexpr std::size_t kHeaderKeyBytes = 32;
constexpr std::size_t kHeaderValueBytes = 64;
// A `current` word's version stays below this, so 2 * version + 1 (a buffer
// stamp) never wraps; a larger one is a scribble.
constexpr uint64_t kMaxVersion = uint64_t{1} << 61;

enum class ExchangeType : uint8_t { direct = 1, topic = 2, fanout = 3, headers = 4 };
enum class DestKind : uint8_t { queue = 1, exchange = 2 };
enum class HeaderMatch : uint8_t { none = 0, all = 1, any = 2 };  // none: not a headers binding
enum class Lifecycle : uint32_t { live = 1, deleted = 2 };

// ---------------------------------------------------------------------------
// One header pair of a headers binding.
//   0 key_len  1 value_len  2 reserved[6]  8 key[32]  40 value[64]  104
struct HeaderPair {
    uint8_t key_len;    // 1..kHeaderKeyBytes
    uint8_t value_len;  // 0..kHeaderValueBytes
    uint8_t reserved[6];
    char key[kHeaderKeyBytes];
    char value[kHeaderValueBytes];
};
static_assert(sizeof(HeaderPair) == 104 && alignof(HeaderPair) == 1);
static_assert(offsetof(HeaderPair, key) == 8 && offsetof(HeaderPair, value) == 40);

// One binding: exchange -> destination (a queue, or another exchange).
//   0 dest_kind  1 match  2 header_count  3 dest_len  4 key_len(u16)  6 reserved
//   8 reserved   16 dest[64]   80 key[256]   336 headers[8]   1168 reserved  1216
struct BindingEntry {
    uint8_t dest_kind;     // DestKind
    uint8_t match;         // HeaderMatch; none unless the exchange is of type headers
    uint8_t header_count;  // 0..kMaxHeaders
    uint8_t dest_len;      // 1..kNameBytes
    uint16_t key_len;      // 0..kMaxKeyBytes
    uint16_t reserved0;
    uint64_t reserved1;
    char dest[kNameBytes];
    char key[256];
    HeaderPair headers[kMaxHeaders];
    uint64_t reserved2[6];
};
static_assert(sizeof(BindingEntry) == 1216 && sizeof(BindingEntry) % 64 == 0, "whole cache lines, whole words");
static_assert(offsetof(BindingEntry, key_len) == 4 && offsetof(BindingEntry, dest) == 16);
static_assert(offsetof(BindingEntry, key) == 80 && offsetof(BindingEntry, headers) == 336);

// The routing table of one version: a plain, trivially copyable image. In
// shared memory it is only ever accessed as 64-bit atomic words
// (TableBuffer::words), so a racing reader never sees a torn word.
//   0 version  8 binding_count  12 reserved  16 reserved[6]  64 bindings[256]
struct TableImage {
    uint64_t version;        // equals the buffer's stamp / 2 when complete
    uint32_t binding_count;  // 0..kMaxBindings; entries [0, count) are used, in bind order
    uint32_t reserved0;
    uint64_t reserved1[6];
    BindingEntry bindings[kMaxBindings];
};
static_assert(offsetof(TableImage, binding_count) == 8 && offsetof(TableImage, bindings) == 64);
static_assert(sizeof(TableImage) % 8 == 0 && sizeof(TableImage) == 64 + kMaxBindings * sizeof(BindingEntry));
constexpr std::size_t kImageWords = sizeof(TableImage) / 8;
constexpr std::size_t kImageHeadWords = offsetof(TableImage, bindings) / 8;
constexpr std::size_t kBindingWords = sizeof(BindingEntry) / 8;

// One of the two buffers. `stamp` is odd while an admin writes the buffer
// and 2 * version once it holds that version completely.
//   0 stamp   8 reserved[7]   64 words[kImageWords]
struct TableBuffer {
    std::atomic<uint64_t> stamp;
    uint64_t reserved[7];
    std::atomic<uint64_t> words[kImageWords];
};
static_assert(offsetof(TableBuffer, words) == 64, "the stamp has a cache line of its own");
static_assert(sizeof(TableBuffer) == 64 + sizeof(TableImage));

// One publisher's routed count (ExchangeHeader::publisher_routed), on a
// pair of lines of its own.
constexpr uint32_t kPublisherCounts = 24;
struct alignas(128) PublisherCount {
    std::atomic<uint64_t> routed;
    uint8_t reserved[120];
};
static_assert(sizeof(PublisherCount) == 128);

// The header. Written once by the creator (everything up to `magic` is fixed
// for the object's life), published by the release store of `magic`.
//   0 magic  8 layout_version  12 header_size  16 object_size  24 created_unix_ns
//   32 type  33 alternate_len  34 name_len  35 reserved[5]  40 reserved
//   48 name[64]  112 alternate[64]  176 reserved  ... 256 lifecycle (own line)
//   320 current (own line)  384 reserved  512 routed (own line pair)
//   640 unroutable (own line pair)  768 publisher_routed[24] (a line pair each)
//   3840 reserved .. 4096
struct ExchangeHeader {
    std::atomic<uint64_t> magic;  // release-stored last by the creator
    uint32_t layout_version;
    uint32_t header_size;
    uint64_t object_size;
    uint64_t created_unix_ns;
    uint8_t type;           // ExchangeType
    uint8_t alternate_len;  // 0: no alternate queue
    uint8_t name_len;
    uint8_t reserved0[5];
    uint64_t reserved1;
    char name[kNameBytes];
    char alternate[kNameBytes];
    uint8_t reserved2[80];
    alignas(64) std::atomic<uint32_t> lifecycle;  // Lifecycle; deleted before the object is unlinked
    uint8_t reserved3[60];
    // (version << 1) | buffer: the newest complete version and the buffer
    // holding it. Written only by the admin holding the writer lock, with a
    // release store after the buffer's stamp; read by every router.
    alignas(64) std::atomic<uint64_t> current;
    uint8_t reserved4[184];
    // Publish counters of this exchange (Publisher::publish), monotonic,
    // bumped with relaxed fetch_add by every publisher and only read by
    // observers (stat, shmqd's metrics), which need no ordering with anything
    // else. Each on a 128-byte pair of lines of its own (the adjacent-line
    // prefetcher), so publishers' RMWs never contend with the routers' loads
    // of `current`, nor with each other.
    //   routed: publishes that reached at least one bound queue.
    //   unroutable: publishes no binding matched (sent to the alternate or not).
    alignas(128) std::atomic<uint64_t> routed;
    uint8_t reserved5[120];
    alignas(128) std::atomic<uint64_t> unroutable;
    uint8_t reserved6[120];
    // Per-publisher routed counts: the total is routed + the sum of these.
    // Cell i belongs to whoever holds the OFD write lock of byte
    // kPublisherCountLockByte + i of the object (a Publisher, for its life;
    // the kernel drops it when its holder dies), so it has one writer at a
    // time and is bumped with a plain load and store, no RMW: the lock's
    // kernel handoff orders the last holder's stores before the next
    // holder's load. A cell is never reset, so each only grows, and an
    // observer's relaxed loads (coherence) never see a sum go down. A
    // publisher that finds every cell taken counts in `routed`.
    PublisherCount publisher_routed[kPublisherCounts];
    uint8_t reserved7[kPage - 768 - kPublisherCounts * 128];
};
static_assert(sizeof(ExchangeHeader) == kPage);
static_assert(offsetof(ExchangeHeader, type) == 32 && offsetof(ExchangeHeader, name) == 48);
static_assert(offsetof(ExchangeHeader, alternate) == 112);
static_assert(offsetof(ExchangeHeader, lifecycle) == 256, "its own cache line");
static_assert(offsetof(ExchangeHeader, current) == 320, "its own cache line, apart from lifecycle");
static_assert(offsetof(ExchangeHeader, routed) == 512 && offsetof(ExchangeHeader, routed) % 128 == 0,
              "its own pair of lines: publishers' RMWs apart from the routers' loads of current (320)");
static_assert(offsetof(ExchangeHeader, unroutable) == 640 && offsetof(ExchangeHeader, unroutable) % 128 == 0,
              "its own pair of lines, apart from routed");
static_assert(offsetof(ExchangeHeader, publisher_routed) == 768 && 768 + kPublisherCounts * 128 <= kPage,
              "a line pair each, after unroutable's");
static_assert(alignof(ExchangeHeader) == 128);
static_assert(std::atomic<uint64_t>::is_always_lock_free && sizeof(std::atomic<uint64_t>) == 8);

// Admins serialize on an OFD write lock of this byte of the object (the
// kernel drops it when its holder dies: no robust mutex to repair).
constexpr uint64_t kWriterLockByte = 0;
// publisher_routed[i] is owned through an OFD write lock of byte
// kPublisherCountLockByte + i.
constexpr uint64_t kPublisherCountLockByte = 1;

constexpr std::size_t round_to_page(std::size_t n) { return (n + kPage - 1) / kPage * kPage; }
constexpr std::size_t kBufferOffset[2] = {kPage, kPage + round_to_page(sizeof(TableBuffer))};
constexpr std::size_t kExchangeBytes = kBufferOffset[1] + round_to_page(sizeof(TableBuffer));
static_assert(kBufferOffset[0] % kPage == 0 && kBufferOffset[1] % kPage == 0);

}  // namespace shmq::xlayout
