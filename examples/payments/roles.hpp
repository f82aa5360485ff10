// The roles of the one binary: `payments [run]` is the orchestrator; it
// starts itself as `payments checkout|charger|receipts ...`. Each returns the
// process's exit status and throws std::runtime_error (one line) on a problem.
#pragma once

namespace payments {

int run_orchestrator(int argc, char** argv, int first);  // orchestrator.cpp
int run_checkout(int argc, char** argv, int first);      // checkout.cpp
int run_charger(int argc, char** argv, int first);       // charger.cpp
int run_receipts(int argc, char** argv, int first);      // receipts.cpp

}  // namespace payments
