// One exchange as the tool shows it: its state, type, alternate, table
// version, routed and unroutable counts, and its bindings with each
// destination live or deleted (JSON as docs/schema/exchange_ls.schema.json's
// items). Read without locks: a consistent version of the table.
#pragma once

#include <string>

#include "json.hpp"

namespace shmq::cli {

// The JSON object of exchange `name`; its text lines are appended to `text`.
// An exchange being created or unreadable is described as such, never thrown.
Json describe_exchange(const std::string& name, std::string& text);

}  // namespace shmq::cli
