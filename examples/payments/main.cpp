// payments: "charge Evan $50" exactly once. See README.md beside this file.
//   payments [run] [options]                  the demo (orchestrator.cpp)
//   payments checkout|charger|receipts ...    its stages, started by the orchestrator
#include <cstdio>
#include <exception>
#include <string_view>

#include "roles.hpp"

int main(int argc, char** argv) {
    const std::string_view arg = argc > 1 ? std::string_view(argv[1]) : std::string_view();
    const bool stage = arg == "checkout" || arg == "charger" || arg == "receipts";
    const std::string_view role = stage ? arg : std::string_view("run");
    try {
        if (role == "checkout") return payments::run_checkout(argc, argv, 2);
        if (role == "charger") return payments::run_charger(argc, argv, 2);
        if (role == "receipts") return payments::run_receipts(argc, argv, 2);
        return payments::run_orchestrator(argc, argv, arg == "run" ? 2 : 1);  // "run" may be left out
    } catch (const std::exception& e) {
        std::fprintf(stderr, "payments %.*s: %s\n", static_cast<int>(role.size()), role.data(), e.what());
    }
    return 2;
}
