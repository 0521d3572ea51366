//===- ModelFlags.h - The model and runtime flags moela-run and -serve share
//-===//
#ifndef MOELA_TOOLS_RUN_MODELFLAGS_H
#define MOELA_TOOLS_RUN_MODELFLAGS_H

#include "run/PlanFromCheckpoint.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace moela {
class Tokenizer;
struct ModelConfig;
} // namespace moela

namespace moela::runtool {

/// What to run and where: the plan (or a checkpoint folder), the weights, the
/// tokenizer, the backend and the context.
struct ModelFlags {
  std::string plan, weights, tokenizer, chatTemplate, backend = "auto";
  bool randomWeights = false;
  uint64_t weightsSeed = 0;
  int maxSeqLen = 0, threads = 0;
  int kvPages = 0; // 0: every sequence run at once gets its whole context
  CheckpointCompileFlags compile; // when `plan` is a checkpoint folder
};

/// The plan argument, the checkpoint-compile flags and the "Model" group
/// (--weights, --random-weights, --weights-seed, --tokenizer,
/// --chat-template).
void addModelFlags(CLI::App &app, ModelFlags &flags);
/// The "Runtime" group: --backend, --max-seq-len, --kv-pages, --threads.
void addRuntimeFlags(CLI::App &app, ModelFlags &flags);

/// --tokenizer, else one next to the weights, else the DeepSeek-V3
/// tokenizer bundled with moela when the vocabulary fits; with
/// --chat-template's file as its chat template.
std::unique_ptr<Tokenizer> openTokenizer(const ModelFlags &flags,
                                         const ModelConfig &config);
/// --max-seq-len, else min(4096, the model's max_position_embeddings);
/// Error beyond the model's.
int contextLength(const ModelFlags &flags, const ModelConfig &config);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_MODELFLAGS_H
