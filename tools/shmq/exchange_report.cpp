// One exchange as `shmq exchange ls` and `shmq stat` show it (cmd_exchange.cpp, cmd_stat.cpp).
#include "exchange_report.hpp"

#include "exchange_args.hpp"
#include "format.hpp"

namespace shmq::cli {

namespace {

Json headers_json(const std::vector<detail::HeaderKV>& headers) {
    Json out = Json::array();
    for (const auto& h : headers) {
        Json kv;
        put_bytes(kv, "key", h.key);
        put_bytes(kv, "value", h.value);
        out.push_back(std::move(kv));
    }
    return out;
}

std::string headers_text(const detail::Binding& b) {
    std::string s = std::string("match ") + match_name(b.match);
    for (const auto& h : b.headers) s += " " + h.key + "=" + h.value;
    return s;
}

bool destination_live(const detail::Binding& b) {
    if (b.kind == xlayout::DestKind::queue) return detail::queue_is_live(b.dest);
    try {
        const auto t = detail::ExchangeTable::open_if_finished(b.dest);
        return t && !t->deleted();
    } catch (const Error&) {
        return false;
    }
}

}  // namespace

Json describe_exchange(const std::string& name, std::string& text) {
    Json x;
    put_bytes(x, "name", name);
    detail::TableSnapshot snap;
    std::shared_ptr<detail::ExchangeTable> t;
    std::string why;
    try {
        t = detail::ExchangeTable::open_if_finished(name);
        if (!t) {  // its creator has not published it (yet): listed, never waited for
            x["state"] = "creating";
            text += "exchange " + printable(name) + ": creating (or abandoned by its creator: " +
                    "`shmq exchange delete " + printable(name) + "`)\n";
            return x;
        }
        if (t->snapshot(snap, &why) != Errc::ok) throw Error(Errc::region_corrupt, why);
    } catch (const Error& e) {
        x["state"] = "unreadable";
        put_bytes(x, "error", e.what());
        text += "exchange " + printable(name) + ": unreadable: " + printable(e.what()) + "\n";
        return x;
    }
    const auto counters = t->counters_guess();
    x["state"] = t->deleted() ? "deleted" : "live";
    x["type"] = detail::to_string(t->type());
    put_bytes(x, "alternate", t->alternate());
    x["version"] = snap.version;
    x["routed"] = counters.routed;
    x["unroutable"] = counters.unroutable;
    x["bindings"] = Json::array();
    std::size_t to_deleted = 0;
    Table rows({"DESTINATION", "KIND", "KEY", "HEADERS", "STATE"});
    for (const auto& b : snap.bindings) {
        const bool live = destination_live(b);
        if (!live) ++to_deleted;
        Json j;
        put_bytes(j, "destination", b.dest);
        j["destination_kind"] = dest_kind_name(b.kind);
        put_bytes(j, "key", b.key);
        j["match"] = match_name(b.match);
        j["headers"] = headers_json(b.headers);
        j["live"] = live;
        x["bindings"].push_back(std::move(j));
        rows.add({b.dest, dest_kind_name(b.kind), b.key.empty() ? "-" : b.key,
                  b.match == xlayout::HeaderMatch::none ? "-" : headers_text(b), live ? "live" : "deleted"});
    }
    x["bindings_to_deleted"] = to_deleted;
    text += "exchange " + printable(name) + " (" + detail::to_string(t->type()) +
            (t->alternate().empty() ? "" : ", alternate " + printable(t->alternate())) + ", version " +
            std::to_string(snap.version) + "): routed " + std::to_string(counters.routed) + ", unroutable " +
            std::to_string(counters.unroutable) + ", " + std::to_string(snap.bindings.size()) +
            " binding(s), " + std::to_string(to_deleted) + " to deleted destinations\n";
    text += rows.empty() ? "  no bindings\n" : rows.render("  ");
    return x;
}

}  // namespace shmq::cli
