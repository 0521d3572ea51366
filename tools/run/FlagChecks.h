//===- FlagChecks.h - Sampling defaults and flags without effect ----------===//
#ifndef MOELA_TOOLS_RUN_FLAGCHECKS_H
#define MOELA_TOOLS_RUN_FLAGCHECKS_H

#include <CLI/CLI.hpp>

#include <string>

namespace moela::runtool {

/// moela-run's flags after parsing. First the sampling flags the user did not
/// give come from generation_config.json next to --weights (temperature,
/// top_p, top_k; do_sample false means greedy), with a note on stderr. Then
/// a flag that would have no effect is an error when it is surely a mistake
/// (--json without --dump-plan, --max-seq-len 0, an empty --prompt, ...) and
/// a one-line warning otherwise (--top-k at temperature 0, --system without
/// --chat, ...). `lead`: this process prints (rank 0).
/// Reads generation_config.json beside the checkpoint into the sampling
/// flags not given (--temperature, --top-k, --top-p); returns what it set
/// ("temperature 0.6, top_p 0.95 (from ...)"), or "".
std::string applyGenerationConfig(const CLI::App &app,
                                  const std::string &weights,
                                  float &temperature, int &topK, float &topP);

void settleFlags(const CLI::App &app, const std::string &weights,
                 float &temperature, int &topK, float &topP, bool lead);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_FLAGCHECKS_H
