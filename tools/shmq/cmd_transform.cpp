// shmq transform IN --group G [--kind exclusive|shared] --to OUT [--batch N]
//   -- COMMAND [ARGS...]: each message of IN through COMMAND as one line, its
//   answer line to OUT, input ACKs and outputs committed together.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "transform/transform.hpp"

namespace shmq::cli {

void register_transform(CLI::App& app) {
    struct Args {
        std::string in, group, to, kind = "exclusive";
        uint32_t batch = 64;
        std::vector<std::string> command;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "transform", "Pipe each message of a queue through a command into another queue, exactly once");
    cmd->add_option("IN", args->in, "Input queue");
    cmd->add_option("--group", args->group, "Consumer group of IN (created on first use)");
    cmd->add_option("--kind", args->kind, "Group kind when it is created: exclusive (ordered per partition) or shared")
        ->default_val("exclusive");
    cmd->add_option("--to", args->to, "Output queue");
    cmd->add_option("--batch", args->batch, "Inputs per transaction, at most")->default_val(64);
    cmd->add_option("COMMAND", args->command, "The filter and its arguments, after --");
    cmd->footer(
        "Runs COMMAND once and writes each message's payload to its standard input as one line;\n"
        "COMMAND answers each line with exactly one line: empty for no output, otherwise the\n"
        "payload sent to OUT with the input's key. Input ACKs and outputs are committed together\n"
        "(a transaction) every --batch inputs, or once no further input came within 2 ms: every\n"
        "input ends up either ACKed with its output in OUT or still in IN, never both. A payload\n"
        "with a newline is NACKed (to the DLQ after max-deliveries). COMMAND must not buffer its\n"
        "output (cat, sed -u, stdbuf -oL ..., a shell `while read` loop).\n"
        "SIGINT/SIGTERM: commit the batch under way, end COMMAND's input, exit 0. COMMAND exiting,\n"
        "or closing its output, ends transform with exit 1; the open transaction is aborted.\n\n"
        "Examples:\n"
        "  shmq transform orders --group upper --to orders-upper -- sed -u 's/.*/\\U&/'\n"
        "  shmq transform raw --group parse --to parsed --batch 256 -- ./parse-lines");
    cmd->callback([args] {
        if (args->in.empty()) throw CommandError(2, "transform: IN (the input queue) is missing");
        if (args->group.empty()) throw CommandError(2, "transform: --group is required (the consumer group of IN)");
        if (args->to.empty()) throw CommandError(2, "transform: --to is required (the output queue)");
        if (args->command.empty())
            throw CommandError(2, "transform: no COMMAND; give it after --, e.g. `-- sed -u s/a/b/`");
        if (args->batch == 0) throw CommandError(2, "transform: --batch must be at least 1");
        transform::Config config;
        if (args->kind == "exclusive") config.kind = GroupKind::exclusive;
        else if (args->kind == "shared") config.kind = GroupKind::shared;
        else throw CommandError(2, "--kind '" + args->kind + "' is unknown; use exclusive or shared");
        config.in = args->in;
        config.group = args->group;
        config.to = args->to;
        config.batch = args->batch;
        config.command = args->command;
        transform::run(config);
    });
}

}  // namespace shmq::cli
