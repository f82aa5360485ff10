#include "exchange_args.hpp"

#include "command.hpp"

namespace shmq::cli {

std::vector<detail::HeaderKV> parse_header_args(const std::vector<std::string>& args) {
    std::vector<detail::HeaderKV> out;
    for (const auto& a : args) {
        const auto eq = a.find('=');
        if (eq == std::string::npos || eq == 0)
            throw CommandError(2, "--header '" + a + "' is not KEY=VALUE (e.g. --header format=pdf)");
        out.push_back({a.substr(0, eq), a.substr(eq + 1)});
    }
    return out;
}

xlayout::HeaderMatch parse_match_arg(const std::string& text) {
    if (text == "all") return xlayout::HeaderMatch::all;
    if (text == "any") return xlayout::HeaderMatch::any;
    throw CommandError(2, "--match '" + text + "' is unknown; use all or any");
}

const char* match_name(xlayout::HeaderMatch m) noexcept {
    switch (m) {
        case xlayout::HeaderMatch::all: return "all";
        case xlayout::HeaderMatch::any: return "any";
        case xlayout::HeaderMatch::none: return "";
    }
    return "";
}

const char* dest_kind_name(xlayout::DestKind k) noexcept {
    return k == xlayout::DestKind::exchange ? "exchange" : "queue";
}

std::shared_ptr<detail::ExchangeTable> open_exchange(const std::string& name, bool writable) {
    try {
        return detail::ExchangeTable::open(name, writable);
    } catch (const Error& e) {
        throw CommandError(1, e.what());
    }
}

}  // namespace shmq::cli
