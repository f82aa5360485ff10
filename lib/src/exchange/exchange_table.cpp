// An exchange's table: lock-free snapshots, and bind/unbind under the
// writer lock (the protocol and its cases: exchange_table.hpp).
#include <algorithm>
#include <cstring>

#include "bindings.hpp"
#include "exchange_common.hpp"
#include "shmq/internal/crash_points.hpp"
#include "shmq/internal/exchange_table.hpp"
#include "writer_locks.hpp"

namespace shmq::detail {

namespace xl = xlayout;
using namespace exchange;

namespace {
constexpr int kMaxReadAttempts = 100000;
}  // namespace

Errc ExchangeTable::snapshot(TableSnapshot& out, std::string* why) const {
    auto corrupt = [&](const std::string& what) {
        if (why) *why = where(name_) + ": " + what + fix(name_);
        return Errc::region_corrupt;
    };
    std::vector<uint64_t> words;
    for (int attempt = 0; attempt < kMaxReadAttempts; ++attempt) {
        const uint64_t c = header().current.load(kAcquire);  // R1: pairs with W5
        const uint64_t v = c >> 1;
        if (v == 0 || v >= xl::kMaxVersion) return corrupt("its current version " + std::to_string(v) + " is impossible");
        const auto& buf = buffer(c & 1);
        const uint64_t s1 = buf.stamp.load(kRelaxed);  // R2: ordered after R1 by its acquire
        if (s1 != 2 * v) {
            if (header().current.load(kAcquire) == c)  // case (2), nobody writes buffer i
                return corrupt("the buffer of version " + std::to_string(v) + " says it holds stamp " + std::to_string(s1));
            continue;  // case (2): reused by a later version
        }
        // R3: the head words, then as many entries as the (untrusted) count says, at most kMaxBindings.
        words.resize(xl::kImageHeadWords);
        for (std::size_t w = 0; w < xl::kImageHeadWords; ++w) words[w] = buf.words[w].load(kAcquire);
        const uint64_t count_word = words[offsetof(xl::TableImage, binding_count) / 8];
        uint32_t count = 0;
        std::memcpy(&count, &count_word, sizeof count);  // the word's first 4 bytes: binding_count
        const uint32_t readable = std::min(count, xl::kMaxBindings);
        words.resize(xl::kImageHeadWords + std::size_t{readable} * xl::kBindingWords);
        for (std::size_t w = xl::kImageHeadWords; w < words.size(); ++w) words[w] = buf.words[w].load(kAcquire);
        if (buf.stamp.load(kRelaxed) != s1) continue;  // R4 (after every R3 acquire): case (3)
        // case (1): a consistent copy of version v; now check it, as any bytes from shared memory.
        const uint64_t version = words[0];
        if (version != v) return corrupt("its table says version " + std::to_string(version) + ", not " + std::to_string(v));
        if (count > xl::kMaxBindings)
            return corrupt("its table claims " + std::to_string(count) + " bindings, more than " +
                           std::to_string(xl::kMaxBindings));
        out.version = v;
        out.bindings.resize(readable);
        for (uint32_t i = 0; i < readable; ++i) {
            xl::BindingEntry e;
            std::memcpy(&e, words.data() + xl::kImageHeadWords + std::size_t{i} * xl::kBindingWords, sizeof e);
            if (auto err = decode_binding(type_, e, out.bindings[i]))
                return corrupt("binding " + std::to_string(i) + " is bad (" + *err + ")");
        }
        return Errc::ok;
    }
    if (why) *why = where(name_) + " changed " + std::to_string(kMaxReadAttempts) + " times while being read; try again";
    return Errc::timeout;
}

TableSnapshot ExchangeTable::locked_snapshot() const {
    TableSnapshot s;
    std::string why;
    // Under the writer lock nothing changes the table: only case (1) or corruption.
    if (snapshot(s, &why) != Errc::ok) fail(Errc::region_corrupt, why);
    return s;
}

uint64_t ExchangeTable::publish(const TableSnapshot& from, const std::vector<Binding>& bindings) {
    const uint64_t v = from.version;
    const uint64_t i = header().current.load(kRelaxed) & 1;  // W1: we hold the lock, it is ours to change
    const uint64_t j = 1 - i;
    const uint64_t nv = v + 1;
    if (nv >= xl::kMaxVersion) fail(Errc::no_resources, where(name_) + " has run out of versions" + fix(name_));
    auto image = std::make_unique<xl::TableImage>();
    std::memset(image.get(), 0, sizeof *image);
    image->version = nv;
    image->binding_count = static_cast<uint32_t>(bindings.size());
    for (std::size_t b = 0; b < bindings.size(); ++b) encode_binding(bindings[b], image->bindings[b]);
    auto& buf = buffer(j);
    buf.stamp.store(2 * v + 1, kRelaxed);  // W2: odd, being written
    const std::size_t n = xl::kImageHeadWords + bindings.size() * xl::kBindingWords;
    const auto* src = reinterpret_cast<const uint64_t*>(image.get());
    for (std::size_t w = 0; w < n; ++w) {
        buf.words[w].store(src[w], kRelease);  // W3: after W2, for a reader that sees it (case (1))
        if (w == n / 2) crash_point(CrashPoint::after_exchange_half_write);
    }
    buf.stamp.store(2 * nv, kRelease);  // W4: buffer j holds nv
    header().current.store((nv << 1) | j, kRelease);  // W5: publishes W3/W4 to routers (R1)
    return nv;
}

BindOutcome ExchangeTable::bind(const Binding& b) {
    if (!writable_) fail(Errc::invalid_argument, "exchange '" + name_ + "' was opened read-only");
    if (auto err = check_binding(type_, b)) fail(Errc::invalid_argument, *err);
    std::optional<GraphLock> graph;
    if (b.kind == xl::DestKind::exchange) {
        if (b.dest == name_)
            fail(Errc::invalid_argument, "cannot bind exchange '" + name_ + "' to itself: that is a cycle");
        graph.emplace();  // before the writer lock, always in this order
        if (!exists(b.dest))
            fail(Errc::not_found, "no exchange named '" + b.dest + "'; create it with `shmq exchange create " + b.dest +
                                      " --type ...` first");
    } else if (!Queue::exists(b.dest)) {
        fail(Errc::not_found, "no queue named '" + b.dest + "'; create it with `shmq create " + b.dest + "` first");
    }
    WriterLock lock(fd_, where(name_));
    if (deleted()) fail(Errc::not_found, "exchange '" + name_ + "' was deleted");
    TableSnapshot cur = locked_snapshot();
    if (std::find(cur.bindings.begin(), cur.bindings.end(), b) != cur.bindings.end()) return {false, cur.version};
    if (cur.bindings.size() >= xl::kMaxBindings)
        fail(Errc::no_resources, "exchange '" + name_ + "' already has " + std::to_string(xl::kMaxBindings) +
                                     " bindings, the most it can hold; unbind some first");
    if (b.kind == xl::DestKind::exchange) {
        // Would name_ be reachable from b.dest? Walk exchange bindings by name
        // (a missing exchange has none). Stable: every edge insertion holds the graph lock.
        std::vector<std::pair<std::string, std::string>> seen{{b.dest, name_}};  // (exchange, reached from)
        for (std::size_t k = 0; k < seen.size(); ++k) {
            const std::string at = seen[k].first;
            std::shared_ptr<ExchangeTable> t;
            try {
                t = open(at, false);
            } catch (const Error&) {
                continue;
            }
            TableSnapshot s;
            if (t->snapshot(s) != Errc::ok) continue;
            for (const auto& e : s.bindings) {
                if (e.kind != xl::DestKind::exchange) continue;
                if (e.dest == name_) {
                    std::string path = name_ + " -> " + at;
                    for (std::string back = at; back != b.dest;) {
                        auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == back; });
                        back = it->second;
                        path.insert(path.find(" -> ") + 4, back + " -> ");
                    }
                    fail(Errc::invalid_argument, "binding exchange '" + name_ + "' to exchange '" + b.dest +
                                                     "' would create a cycle (" + path + " -> " + name_ +
                                                     "); unbind one of those first");
                }
                if (std::none_of(seen.begin(), seen.end(), [&](const auto& p) { return p.first == e.dest; }))
                    seen.emplace_back(e.dest, at);
            }
        }
    }
    cur.bindings.push_back(b);
    std::vector<Binding> next = std::move(cur.bindings);
    return {true, publish(cur, next)};
}

uint64_t ExchangeTable::unbind(xl::DestKind kind, std::string_view dest, std::string_view key) {
    if (!writable_) fail(Errc::invalid_argument, "exchange '" + name_ + "' was opened read-only");
    WriterLock lock(fd_, where(name_));
    if (deleted()) fail(Errc::not_found, "exchange '" + name_ + "' was deleted");
    TableSnapshot cur = locked_snapshot();
    std::vector<Binding> next;
    for (auto& b : cur.bindings)
        if (!(b.kind == kind && b.dest == dest && b.key == key)) next.push_back(b);
    if (next.size() == cur.bindings.size())
        fail(Errc::not_found, "exchange '" + name_ + "' has no binding to " +
                                  (kind == xl::DestKind::exchange ? "exchange '" : "queue '") + std::string(dest) +
                                  "' with key '" + std::string(key) + "'; see `shmq exchange ls`");
    return publish(cur, next);
}

}  // namespace shmq::detail
